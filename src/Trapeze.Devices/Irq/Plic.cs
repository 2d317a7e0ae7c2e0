using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;

namespace Trapeze.Devices.Irq;

/// <summary>
/// The platform-level interrupt controller (SiFive PLIC, <c>riscv,plic0</c>), laid out as on QEMU's virt
/// board: priorities at 0x0, pending bits at 0x1000, per-context enables at 0x2000 + 0x80·ctx, per-context
/// threshold and claim/complete at 0x200000 + 0x1000·ctx. Context 2h is hart h's M-mode, 2h+1 its S-mode.
/// Sources are level-triggered: each has a gateway that forwards one request at a time and forwards again
/// at completion while the level is still high. Only aligned 32-bit accesses are accepted; unimplemented
/// registers inside the window read as zero and ignore writes, as QEMU's does.
/// </summary>
public sealed class Plic : IMmioDevice, IIrqSink, IDeviceTreeNode
{
    /// <summary>QEMU 7.2 virt maps 0x600000 bytes: room for 1024 contexts, i.e. 512 harts.</summary>
    public const ulong WindowSize = 0x60_0000;
    public const int MaxHarts = 512;
    /// <summary>Sources 1..95, as QEMU virt (96 including the reserved source 0).</summary>
    public const int DefaultSourceCount = 95;
    public const int MaxSourceCount = 1023;
    /// <summary>3 priority bits (QEMU virt's VIRT_IRQCHIP_NUM_PRIO_BITS); priorities and thresholds are WARL.</summary>
    public const uint MaxPriority = 7;

    private const ulong PendingBase = 0x1000;
    private const ulong EnableBase = 0x2000;
    private const ulong EnableStride = 0x80;
    private const ulong ContextBase = 0x20_0000;
    private const ulong ContextStride = 0x1000;
    private const ulong ThresholdRegister = 0;
    private const ulong ClaimCompleteRegister = 4;
    private const int MachineExternalCause = 11;
    private const int SupervisorExternalCause = 9;

    private readonly object _lock = new();
    private readonly IHartPins[] _harts;
    private readonly int _sourceCount;
    private readonly int _words;
    private readonly int _contexts;
    private readonly uint[] _validMask;

    // Guest-visible state (PlicState in snapshots).
    private readonly uint[] _priority;   // [source], source 0 hard-wired to 0
    private readonly uint[] _pending;    // [word]
    private readonly uint[] _claimed;    // [word]: in service, gateway closed until completion
    private readonly uint[] _level;      // [word]: current input levels from the devices
    private readonly uint[] _enable;     // [context * words + word]
    private readonly uint[] _threshold;  // [context]
    private readonly bool[] _output;     // [context]: the level last driven to the hart

