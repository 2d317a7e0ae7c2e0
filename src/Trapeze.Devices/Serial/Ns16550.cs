using System.Collections.Immutable;
using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;
using Trapeze.Devices.Irq;

namespace Trapeze.Devices.Serial;

/// <summary>
/// NS16550A UART (reg-shift 0, reg-io-width 1) as on QEMU's virt board: eight byte registers, 16-byte
/// receive FIFO with trigger levels, the 16550 interrupt priority scheme, loopback, and an infinitely fast
/// transmitter (a byte written to THR goes to the output sink at once, so THRE and TEMT stay set).
/// Accesses of 1 to 8 bytes to the first 8 bytes of the window are accepted, as QEMU's serial-mm does
/// (a wider access reaches the register at its offset; only the low byte counts). Host input is pushed
/// by <see cref="TryEnqueueInput"/> or <see cref="EnqueueInput"/> into a bounded backlog that the device
/// drains into its FIFO as the guest reads, so nothing is dropped when the FIFO is full.
/// </summary>
public sealed class Ns16550 : IMmioDevice, IDeviceTreeNode
{
    public const ulong WindowSize = 0x100;
    public const int FifoDepth = 16;
    /// <summary>The <c>clock-frequency</c> QEMU virt advertises (0x384000).</summary>
    public const uint ClockFrequency = 3_686_400;
    public const int DefaultBacklogCapacity = 64 * 1024;

    private const ulong RegisterSpan = 8;

    private enum Register
    {
        Data = 0,           // RBR (read) / THR (write); DLL when LCR.DLAB
        InterruptEnable = 1, // IER; DLM when LCR.DLAB
        InterruptId = 2,    // IIR (read) / FCR (write)
        LineControl = 3,    // LCR
        ModemControl = 4,   // MCR
        LineStatus = 5,     // LSR
        ModemStatus = 6,    // MSR
        Scratch = 7,        // SCR
    }

    private const byte IerReceivedData = 0x01;
    private const byte IerTransmitterEmpty = 0x02;
    private const byte IerLineStatus = 0x04;
    private const byte IerModemStatus = 0x08;
    private const byte IerMask = 0x0f;

    private const byte IirNoInterrupt = 0x01;
    private const byte IirModemStatus = 0x00;
    private const byte IirTransmitterEmpty = 0x02;
    private const byte IirReceivedData = 0x04;
    private const byte IirLineStatus = 0x06;
    private const byte IirCharacterTimeout = 0x0c;
    private const byte IirFifosEnabled = 0xc0;

    private const byte FcrEnable = 0x01;
    private const byte FcrClearReceive = 0x02;
    private const byte FcrStickyMask = 0xc9; // enable, DMA mode, trigger level

    private const byte LcrDivisorLatch = 0x80;

    private const byte McrDtr = 0x01;
    private const byte McrRts = 0x02;
    private const byte McrOut1 = 0x04;
    private const byte McrOut2 = 0x08;
    private const byte McrLoopback = 0x10;
    private const byte McrMask = 0x1f;

    private const byte LsrDataReady = 0x01;
    private const byte LsrOverrun = 0x02;
    private const byte LsrBreak = 0x10;
    private const byte LsrTransmitterHoldingEmpty = 0x20;
    private const byte LsrTransmitterEmpty = 0x40;
    private const byte LsrInterruptSources = 0x1e; // OE, PE, FE, BI

    private const byte MsrCts = 0x10;
    private const byte MsrDsr = 0x20;
    private const byte MsrRi = 0x40;
    private const byte MsrDcd = 0x80;
    private const byte MsrDeltas = 0x0f;

    private readonly object _lock = new();
    private readonly IrqLine _irq;
    private readonly Action<byte> _output;

    // Guest-visible state (Ns16550State in snapshots).
    private byte _ier;
    private byte _fcr;
    private byte _lcr;
    private byte _mcr;
    private byte _lsrErrors; // the sticky LSR bits: overrun, break
    private byte _msr;
    private byte _scr;
    private ushort _divisor;
    private bool _transmitterEmptyPending; // the THRE interrupt condition, cleared by IIR read / THR write
    private readonly byte[] _rxFifo = new byte[FifoDepth];
    private int _rxHead;
    private int _rxCount;
    private bool _irqLevel;

    // Host side: bytes received but not yet in the FIFO.
    private readonly byte[] _backlog;
    private int _backlogHead;
    private int _backlogCount;

