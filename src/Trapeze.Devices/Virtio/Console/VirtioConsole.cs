using System.Collections.Immutable;

namespace Trapeze.Devices.Virtio.Console;

/// <summary>
/// virtio-console (virtio 1.2 §5.3) with port 0 only (no MULTIPORT): the guest's <c>hvc0</c>. The
/// transmit queue's buffers go to the output sink; host input waits in a bounded backlog until the
/// driver posts receive buffers. VIRTIO_CONSOLE_F_EMERG_WRITE is offered: a byte written to
/// <c>emerg_wr</c> is output at once (usable before the queues are).
/// </summary>
public sealed class VirtioConsole : IVirtioDevice
{
    public const int ReceiveQueue = 0, TransmitQueue = 1;
    public const ulong FeatureEmergencyWrite = 1UL << 2;
    public const int DefaultBacklogCapacity = 64 * 1024;
    /// <summary>A transmit buffer is output up to this many bytes (Linux sends at most a page).</summary>
    public const int MaxOutputPerBuffer = 1 << 20;

    /// <summary>§5.3.4: offset of emerg_wr in the configuration space.</summary>
    public const uint EmergencyWriteOffset = 8;
    private const int ConfigSize = 12;

    private readonly Action<ReadOnlySpan<byte>> _output;
    private readonly object _inputLock = new();
    private readonly byte[] _backlog;
    private int _backlogHead;
    private int _backlogCount;
    private IVirtioTransport? _transport;

    /// <param name="output">Receives the guest's output, on the device worker (or a hart, for emerg_wr).
    /// Must not block for long and must not call back into the device.</param>
    public VirtioConsole(Action<ReadOnlySpan<byte>> output, int backlogCapacity = DefaultBacklogCapacity, ushort queueSize = 128)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(backlogCapacity, 1);
        if (queueSize == 0 || (queueSize & (queueSize - 1)) != 0) throw new ArgumentException("queue size must be a power of two");
        _output = output;
        _backlog = new byte[backlogCapacity];
        MaxQueueSize = queueSize;
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Console;

    public string Name => "virtio-console";

    public ulong Features => FeatureEmergencyWrite;

    public int QueueCount => 2;

    public ushort MaxQueueSize { get; }

    /// <summary>True when a driver is running the device: input offered now will reach the guest.</summary>
    public bool IsDriverReady => _transport?.IsDriverReady ?? false;

    /// <summary>Host input bytes the backlog can hold.</summary>
    public int BacklogCapacity => _backlog.Length;

    /// <summary>Host bytes waiting for receive buffers.</summary>
    public int BacklogCount
    {
        get { lock (_inputLock) return _backlogCount; }
    }

    public void Attach(IVirtioTransport transport) => _transport = transport;

    /// <summary>Queues host input without blocking; returns how many bytes were taken (fewer than offered
    /// when the backlog is full). Callable from any thread.</summary>
    public int TryEnqueueInput(ReadOnlySpan<byte> data)
    {
        int taken;
        lock (_inputLock)
        {
            taken = Math.Min(data.Length, _backlog.Length - _backlogCount);
            for (int i = 0; i < taken; i++)
                _backlog[(_backlogHead + _backlogCount + i) % _backlog.Length] = data[i];
            _backlogCount += taken;
        }
        if (taken > 0) _transport?.Kick(ReceiveQueue);
        return taken;
    }

    public void ReadConfig(uint offset, Span<byte> data)
    {
        // cols, rows (F_SIZE not offered), max_nr_ports (F_MULTIPORT not offered), emerg_wr (write-only)
        data.Clear();
    }

    public void WriteConfig(uint offset, ReadOnlySpan<byte> data)
    {
        // §5.3.4: the driver writes a character to emerg_wr (a 32-bit field; one byte is enough).
        if (offset == EmergencyWriteOffset && data.Length >= 1 && offset + (uint)data.Length <= ConfigSize)
            _output(data[..1]);
    }

    public void Activate(ulong features) { }

    public void Reset() { } // host input already queued stays for the next driver

    /// <summary>Host input not yet delivered (output is never buffered: it goes to the sink as it is sent).</summary>
    public VirtioDeviceState SaveState()
    {
        lock (_inputLock)
        {
            var pending = new byte[_backlogCount];
            for (int i = 0; i < pending.Length; i++) pending[i] = _backlog[(_backlogHead + i) % _backlog.Length];
            return new VirtioConsoleState([.. pending]);
        }
    }

    public void RestoreState(VirtioDeviceState? state)
    {
        if (state is not VirtioConsoleState console) throw new ArgumentException($"{Name}: expected a saved virtio-console state");
        if (console.PendingInput.Length > _backlog.Length)
            throw new ArgumentException($"{Name}: {console.PendingInput.Length} bytes of pending input (room for {_backlog.Length})");
        lock (_inputLock)
        {
            console.PendingInput.CopyTo(_backlog);
            _backlogHead = 0;
            _backlogCount = console.PendingInput.Length;
        }
    }

    public void Process(int index, VirtQueue queue)
    {
        if (index == TransmitQueue) Transmit(queue);
        else if (index == ReceiveQueue) Receive(queue);
    }

    private void Transmit(VirtQueue queue)
    {
        while (queue.TryPop(out DescriptorChain? chain))
        {
            foreach (Span<byte> span in chain.ReadableSpans(0, Math.Min(chain.ReadableLength, MaxOutputPerBuffer))) _output(span);
            queue.Push(chain, 0);
        }
    }

    private void Receive(VirtQueue queue)
    {
        while (BacklogCount > 0 && queue.TryPop(out DescriptorChain? chain))
        {
            uint written = 0;
            lock (_inputLock)
            {
                ulong want = Math.Min(chain.WritableLength, (ulong)_backlogCount);
                foreach (Span<byte> span in chain.WritableSpans(0, want))
                {
                    for (int i = 0; i < span.Length; i++)
                    {
                        span[i] = _backlog[_backlogHead];
                        _backlogHead = (_backlogHead + 1) % _backlog.Length;
                    }
                    _backlogCount -= span.Length;
                    written += (uint)span.Length;
                }
            }
            queue.Push(chain, written);
        }
    }
}

/// <summary>What a snapshot keeps of virtio-console beyond its transport: host input not yet delivered.</summary>
public sealed record VirtioConsoleState(ImmutableArray<byte> PendingInput) : VirtioDeviceState;
