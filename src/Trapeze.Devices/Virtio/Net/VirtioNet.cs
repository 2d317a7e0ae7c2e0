using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Trapeze.Devices.Virtio.Net;

/// <summary>
/// virtio-net (virtio 1.2 §5.1) with one receive and one transmit queue and no offloads: frames are plain
/// Ethernet behind the 12-byte <c>virtio_net_hdr</c> of a VERSION_1 device. Offered: MAC (the address in
/// the configuration space) and STATUS (link up while the backend's link is). Not offered: checksum and
/// segmentation offloads, MRG_RXBUF (so a frame and its header must fit one receive chain), the control
/// queue and multiqueue.
/// <para>Frames from the backend wait in a bounded queue until the driver posts receive buffers; when it
/// is full they are dropped and counted, as a NIC drops on a full ring. Nothing here blocks on the host
/// network: sending hands a copy to the backend's own thread.</para>
/// </summary>
public sealed class VirtioNet : IVirtioDevice, INetBackendSink, IDisposable
{
    public const int ReceiveQueue = 0, TransmitQueue = 1;

    /// <summary>§5.1.3 feature bits.</summary>
    public const ulong FeatureMac = 1UL << 5, FeatureStatus = 1UL << 16;

    /// <summary>§5.1.4: <c>status</c> bit.</summary>
    public const ushort StatusLinkUp = 1;

    /// <summary>§5.1.6: the header of a VERSION_1 device (num_buffers included).</summary>
    public const int HeaderSize = 12;

    /// <summary>Smallest frame accepted: an Ethernet header.</summary>
    public const int MinFrame = 14;

    /// <summary>Largest frame accepted: 64 KiB of payload plus an Ethernet header and a VLAN tag (as QEMU).</summary>
    public const int MaxFrame = 65550;

    public const int DefaultReceiveBacklog = 256;

    private const int ConfigSize = 8; // mac[6], status (max_virtqueue_pairs only with MQ)

    private readonly INetBackend _backend;
    private byte[] _mac;
    private readonly ConcurrentQueue<byte[]> _pending = new();
    private readonly int _backlogCapacity;
    private int _pendingCount;
    private volatile bool _linkUp;
    private readonly byte[] _txBuffer = new byte[MaxFrame]; // Process runs never overlap
    private IVirtioTransport? _transport;
    private long _rxFrames, _txFrames, _rxDropped, _txDropped, _rxBadLength, _txBadLength;

    public VirtioNet(INetBackend backend, ReadOnlySpan<byte> mac, int receiveBacklog = DefaultReceiveBacklog, ushort queueSize = 256)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (mac.Length != 6) throw new ArgumentException("a MAC address is 6 bytes", nameof(mac));
        if ((mac[0] & 1) != 0) throw new ArgumentException("a multicast MAC address cannot name a NIC", nameof(mac));
        ArgumentOutOfRangeException.ThrowIfLessThan(receiveBacklog, 1);
        if (queueSize == 0 || (queueSize & (queueSize - 1)) != 0) throw new ArgumentException("queue size must be a power of two");
        _backend = backend;
        _mac = mac.ToArray();
        _backlogCapacity = receiveBacklog;
        MaxQueueSize = queueSize;
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Network;

    public string Name => "virtio-net";

    public ulong Features => FeatureMac | FeatureStatus;

    public int QueueCount => 2;

    public ushort MaxQueueSize { get; }

    public INetBackend Backend => _backend;

    public ReadOnlySpan<byte> Mac => _mac;

    public bool LinkUp => _linkUp;

    public long ReceivedFrames => Interlocked.Read(ref _rxFrames);
    public long TransmittedFrames => Interlocked.Read(ref _txFrames);
    /// <summary>Frames from the host dropped: backlog full, no driver, or no receive chain big enough.</summary>
    public long ReceiveDropped => Interlocked.Read(ref _rxDropped);
    /// <summary>Frames from the guest the backend refused (link down, its queue full).</summary>
    public long TransmitDropped => Interlocked.Read(ref _txDropped);
    /// <summary>Frames shorter than <see cref="MinFrame"/> or longer than <see cref="MaxFrame"/> (either way).</summary>
    public long ReceiveBadLength => Interlocked.Read(ref _rxBadLength);
    public long TransmitBadLength => Interlocked.Read(ref _txBadLength);

    public void Attach(IVirtioTransport transport)
    {
        _transport = transport;
        _linkUp = _backend.LinkUp;
        _backend.Start(this);
    }

    /// <summary>A locally administered unicast address in QEMU's 52:54:00 range.</summary>
    public static byte[] GenerateMac()
    {
        byte[] mac = [0x52, 0x54, 0x00, 0, 0, 0];
        System.Security.Cryptography.RandomNumberGenerator.Fill(mac.AsSpan(3));
        return mac;
    }