    /// <param name="irq">The interrupt line (PLIC source 10 on virt).</param>
    /// <param name="output">Receives each transmitted byte, on the thread of the hart that wrote THR,
    /// under the device lock: it must not block for long, must not throw, and must not call back into
    /// this device.</param>
    /// <param name="backlogCapacity">Host-side input bytes held while the guest is not reading.</param>
    public Ns16550(IrqLine irq, Action<byte> output, int backlogCapacity = DefaultBacklogCapacity, string name = "uart0")
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(backlogCapacity, 1);
        _irq = irq;
        _output = output;
        _backlog = new byte[backlogCapacity];
        Name = name;
        Reset();
    }

    public string Name { get; }

    public ulong Size => WindowSize;

    public IrqLine Irq => _irq;

    /// <summary>Host input bytes the backlog can hold.</summary>
    public int BacklogCapacity => _backlog.Length;

    /// <summary>Host bytes waiting to enter the receive FIFO.</summary>
    public int BacklogCount
    {
        get { lock (_lock) return _backlogCount; }
    }

    /// <summary>Power-on state as QEMU's: 9600 8N1 divisor, OUT2 set, FIFOs off and empty, no
    /// interrupts. The host backlog is kept.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _ier = 0;
            _fcr = 0;
            _lcr = 0;
            _mcr = McrOut2;
            _lsrErrors = 0;
            _msr = MsrDcd | MsrDsr | MsrCts;
            _scr = 0;
            _divisor = 0x0c;
            _transmitterEmptyPending = false;
            _rxHead = 0;
            _rxCount = 0;
            Refill();
            _irqLevel = InterruptId() != IirNoInterrupt;
            _irq.Set(_irqLevel);
        }
    }

    /// <summary>Captures the registers, the receive FIFO and the host input not yet in it.</summary>
    public Ns16550State SaveState()
    {
        lock (_lock)
        {
            var fifo = new byte[_rxCount];
            for (int i = 0; i < fifo.Length; i++) fifo[i] = _rxFifo[(_rxHead + i) % FifoDepth];
            var backlog = new byte[_backlogCount];
            for (int i = 0; i < backlog.Length; i++) backlog[i] = _backlog[(_backlogHead + i) % _backlog.Length];
            return new Ns16550State(_ier, _fcr, _lcr, _mcr, _lsrErrors, _msr, _scr, _divisor, _transmitterEmptyPending,
                [.. fifo], [.. backlog]);
        }
    }

    /// <summary>Puts the UART in a saved state and drives its interrupt line to match. Register values are
    /// masked as guest writes would be; a FIFO or backlog larger than this device's is refused.</summary>
    public void RestoreState(Ns16550State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.ReceiveFifo.Length > FifoDepth)
            throw new ArgumentException($"{Name}: a receive FIFO of {state.ReceiveFifo.Length} bytes (at most {FifoDepth})");
        if (state.Backlog.Length > _backlog.Length)
            throw new ArgumentException($"{Name}: {state.Backlog.Length} bytes of pending input (room for {_backlog.Length})");
        lock (_lock)
        {
            _ier = (byte)(state.Ier & IerMask);
            _fcr = (byte)(state.Fcr & FcrStickyMask);
            _lcr = state.Lcr;
            _mcr = (byte)(state.Mcr & McrMask);
            _lsrErrors = (byte)(state.LsrErrors & (LsrOverrun | LsrBreak));
            _msr = state.Msr;
            _scr = state.Scr;
            _divisor = state.Divisor;
            _transmitterEmptyPending = state.TransmitterEmptyPending;
            _rxHead = 0;
            _rxCount = state.ReceiveFifo.Length;
            state.ReceiveFifo.CopyTo(_rxFifo);
            _backlogHead = 0;
            _backlogCount = state.Backlog.Length;
            state.Backlog.CopyTo(_backlog);
            _irqLevel = InterruptId() != IirNoInterrupt;
            _irq.Set(_irqLevel);
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Queues host input without blocking; returns how many bytes were taken (fewer than
    /// offered when the backlog is full). Callable from any thread.</summary>
    public int TryEnqueueInput(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            int taken = Math.Min(data.Length, _backlog.Length - _backlogCount);
            for (int i = 0; i < taken; i++)
            {
                _backlog[(_backlogHead + _backlogCount) % _backlog.Length] = data[i];
                _backlogCount++;
            }
            if (taken > 0)
            {
                Refill();
                UpdateIrq();
            }
            return taken;
        }
    }

    /// <summary>A break condition on the line: one NUL character received with LSR.BI set, as a 16550
    /// reports a break (the NUL stands for the all-zero frame). Linux's 8250 driver takes a break on its
    /// console followed by a key as a magic SysRq request. Only done with nothing else waiting to be read,
    /// so the break lands between characters; returns whether it was.</summary>
    public bool TrySendBreak()
    {
        lock (_lock)
        {
            if (Loopback || _rxCount != 0 || _backlogCount != 0) return false;
            _rxFifo[_rxHead] = 0;
            _rxCount = 1;
            _lsrErrors |= LsrBreak;
            UpdateIrq();
            return true;
        }
    }

    /// <summary>Queues all of <paramref name="data"/>, waiting while the backlog is full (the guest
    /// reading the UART makes room). Callable from any thread but a hart's.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> data, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            int taken = TryEnqueueInput(data);
            data = data[taken..];
            if (data.IsEmpty) return;
            lock (_lock)
            {
                if (_backlogCount == _backlog.Length) Monitor.Wait(_lock, 50);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Sends bytes to the output sink as if transmitted, in order with the guest's THR writes (the
    /// SBI debug console shares this line). Callable from any thread.</summary>
    public void WriteOutput(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            foreach (byte b in data) _output(b);
        }
    }

    /// <summary>Takes host input the guest has not read through the registers: the receive FIFO first, then the
    /// backlog (the SBI debug console reads this line too). Returns the number of bytes taken; never blocks.
    /// Callable from any thread.</summary>
    public int TakeInput(Span<byte> destination)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < destination.Length && _rxCount > 0) destination[n++] = ReceiveByte();
            if (n > 0) UpdateIrq();
            return n;
        }
    }

    public bool Read(ulong offset, int size, out ulong value)
    {
        value = 0;
        if (!MmioAccess.IsValid(offset, size, 1, 8, RegisterSpan)) return false;
        lock (_lock)
        {
            value = ReadRegister((Register)offset);
            UpdateIrq();
        }
        return true;
    }

    public bool Write(ulong offset, int size, ulong value)
    {
        if (!MmioAccess.IsValid(offset, size, 1, 8, RegisterSpan)) return false;
        lock (_lock)
        {
            WriteRegister((Register)offset, (byte)value);
            UpdateIrq();
        }
        return true;
    }

    public void AddTo(FdtBuilder fdt, DeviceTreeContext context)
    {
        fdt.BeginNode($"serial@{context.UnitAddress}");
        if (_irq.IsConnected)
        {
            fdt.PropertyU32("interrupts", (uint)_irq.Number);
            fdt.PropertyU32("interrupt-parent", context.InterruptParent);
        }
        fdt.PropertyU32("clock-frequency", ClockFrequency);
        fdt.PropertyCells("reg", context.BaseAddress, WindowSize);
        fdt.PropertyString("compatible", "ns16550a");
        fdt.EndNode();
    }

    private bool FifosEnabled => (_fcr & FcrEnable) != 0;

    private bool DivisorLatch => (_lcr & LcrDivisorLatch) != 0;

    private bool Loopback => (_mcr & McrLoopback) != 0;

    private int ReceiveCapacity => FifosEnabled ? FifoDepth : 1;

    private int TriggerLevel => (_fcr >> 6) switch
    {
        0 => 1,
        1 => 4,
        2 => 8,
        _ => 14,
    };

    private byte ReadRegister(Register register)
    {
        switch (register)
        {
            case Register.Data:
                if (DivisorLatch) return (byte)_divisor;
                return ReceiveByte();
            case Register.InterruptEnable:
                return DivisorLatch ? (byte)(_divisor >> 8) : _ier;
            case Register.InterruptId:
            {
                byte id = InterruptId();
                // 16550: reading IIR while THRE is the reported source clears that source.
                if (id == IirTransmitterEmpty) _transmitterEmptyPending = false;
                return (byte)(id | (FifosEnabled ? IirFifosEnabled : 0));
            }
            case Register.LineControl:
                return _lcr;
            case Register.ModemControl:
                return _mcr;
            case Register.LineStatus:
            {
                byte lsr = LineStatus();
                _lsrErrors &= unchecked((byte)~(LsrOverrun | LsrBreak));
                return lsr;
            }
            case Register.ModemStatus:
                if (Loopback)
                {
                    // Loopback wires the modem outputs to the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
                    int msr = ((_mcr & McrRts) != 0 ? MsrCts : 0) | ((_mcr & McrDtr) != 0 ? MsrDsr : 0)
                        | ((_mcr & McrOut1) != 0 ? MsrRi : 0) | ((_mcr & McrOut2) != 0 ? MsrDcd : 0);
                    return (byte)msr;
                }
                else
                {
                    byte msr = _msr;
                    _msr &= unchecked((byte)~MsrDeltas);
                    return msr;
                }
            default:
                return _scr;
        }
    }

    private void WriteRegister(Register register, byte value)
    {
        switch (register)
        {
            case Register.Data:
                if (DivisorLatch)
                {
                    _divisor = (ushort)((_divisor & 0xff00) | value);
                }
                else
                {
                    _transmitterEmptyPending = false;
                    Transmit(value);
                    // The transmitter is infinitely fast: THR is empty again at once.
                    _transmitterEmptyPending = true;
                }
                break;
            case Register.InterruptEnable:
                if (DivisorLatch)
                {
                    _divisor = (ushort)((_divisor & 0x00ff) | (value << 8));
                }
                else
                {
                    byte ier = (byte)(value & IerMask);
                    // Enabling the THRE interrupt while THR is empty raises it, even if an IIR read had
                    // cleared it (Linux's THRE and TXEN start-up tests rely on this).
                    if ((ier & ~_ier & IerTransmitterEmpty) != 0) _transmitterEmptyPending = true;
                    _ier = ier;
                }
                break;
            case Register.InterruptId:
                WriteFifoControl(value);
                break;
            case Register.LineControl:
                _lcr = value;
                break;
            case Register.ModemControl:
                _mcr = (byte)(value & McrMask);
                Refill();
                break;
            case Register.LineStatus:
            case Register.ModemStatus:
                break; // read-only
            default:
                _scr = value;
                break;
        }
    }

    private void WriteFifoControl(byte value)
    {
        bool enable = (value & FcrEnable) != 0;
        // Changing the FIFO mode empties the FIFOs; so does the receive-reset bit. (The transmit FIFO
        // is always empty here, so its reset bit has nothing to do.)
        if (enable != FifosEnabled || (value & FcrClearReceive) != 0)
        {
            _rxHead = 0;
            _rxCount = 0;
        }
        _fcr = (byte)(value & FcrStickyMask);
        Refill();
    }

    private void Transmit(byte value)
    {
        if (Loopback) ReceiveFromLine(value);
        else _output(value);
    }

    /// <summary>A byte arriving from the line (loopback): an overrun if there is no room.</summary>
    private void ReceiveFromLine(byte value)
    {
        if (_rxCount < ReceiveCapacity)
        {
            _rxFifo[(_rxHead + _rxCount) % FifoDepth] = value;
            _rxCount++;
        }
        else
        {
            _lsrErrors |= LsrOverrun;
            // Without FIFOs the new character overwrites the holding register; with FIFOs it is lost.
            if (!FifosEnabled) _rxFifo[_rxHead] = value;
        }
    }

    private byte ReceiveByte()
    {
        if (_rxCount == 0) return 0;
        byte value = _rxFifo[_rxHead];
        _rxHead = (_rxHead + 1) % FifoDepth;
        _rxCount--;
        Refill();
        return value;
    }

    /// <summary>Moves host input from the backlog into the receive FIFO while it has room. In loopback
    /// the receiver is disconnected from the line, so input waits.</summary>
    private void Refill()
    {
        if (Loopback || _backlogCount == 0) return;
        bool moved = false;
        while (_rxCount < ReceiveCapacity && _backlogCount > 0)
        {
            _rxFifo[(_rxHead + _rxCount) % FifoDepth] = _backlog[_backlogHead];
            _rxCount++;
            _backlogHead = (_backlogHead + 1) % _backlog.Length;
            _backlogCount--;
            moved = true;
        }
        if (moved) Monitor.PulseAll(_lock);
    }

    private byte LineStatus() => (byte)((_rxCount > 0 ? LsrDataReady : 0) | _lsrErrors
        | LsrTransmitterHoldingEmpty | LsrTransmitterEmpty);

    /// <summary>The 16550 priority scheme: line status, then received data (or character timeout),
    /// then THR empty, then modem status.</summary>
    private byte InterruptId()
    {
        if ((_ier & IerLineStatus) != 0 && (_lsrErrors & LsrInterruptSources) != 0) return IirLineStatus;
        if ((_ier & IerReceivedData) != 0 && _rxCount > 0)
        {
            if (!FifosEnabled || _rxCount >= TriggerLevel) return IirReceivedData;
            // Below the trigger level and nothing more is arriving from the host (the backlog would
            // otherwise have filled the FIFO): the character timeout has, in effect, elapsed.
            return IirCharacterTimeout;
        }
        if ((_ier & IerTransmitterEmpty) != 0 && _transmitterEmptyPending) return IirTransmitterEmpty;
        if ((_ier & IerModemStatus) != 0 && (_msr & MsrDeltas) != 0) return IirModemStatus;
        return IirNoInterrupt;
    }

    private void UpdateIrq()
    {
        bool level = InterruptId() != IirNoInterrupt;
        if (level == _irqLevel) return;
        _irqLevel = level;
        _irq.Set(level);
    }
}

/// <summary>What a snapshot keeps of an NS16550A: its registers (<paramref name="LsrErrors"/>: the sticky
/// overrun and break bits), the receive FIFO oldest byte first, and host input waiting to enter it.</summary>
public sealed record Ns16550State(byte Ier, byte Fcr, byte Lcr, byte Mcr, byte LsrErrors, byte Msr, byte Scr,
    ushort Divisor, bool TransmitterEmptyPending, ImmutableArray<byte> ReceiveFifo, ImmutableArray<byte> Backlog);
