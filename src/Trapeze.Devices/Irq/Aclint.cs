using System.Collections.Immutable;
using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;

namespace Trapeze.Devices.Irq;

/// <summary>
/// The SiFive CLINT as QEMU's virt board builds it from ACLINT parts: an MSWI at 0x0 (one 32-bit
/// <c>msip</c> per hart, bit 0 only) and an MTIMER at 0x4000 (<c>mtimecmp</c> per hart at 0x4000 + 8·h,
/// <c>mtime</c> at 0xbff8). <c>msip</c> takes 32-bit accesses only; the timer registers take 32-bit
/// accesses (either half) or 64-bit ones. Timer interrupts are not raised here: the CLINT hands each
/// hart its <c>mtimecmp</c> and the hart compares it with the shared <see cref="MachineClock"/>.
/// </summary>
public sealed class Aclint : IMmioDevice, IDeviceTreeNode
{
    public const ulong WindowSize = 0x1_0000;
    public const ulong MswiBase = 0x0;
    public const ulong MtimerBase = 0x4000;
    /// <summary>Offset of mtimecmp[0] in the window.</summary>
    public const ulong MtimecmpBase = MtimerBase;
    /// <summary>Offset of mtime in the window.</summary>
    public const ulong MtimeOffset = MtimerBase + 0x7ff8;
    public const int MaxHarts = 4095;

    private const ulong MswiSize = 0x4000;
    private const ulong MtimerEnd = MtimerBase + 0x8000;
    private const int MachineSoftwareCause = 3;
    private const int MachineTimerCause = 7;

    private readonly object _lock = new();
    private readonly IHartPins[] _harts;
    private readonly MachineClock _clock;

    // Guest-visible state (AclintState in snapshots).
    private readonly bool[] _msip;
    private readonly ulong[] _mtimecmp;

    /// <param name="harts">The harts' interrupt pins, indexed by hart id.</param>
    /// <param name="clock">The board's timebase; <c>mtime</c> reads and writes go to it.</param>
    public Aclint(IReadOnlyList<IHartPins> harts, MachineClock clock, string name = "clint")
    {
        ArgumentNullException.ThrowIfNull(harts);
        ArgumentNullException.ThrowIfNull(clock);
        if (harts.Count is < 1 or > MaxHarts) throw new ArgumentOutOfRangeException(nameof(harts), $"1 to {MaxHarts} harts.");
        Name = name;
        _harts = [.. harts];
        _clock = clock;
        _msip = new bool[_harts.Length];
        _mtimecmp = new ulong[_harts.Length];
        Reset();
    }

    public string Name { get; }

    public ulong Size => WindowSize;