    public void ReadConfig(uint offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[ConfigSize];
        _mac.CopyTo(config);
        BinaryPrimitives.WriteUInt16LittleEndian(config[6..], _linkUp ? StatusLinkUp : (ushort)0);
        data.Clear();
        if (offset < ConfigSize) config[(int)offset..][..Math.Min(data.Length, ConfigSize - (int)offset)].CopyTo(data);
    }

    // §5.1.4: the fields are read-only for a modern driver (only legacy drivers wrote mac); writes are ignored.
    public void WriteConfig(uint offset, ReadOnlySpan<byte> data) { }

    public void Activate(ulong features) { }

    public void Reset() => DropPending();

    /// <summary>The MAC address (a generated one must survive a snapshot: the guest knows it). Frames waiting
    /// for receive buffers are not kept: to the guest that is a few frames lost on the wire.</summary>
    public VirtioDeviceState SaveState() => new VirtioNetState([.. _mac]);

    public void RestoreState(VirtioDeviceState? state)
    {
        if (state is not VirtioNetState net) throw new ArgumentException($"{Name}: expected a saved virtio-net state");
        if (net.Mac.Length != 6 || (net.Mac[0] & 1) != 0) throw new ArgumentException($"{Name}: saved MAC address is not a unicast address");
        _mac = [.. net.Mac];
        DropPending();
    }

    public void Process(int index, VirtQueue queue)
    {
        if (index == TransmitQueue) Transmit(queue);
        else if (index == ReceiveQueue) Receive(queue);
    }

    private void Transmit(VirtQueue queue)
    {
        byte[] frame = _txBuffer;
        while (queue.TryPop(out DescriptorChain? chain))
        {
            // §5.1.6.2: the header comes first; with no offloads negotiated the device ignores its fields.
            ulong length = chain.ReadableLength;
            if (length < HeaderSize + MinFrame || length > HeaderSize + MaxFrame)
            {
                Interlocked.Increment(ref _txBadLength);
            }
            else
            {
                int n = (int)length - HeaderSize;
                chain.TryRead(HeaderSize, frame.AsSpan(0, n));
                if (_backend.TrySend(frame.AsSpan(0, n))) Interlocked.Increment(ref _txFrames);
                else Interlocked.Increment(ref _txDropped);
            }
            queue.Push(chain, 0);
        }
    }

    private void Receive(VirtQueue queue)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 1); // num_buffers: always one without MRG_RXBUF
        while (_pending.TryPeek(out byte[]? frame))
        {
            if (!queue.TryPop(out DescriptorChain? chain)) return;
            _pending.TryDequeue(out _);
            Interlocked.Decrement(ref _pendingCount);
            if (chain.WritableLength < (ulong)(HeaderSize + frame.Length))
            {
                // Without MRG_RXBUF a frame must fit one chain (§5.1.6.3.1); this one does not: drop it and
                // keep the chain for the next.
                queue.Unpop();
                Interlocked.Increment(ref _rxDropped);
                continue;
            }
            chain.TryWrite(0, header);
            chain.TryWrite(HeaderSize, frame);
            queue.Push(chain, (uint)(HeaderSize + frame.Length));
            Interlocked.Increment(ref _rxFrames);
        }
    }

    void INetBackendSink.OnFrameReceived(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < MinFrame || frame.Length > MaxFrame)
        {
            Interlocked.Increment(ref _rxBadLength);
            return;
        }
        // Nobody to receive it (no driver yet, or one being reset): dropped, as by a NIC not yet enabled.
        if (_transport is not { IsDriverReady: true } transport)
        {
            Interlocked.Increment(ref _rxDropped);
            return;
        }
        if (Interlocked.Increment(ref _pendingCount) > _backlogCapacity)
        {
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Increment(ref _rxDropped);
            return;
        }
        _pending.Enqueue(frame.ToArray());
        transport.Kick(ReceiveQueue);
    }

    void INetBackendSink.OnLinkChanged(bool up)
    {
        if (_linkUp == up) return;
        _linkUp = up;
        // §5.1.4: a STATUS change is announced with a configuration change notification.
        if (_transport is { IsDriverReady: true } t) t.NotifyConfigChanged();
    }

    private void DropPending()
    {
        while (_pending.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Increment(ref _rxDropped);
        }
    }

    public void Dispose() => _backend.Dispose();
}

/// <summary>What a snapshot keeps of virtio-net beyond its transport: the MAC address.</summary>
public sealed record VirtioNetState(ImmutableArray<byte> Mac) : VirtioDeviceState;