    /// <param name="harts">The harts' interrupt pins, indexed by hart id.</param>
    /// <param name="sourceCount">Number of interrupt sources (ids 1..sourceCount), the DT's riscv,ndev.</param>
    public Plic(IReadOnlyList<IHartPins> harts, int sourceCount = DefaultSourceCount, string name = "plic")
    {
        ArgumentNullException.ThrowIfNull(harts);
        if (harts.Count is < 1 or > MaxHarts) throw new ArgumentOutOfRangeException(nameof(harts), $"1 to {MaxHarts} harts.");
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sourceCount, MaxSourceCount);
        Name = name;
        _harts = [.. harts];
        _sourceCount = sourceCount;
        _words = (sourceCount + 1 + 31) / 32;
        _contexts = 2 * _harts.Length;
        _validMask = new uint[_words];
        for (int source = 1; source <= sourceCount; source++) _validMask[source >> 5] |= 1u << (source & 31);
        _priority = new uint[sourceCount + 1];
        _pending = new uint[_words];
        _claimed = new uint[_words];
        _level = new uint[_words];
        _enable = new uint[_contexts * _words];
        _threshold = new uint[_contexts];
        _output = new bool[_contexts];
        Reset();
    }

    public string Name { get; }

    public ulong Size => WindowSize;

    public int SourceCount => _sourceCount;

    public int HartCount => _harts.Length;

    /// <summary>The wire a device raises to request interrupt <paramref name="source"/>.</summary>
    public IrqLine Line(int source)
    {
        if (source < 1 || source > _sourceCount)
            throw new ArgumentOutOfRangeException(nameof(source), $"PLIC sources are 1..{_sourceCount}.");
        return new IrqLine(this, source);
    }

    /// <summary>Back to power-on state: priorities, enables, thresholds, pending and claims cleared.
    /// Input levels are the devices' and are kept; every hart's external-interrupt pins are driven.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            Array.Clear(_priority);
            Array.Clear(_claimed);
            Array.Clear(_enable);
            Array.Clear(_threshold);
            Array.Copy(_level, _pending, _words);
            for (int context = 0; context < _contexts; context++)
            {
                _output[context] = false;
                Drive(context, false);
            }
            UpdateOutputs();
        }
    }

    /// <summary>Captures the registers, gateways and input levels (the outputs follow from them).</summary>
    public PlicState SaveState()
    {
        lock (_lock)
        {
            return new PlicState(Copy(_priority), Copy(_pending), Copy(_claimed), Copy(_level), Copy(_enable), Copy(_threshold));
        }

        static ImmutableArray<uint> Copy(uint[] a) => ImmutableCollectionsMarshal.AsImmutableArray((uint[])a.Clone());
    }

    /// <summary>Puts the controller in a saved state and drives every hart's external-interrupt pins to match
    /// (unconditionally: the harts' pins were restored separately). Refuses a state of another shape.</summary>
    public void RestoreState(PlicState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Priority.Length != _priority.Length || state.Pending.Length != _words || state.Claimed.Length != _words
            || state.Level.Length != _words || state.Enable.Length != _enable.Length || state.Threshold.Length != _contexts)
            throw new ArgumentException($"{Name}: the saved state is for another number of sources or harts");
        lock (_lock)
        {
            state.Priority.CopyTo(_priority);
            state.Pending.CopyTo(_pending);
            state.Claimed.CopyTo(_claimed);
            state.Level.CopyTo(_level);
            state.Enable.CopyTo(_enable);
            state.Threshold.CopyTo(_threshold);
            // WARL fields and reserved bits: a state from elsewhere gets the values a guest could have written.
            _priority[0] = 0;
            for (int i = 1; i < _priority.Length; i++) _priority[i] &= MaxPriority;
            for (int i = 0; i < _threshold.Length; i++) _threshold[i] &= MaxPriority;
            for (int w = 0; w < _words; w++)
            {
                _pending[w] &= _validMask[w];
                _claimed[w] &= _validMask[w];
                _level[w] &= _validMask[w];
                for (int c = 0; c < _contexts; c++) _enable[c * _words + w] &= _validMask[w];
            }
            for (int context = 0; context < _contexts; context++)
            {
                _output[context] = Best(context) != 0;
                Drive(context, _output[context]);
            }
        }
    }

    public void SetIrqLevel(int source, bool level)
    {
        if (source < 1 || source > _sourceCount) return;
        int word = source >> 5;
        uint bit = 1u << (source & 31);
        lock (_lock)
        {
            if (((_level[word] & bit) != 0) == level) return;
            if (level)
            {
                _level[word] |= bit;
                if ((_claimed[word] & bit) == 0) _pending[word] |= bit;
            }
            else
            {
                // Level-triggered: a request withdrawn before it is claimed is no longer pending.
                _level[word] &= ~bit;
                _pending[word] &= ~bit;
            }
            UpdateOutputs();
        }
    }

    public bool Read(ulong offset, int size, out ulong value)
    {
        value = 0;
        if (!MmioAccess.IsValid(offset, size, 4, 4, WindowSize)) return false;
        lock (_lock)
        {
            value = ReadRegister(offset);
        }
        return true;
    }

    public bool Write(ulong offset, int size, ulong value)
    {
        if (!MmioAccess.IsValid(offset, size, 4, 4, WindowSize)) return false;
        lock (_lock)
        {
            WriteRegister(offset, (uint)value);
        }
        return true;
    }

    public void AddTo(FdtBuilder fdt, DeviceTreeContext context)
    {
        if (context.CpuInterruptControllers.Count < _harts.Length)
            throw new InvalidOperationException("The device-tree context has fewer CPU interrupt controllers than the PLIC has harts.");
        var interrupts = new uint[_harts.Length * 4];
        for (int hart = 0; hart < _harts.Length; hart++)
        {
            uint intc = context.CpuInterruptControllers[hart];
            interrupts[hart * 4 + 0] = intc;
            interrupts[hart * 4 + 1] = MachineExternalCause;
            interrupts[hart * 4 + 2] = intc;
            interrupts[hart * 4 + 3] = SupervisorExternalCause;
        }
        fdt.BeginNode($"plic@{context.UnitAddress}");
        fdt.PropertyU32("phandle", context.InterruptParent);
        fdt.PropertyU32("riscv,ndev", (uint)_sourceCount);
        fdt.PropertyCells("reg", context.BaseAddress, WindowSize);
        fdt.PropertyU32Array("interrupts-extended", interrupts);
        fdt.PropertyEmpty("interrupt-controller");
        fdt.PropertyStringList("compatible", "sifive,plic-1.0.0", "riscv,plic0");
        fdt.PropertyU32("#address-cells", 0);
        fdt.PropertyU32("#interrupt-cells", 1);
        fdt.EndNode();
    }

    private uint ReadRegister(ulong offset)
    {
        if (offset < PendingBase)
        {
            ulong source = offset >> 2;
            return source <= (ulong)_sourceCount ? _priority[source] : 0;
        }
        if (offset < EnableBase)
        {
            ulong word = (offset - PendingBase) >> 2;
            return word < (ulong)_words ? _pending[word] : 0;
        }
        if (offset < ContextBase)
        {
            ulong context = (offset - EnableBase) / EnableStride;
            ulong word = ((offset - EnableBase) % EnableStride) >> 2;
            if (context < (ulong)_contexts && word < (ulong)_words) return _enable[(int)context * _words + (int)word];
            return 0;
        }
        {
            ulong context = (offset - ContextBase) / ContextStride;
            ulong register = (offset - ContextBase) % ContextStride;
            if (context >= (ulong)_contexts) return 0;
            return register switch
            {
                ThresholdRegister => _threshold[context],
                ClaimCompleteRegister => Claim((int)context),
                _ => 0,
            };
        }
    }

    private void WriteRegister(ulong offset, uint value)
    {
        if (offset < PendingBase)
        {
            ulong source = offset >> 2;
            if (source == 0 || source > (ulong)_sourceCount) return;
            _priority[source] = value & MaxPriority;
            UpdateOutputs();
            return;
        }
        if (offset < EnableBase) return; // pending bits are read-only
        if (offset < ContextBase)
        {
            ulong context = (offset - EnableBase) / EnableStride;
            ulong word = ((offset - EnableBase) % EnableStride) >> 2;
            if (context >= (ulong)_contexts || word >= (ulong)_words) return;
            _enable[(int)context * _words + (int)word] = value & _validMask[word];
            UpdateOutputs();
            return;
        }
        {
            ulong context = (offset - ContextBase) / ContextStride;
            ulong register = (offset - ContextBase) % ContextStride;
            if (context >= (ulong)_contexts) return;
            if (register == ThresholdRegister)
            {
                _threshold[context] = value & MaxPriority;
                UpdateOutputs();
            }
            else if (register == ClaimCompleteRegister)
            {
                Complete(value);
            }
        }
    }

    /// <summary>PLIC spec: the claim returns the highest-priority pending enabled source above the
    /// context's threshold (ties to the lowest id), or 0, and clears its pending bit.</summary>
    private uint Claim(int context)
    {
        int source = Best(context);
        if (source != 0)
        {
            uint bit = 1u << (source & 31);
            _pending[source >> 5] &= ~bit;
            _claimed[source >> 5] |= bit;
            UpdateOutputs();
        }
        return (uint)source;
    }

    /// <summary>Completion reopens the source's gateway; if its level is still high it is pending again.
    /// Like QEMU, the completion is accepted whichever context writes it.</summary>
    private void Complete(uint source)
    {
        if (source == 0 || source > (uint)_sourceCount) return;
        int word = (int)(source >> 5);
        uint bit = 1u << (int)(source & 31);
        if ((_claimed[word] & bit) == 0) return;
        _claimed[word] &= ~bit;
        if ((_level[word] & bit) != 0) _pending[word] |= bit;
        UpdateOutputs();
    }

    private int Best(int context)
    {
        int best = 0;
        uint bestPriority = _threshold[context];
        int enableBase = context * _words;
        for (int word = 0; word < _words; word++)
        {
            uint candidates = _pending[word] & ~_claimed[word] & _enable[enableBase + word];
            while (candidates != 0)
            {
                int bitIndex = System.Numerics.BitOperations.TrailingZeroCount(candidates);
                candidates &= candidates - 1;
                int source = (word << 5) + bitIndex;
                uint priority = _priority[source];
                if (priority > bestPriority)
                {
                    best = source;
                    bestPriority = priority;
                }
            }
        }
        return best;
    }

    private void UpdateOutputs()
    {
        for (int context = 0; context < _contexts; context++)
        {
            bool level = Best(context) != 0;
            if (level == _output[context]) continue;
            _output[context] = level;
            Drive(context, level);
        }
    }

    private void Drive(int context, bool level)
    {
        IHartPins hart = _harts[context >> 1];
        if ((context & 1) == 0) hart.SetMachineExternalInterrupt(level);
        else hart.SetSupervisorExternalInterrupt(level);
    }
}

/// <summary>What a snapshot keeps of the PLIC. Arrays as in the device: <paramref name="Priority"/> by source
/// (0 included), the bit sets by 32-bit word, <paramref name="Enable"/> by context then word,
/// <paramref name="Threshold"/> by context (2h: hart h's M-mode, 2h+1: its S-mode).</summary>
public sealed record PlicState(ImmutableArray<uint> Priority, ImmutableArray<uint> Pending, ImmutableArray<uint> Claimed,
    ImmutableArray<uint> Level, ImmutableArray<uint> Enable, ImmutableArray<uint> Threshold);