    /// <summary>Power-on state: msip clear and mtimecmp 0 (as QEMU) for every hart, pushed to the pins.
    /// The clock belongs to the board and is not touched.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            for (int hart = 0; hart < _harts.Length; hart++)
            {
                _msip[hart] = false;
                _mtimecmp[hart] = 0;
                _harts[hart].SetMachineSoftwareInterrupt(false);
                _harts[hart].SetMachineTimerCompare(0);
            }
        }
    }

    /// <summary>Captures msip and mtimecmp of every hart (mtime is the board clock's).</summary>
    public AclintState SaveState()
    {
        lock (_lock) return new AclintState([.. _msip], [.. _mtimecmp]);
    }

    /// <summary>Puts msip and mtimecmp back and hands them to the harts' pins.</summary>
    public void RestoreState(AclintState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Msip.Length != _harts.Length || state.Mtimecmp.Length != _harts.Length)
            throw new ArgumentException($"{Name}: the saved state is for {state.Msip.Length} harts, not {_harts.Length}");
        lock (_lock)
        {
            for (int hart = 0; hart < _harts.Length; hart++)
            {
                _msip[hart] = state.Msip[hart];
                _mtimecmp[hart] = state.Mtimecmp[hart];
                _harts[hart].SetMachineSoftwareInterrupt(_msip[hart]);
                _harts[hart].SetMachineTimerCompare(_mtimecmp[hart]);
            }
        }
    }

    public bool Read(ulong offset, int size, out ulong value)
    {
        value = 0;
        if (offset < MswiSize)
        {
            if (!MmioAccess.IsValid(offset, size, 4, 4, MswiSize)) return false;
            ulong hart = offset >> 2;
            lock (_lock)
            {
                if (hart < (ulong)_harts.Length) value = _msip[hart] ? 1UL : 0UL;
            }
            return true;
        }
        if (offset < MtimerEnd)
        {
            if (!MmioAccess.IsValid(offset, size, 4, 8, MtimerEnd)) return false;
            if (offset == MtimeOffset || offset == MtimeOffset + 4)
            {
                ulong now = _clock.Now;
                value = offset == MtimeOffset ? (size == 4 ? now & 0xffff_ffff : now) : now >> 32;
                return true;
            }
            ulong relative = offset - MtimecmpBase;
            ulong index = relative >> 3;
            lock (_lock)
            {
                if (index < (ulong)_harts.Length)
                {
                    ulong compare = _mtimecmp[index];
                    value = (relative & 7) == 0 ? (size == 4 ? compare & 0xffff_ffff : compare) : compare >> 32;
                }
            }
            return true;
        }
        return false;
    }

    public bool Write(ulong offset, int size, ulong value)
    {
        if (offset < MswiSize)
        {
            if (!MmioAccess.IsValid(offset, size, 4, 4, MswiSize)) return false;
            ulong hart = offset >> 2;
            lock (_lock)
            {
                if (hart < (ulong)_harts.Length)
                {
                    bool level = (value & 1) != 0;
                    _msip[hart] = level;
                    _harts[hart].SetMachineSoftwareInterrupt(level);
                }
            }
            return true;
        }
        if (offset < MtimerEnd)
        {
            if (!MmioAccess.IsValid(offset, size, 4, 8, MtimerEnd)) return false;
            if (offset == MtimeOffset || offset == MtimeOffset + 4)
            {
                WriteMtime(offset == MtimeOffset, size, value);
                return true;
            }
            ulong relative = offset - MtimecmpBase;
            ulong index = relative >> 3;
            lock (_lock)
            {
                if (index < (ulong)_harts.Length)
                {
                    ulong old = _mtimecmp[index];
                    ulong compare = (relative & 7) != 0
                        ? (value << 32) | (old & 0xffff_ffff)          // high half (32-bit access)
                        : size == 4
                            ? (old & 0xffff_ffff_0000_0000) | (value & 0xffff_ffff) // low half
                            : value;                                    // whole register
                    _mtimecmp[index] = compare;
                    _harts[index].SetMachineTimerCompare(compare);
                }
            }
            return true;
        }
        return false;
    }

    public void AddTo(FdtBuilder fdt, DeviceTreeContext context)
    {
        if (context.CpuInterruptControllers.Count < _harts.Length)
            throw new InvalidOperationException("The device-tree context has fewer CPU interrupt controllers than the CLINT has harts.");
        var interrupts = new uint[_harts.Length * 4];
        for (int hart = 0; hart < _harts.Length; hart++)
        {
            uint intc = context.CpuInterruptControllers[hart];
            interrupts[hart * 4 + 0] = intc;
            interrupts[hart * 4 + 1] = MachineSoftwareCause;
            interrupts[hart * 4 + 2] = intc;
            interrupts[hart * 4 + 3] = MachineTimerCause;
        }
        fdt.BeginNode($"clint@{context.UnitAddress}");
        fdt.PropertyU32Array("interrupts-extended", interrupts);
        fdt.PropertyCells("reg", context.BaseAddress, WindowSize);
        fdt.PropertyStringList("compatible", "sifive,clint0", "riscv,clint0");
        fdt.EndNode();
    }

    private void WriteMtime(bool low, int size, ulong value)
    {
        lock (_lock)
        {
            ulong now = _clock.Now;
            ulong next = low
                ? (size == 4 ? (now & 0xffff_ffff_0000_0000) | (value & 0xffff_ffff) : value)
                : (value << 32) | (now & 0xffff_ffff);
            _clock.Set(next);
            // mtime moved: hand every hart its compare value again so a hart asleep in WFI
            // re-evaluates its deadline against the new time.
            for (int hart = 0; hart < _harts.Length; hart++) _harts[hart].SetMachineTimerCompare(_mtimecmp[hart]);
        }
    }
}

/// <summary>What a snapshot keeps of the CLINT: msip and mtimecmp, by hart.</summary>
public sealed record AclintState(ImmutableArray<bool> Msip, ImmutableArray<ulong> Mtimecmp);
