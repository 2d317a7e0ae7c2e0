using Trapeze.Core.Cpu;
using Trapeze.Machine.Migration;

namespace Trapeze.Machine.Tests.Migration;

/// <summary>
/// Runs a machine's harts on threads of its own and moves only hart state and the clock: enough for a
/// bare-metal guest that uses no device, so the RAM transport is tested independently of device state.
/// Pausing stops the hart threads with <see cref="Hart.RequestStop"/>.
/// </summary>
public sealed unsafe class HartThreadsStateTransfer : IMachineStateTransfer
{
    private readonly Dictionary<VirtMachine, List<Thread>> _threads = [];

    /// <summary>Called on the destination after the state is restored and before it runs (tests compare RAM here).</summary>
    public Action<VirtMachine>? BeforeStart { get; init; }

    public void Start(VirtMachine machine)
    {
        BeforeStart?.Invoke(machine);
        var threads = new List<Thread>();
        foreach (Hart h in machine.Harts)
        {
            h.ClearStop();
            var t = new Thread(h.Run) { IsBackground = true, Name = $"hart{h.HartId}" };
            threads.Add(t);
            t.Start();
        }
        lock (_threads) _threads[machine] = threads;
    }

    public bool Pause(VirtMachine machine)
    {
        List<Thread>? threads;
        lock (_threads) _threads.Remove(machine, out threads);
        foreach (Hart h in machine.Harts) h.RequestStop();
        foreach (Thread t in threads ?? []) t.Join();
        machine.Clock.Pause();
        return threads != null;
    }

    public void Resume(VirtMachine machine)
    {
        machine.Clock.Resume();
        Start(machine);
    }

    public void SaveState(VirtMachine machine, Stream destination)
    {
        var w = new BinaryWriter(destination);
        w.Write(machine.Clock.Now);
        foreach (Hart h in machine.Harts) w.Write(new ReadOnlySpan<byte>(h.State, sizeof(HartState)));
        w.Flush();
    }

    public void RestoreState(VirtMachine machine, Stream source)
    {
        var r = new BinaryReader(source);
        machine.Clock.Set(r.ReadUInt64());
        foreach (Hart h in machine.Harts)
        {
            HartState saved;
            r.BaseStream.ReadExactly(new Span<byte>(&saved, sizeof(HartState)));
            // The TLBs are this machine's own native tables.
            saved.ReadTlb = h.State->ReadTlb;
            saved.WriteTlb = h.State->WriteTlb;
            saved.FetchTlb = h.State->FetchTlb;
            *h.State = saved;
            h.Mmu.FlushAll();
            h.Mmu.UpdateContext();
        }
        if (source.Position != source.Length) throw new InvalidDataException("trailing bytes in the hart state");
    }

    /// <summary>Stops every machine still running.</summary>
    public void StopAll()
    {
        VirtMachine[] machines;
        lock (_threads) machines = [.. _threads.Keys];
        foreach (var m in machines) _ = Pause(m);
    }
}
