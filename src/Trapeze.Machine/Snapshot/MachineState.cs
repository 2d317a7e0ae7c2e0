using System.Collections.Immutable;
using Trapeze.Core.Cpu;
using Trapeze.Devices.Irq;
using Trapeze.Devices.Rtc;
using Trapeze.Devices.Serial;
using Trapeze.Devices.Virtio;
using Trapeze.Machine.Sbi;

namespace Trapeze.Machine.Snapshot;

/// <summary>
/// Everything of a machine but its RAM, as the components' immutable State records (STYLE rule 8): what a
/// migration sends last, once RAM has gone over in rounds. <see cref="MachineSnapshot"/> encodes it; this type
/// captures and applies it. The SiFive test device keeps nothing (its last request is a diagnostic), and the
/// boot ROM is rebuilt from the configuration (a restored machine never runs it again before a reset, which
/// reloads everything).
/// </summary>
/// <param name="Virtio">By slot number; null for an empty slot.</param>
/// <param name="Sbi">The built-in SBI's state; null when firmware runs in M-mode.</param>
public sealed record MachineState(MachineClockState Clock, ImmutableArray<HartSavedState> Harts, PlicState Plic,
    AclintState Clint, Ns16550State Uart, GoldfishRtcState Rtc, BuiltinSbiState? Sbi, ImmutableArray<VirtioMmioState?> Virtio)
{
    /// <summary>Captures <paramref name="machine"/>, pausing it for the time it takes if it is running (it is
    /// resumed afterwards; a paused machine stays paused).</summary>
    public static MachineState Capture(VirtMachine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return machine.WhilePaused(() => CaptureHeld(machine));
    }

    /// <summary>Captures a machine already held still.</summary>
    internal static MachineState CaptureHeld(VirtMachine m)
    {
        var harts = new HartSavedState[m.Harts.Length];
        for (int i = 0; i < harts.Length; i++) harts[i] = m.Harts[i].SaveState();
        var virtio = new VirtioMmioState?[m.Virtio.Length];
        for (int i = 0; i < virtio.Length; i++) virtio[i] = m.Virtio[i].SaveState();
        return new MachineState(m.Clock.SaveState(), [.. harts], m.Plic.SaveState(), m.Clint.SaveState(), m.Uart.SaveState(),
            m.Rtc.SaveState(), m.Sbi?.SaveState(), [.. virtio]);
    }

    /// <summary>
    /// Puts <paramref name="machine"/> in this state (RAM aside), pausing it for the time it takes if needed.
    /// Works on a machine fresh from its constructor (not loaded): <see cref="VirtMachine.Run"/> then continues
    /// from this state. A state that does not fit the machine is refused with a <see cref="SnapshotException"/>
    /// before anything changes.
    /// </summary>
    public void ApplyTo(VirtMachine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        machine.WhilePaused(() =>
        {
            ApplyHeld(machine);
            return 0;
        });
    }

    /// <summary>Why this state cannot be applied to <paramref name="m"/>, as a SnapshotException; changes nothing.</summary>
    internal void Check(VirtMachine m)
    {
        try
        {
            if (Harts.Length != m.Harts.Length) throw new ArgumentException($"state of {Harts.Length} harts; the machine has {m.Harts.Length}");
            for (int i = 0; i < Harts.Length; i++)
                if (Hart.CheckSavedState(Harts[i]) is { } problem) throw new ArgumentException($"hart {i}: {problem}");
            if (Plic.Priority.Length != m.Plic.SourceCount + 1 || Plic.Threshold.Length != 2 * m.Harts.Length)
                throw new ArgumentException("PLIC state for another number of sources or harts");
            if (Clint.Msip.Length != m.Harts.Length || Clint.Mtimecmp.Length != m.Harts.Length)
                throw new ArgumentException("CLINT state for another number of harts");
            if (Uart.ReceiveFifo.Length > Ns16550.FifoDepth || Uart.Backlog.Length > m.Uart.BacklogCapacity)
                throw new ArgumentException("UART state with more buffered bytes than the UART holds");
            if ((Sbi == null) != (m.Sbi == null))
                throw new ArgumentException(Sbi == null ? "state without the built-in SBI's part" : "state with a built-in SBI part, but the machine runs firmware");
            if (Sbi != null)
            {
                if (Sbi.Harts.Length != m.Harts.Length) throw new ArgumentException("SBI state for another number of harts");
                for (int i = 0; i < Harts.Length; i++)
                {
                    HsmState s = Sbi.Harts[i];
                    if (s is not (HsmState.Started or HsmState.Stopped)) throw new ArgumentException($"hart {i}: HSM state {s} cannot be restored");
                    if ((s == HsmState.Stopped) != Harts[i].Parked) throw new ArgumentException($"hart {i}: HSM state {s} disagrees with the hart's");
                }
            }
            if (Virtio.Length != m.Virtio.Length) throw new ArgumentException($"state of {Virtio.Length} virtio slots; the board has {m.Virtio.Length}");
            for (int i = 0; i < Virtio.Length; i++)
            {
                m.Virtio[i].CheckState(Virtio[i]);
                if (Virtio[i]?.Device is Devices.Virtio.Console.VirtioConsoleState c && m.Virtio[i].Device is Devices.Virtio.Console.VirtioConsole console
                    && c.PendingInput.Length > console.BacklogCapacity)
                    throw new ArgumentException($"{m.Virtio[i].Name}: more pending input than the console holds");
            }
        }
        catch (ArgumentException e)
        {
            throw new SnapshotException($"snapshot does not fit this machine: {e.Message}", e);
        }
    }

    /// <summary>Applies to a machine already held still, after <see cref="Check"/>. The order matters: harts
    /// first, then the interrupt controllers (which drive the harts' pins), then the devices (which drive the
    /// controllers' lines).</summary>
    internal void ApplyHeld(VirtMachine m)
    {
        Check(m);
        try
        {
            m.Clock.RestoreState(Clock);
            for (int i = 0; i < Harts.Length; i++) m.Harts[i].RestoreState(Harts[i]);
            m.Plic.RestoreState(Plic);
            m.Clint.RestoreState(Clint);
            m.Uart.RestoreState(Uart);
            m.Rtc.RestoreState(Rtc);
            if (Sbi != null) m.Sbi!.RestoreState(Sbi);
            for (int i = 0; i < Virtio.Length; i++) m.Virtio[i].RestoreState(Virtio[i]);
        }
        catch (ArgumentException e)
        {
            // Check lets nothing through that a component refuses; if one does, say so plainly.
            throw new SnapshotException($"snapshot does not fit this machine: {e.Message}", e);
        }
    }
}
