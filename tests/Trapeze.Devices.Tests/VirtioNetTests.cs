using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Net;

namespace Trapeze.Devices.Tests;

/// <summary>A backend that keeps what the guest sends and delivers what the test injects.</summary>
internal sealed class FakeNetBackend : INetBackend
{
    public ConcurrentQueue<byte[]> Sent { get; } = new();
    public INetBackendSink? Sink { get; private set; }
    public bool LinkUp { get; set; } = true;
    public string Name => "fake";
    public void Start(INetBackendSink sink) => Sink = sink;
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        Sent.Enqueue(frame.ToArray());
        return true;
    }
    public void Inject(byte[] frame) => Sink!.OnFrameReceived(frame);
    public void Dispose() { }
}

/// <summary>virtio-net (§5.1) through the transport, with a fake backend; the socket backend's framing.</summary>
public sealed class VirtioNetTests : IDisposable
{
    private static readonly byte[] Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    private readonly FakeGuestRam _ram = new(4 << 20);
    private readonly FakeIrqSink _sink = new();
    private readonly List<VirtioMmioTransport> _transports = [];

    public void Dispose()
    {
        foreach (var t in _transports) t.Dispose();
        _ram.Dispose();
    }

    private TestDriver Driver(IVirtioDevice device)
    {
        var t = new VirtioMmioTransport("virtio-test", _ram.Memory, _sink.Line(1), device);
        _transports.Add(t);
        return new TestDriver(t, _ram);
    }

    private static byte[] Frame(int length, byte seed)
    {
        var f = new byte[length];
        for (int i = 0; i < length; i++) f[i] = (byte)(seed + i * 7);
        return f;
    }

    [Fact]
    public void Offers_mac_and_status_and_no_offloads()
    {
        var backend = new FakeNetBackend();
        var driver = Driver(new VirtioNet(backend, Mac));
        Assert.Equal(1u, driver.Read(Mmio.DeviceId));
        ulong features = driver.DeviceFeatures;
        Assert.Equal(VirtioNet.FeatureMac | VirtioNet.FeatureStatus, features & 0xff_ffff);
        Assert.True(driver.Transport.Read(Mmio.Config, 4, out ulong lo));
        Assert.True(driver.Transport.Read(Mmio.Config + 4, 2, out ulong hi));
        Assert.Equal(0x5634_1200_5452UL, lo | hi << 32);
        Assert.True(driver.Transport.Read(Mmio.Config + 6, 2, out ulong status));
        Assert.Equal((ulong)VirtioNet.StatusLinkUp, status);
    }

    [Fact]
    public void A_transmitted_frame_reaches_the_backend_without_its_header()
    {
        var backend = new FakeNetBackend();
        DriverQueue[] q = Driver(new VirtioNet(backend, Mac)).Start();
        byte[] frame = Frame(60, 3);
        ulong hdr = _ram.Alloc(VirtioNet.HeaderSize), a = _ram.Alloc(20), b = _ram.Alloc(40);
        frame.AsSpan(0, 20).CopyTo(_ram.Span(a, 20));
        frame.AsSpan(20).CopyTo(_ram.Span(b, 40));
        q[VirtioNet.TransmitQueue].Add(Buffer.Out(hdr, VirtioNet.HeaderSize), Buffer.Out(a, 20), Buffer.Out(b, 40));
        Assert.Equal(0u, q[VirtioNet.TransmitQueue].Complete().Len);
        Assert.True(backend.Sent.TryDequeue(out byte[]? sent));
        Assert.Equal(frame, sent);
    }

    [Fact]
    public void Frames_too_short_or_too_long_are_dropped_and_counted()
    {
        var backend = new FakeNetBackend();
        var net = new VirtioNet(backend, Mac);
        DriverQueue[] q = Driver(net).Start();
        ulong shortBuf = _ram.Alloc(VirtioNet.HeaderSize + 13), longBuf = _ram.Alloc(VirtioNet.HeaderSize + VirtioNet.MaxFrame + 1);
        q[VirtioNet.TransmitQueue].Add(Buffer.Out(shortBuf, VirtioNet.HeaderSize + 13));
        q[VirtioNet.TransmitQueue].Complete();
        q[VirtioNet.TransmitQueue].Add(Buffer.Out(longBuf, VirtioNet.HeaderSize + VirtioNet.MaxFrame + 1));
        q[VirtioNet.TransmitQueue].Complete();
        Assert.Empty(backend.Sent);
        Assert.Equal(2, net.TransmitBadLength);
        backend.Inject(new byte[13]);
        backend.Inject(new byte[VirtioNet.MaxFrame + 1]);
        Assert.Equal(2, net.ReceiveBadLength);
    }

    [Fact]
    public void A_received_frame_lands_in_the_guest_buffer_behind_the_header()
    {
        var backend = new FakeNetBackend();
        var net = new VirtioNet(backend, Mac);
        DriverQueue[] q = Driver(net).Start();
        ulong a = _ram.Alloc(VirtioNet.HeaderSize + 4), b = _ram.Alloc(1600);
        _ram.Span(a, VirtioNet.HeaderSize + 4).Fill(0xee);
        q[VirtioNet.ReceiveQueue].Add(Buffer.In(a, VirtioNet.HeaderSize + 4), Buffer.In(b, 1600));
        q[VirtioNet.ReceiveQueue].Kick();
        byte[] frame = Frame(100, 9);
        backend.Inject(frame);
        var used = q[VirtioNet.ReceiveQueue].WaitUsed(1)[0];
        Assert.Equal((uint)(VirtioNet.HeaderSize + 100), used.Len);
        byte[] header = _ram.Span(a, VirtioNet.HeaderSize).ToArray();
        Assert.Equal(new byte[10], header[..10]); // no flags, no GSO
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(10))); // num_buffers
        Assert.Equal(frame[..4], _ram.Span(a + VirtioNet.HeaderSize, 4).ToArray());
        Assert.Equal(frame[4..], _ram.Span(b, 96).ToArray());
        Assert.Equal(1, net.ReceivedFrames);
    }

    [Fact]
    public void Frames_wait_for_buffers_and_one_too_big_for_its_chain_is_dropped_keeping_the_chain()
    {
        var backend = new FakeNetBackend();
        var net = new VirtioNet(backend, Mac);
        DriverQueue[] q = Driver(net).Start();
        backend.Inject(Frame(1000, 1)); // waits: no buffers yet
        backend.Inject(Frame(60, 2));
        Assert.True(_transports[0].WaitForIdle(TimeSpan.FromSeconds(5)));
        ulong small = _ram.Alloc(200);
        q[VirtioNet.ReceiveQueue].Add(Buffer.In(small, 200));
        q[VirtioNet.ReceiveQueue].Kick();
        var used = q[VirtioNet.ReceiveQueue].WaitUsed(1)[0];
        Assert.Equal((uint)(VirtioNet.HeaderSize + 60), used.Len);
        Assert.Equal(Frame(60, 2), _ram.Span(small + VirtioNet.HeaderSize, 60).ToArray());
        Assert.Equal(1, net.ReceiveDropped);
    }

    [Fact]
    public void The_receive_backlog_is_bounded()
    {
        var backend = new FakeNetBackend();
        var net = new VirtioNet(backend, Mac, receiveBacklog: 4);
        Driver(net).Start();
        for (int i = 0; i < 10; i++) backend.Inject(Frame(64, (byte)i));
        Assert.Equal(6, net.ReceiveDropped);
    }

    [Fact]
    public void Link_down_clears_status_and_notifies_the_driver()
    {
        var backend = new FakeNetBackend();
        var driver = Driver(new VirtioNet(backend, Mac));
        driver.Start();
        backend.Sink!.OnLinkChanged(false);
        Assert.True(driver.Transport.Read(Mmio.Config + 6, 2, out ulong status));
        Assert.Equal(0UL, status);
        Assert.NotEqual(0u, driver.Read(Mmio.InterruptStatus) & VirtioMmioTransport.InterruptConfigChange);
    }

    [Fact]
    public void Hostile_chains_break_the_queue_without_an_exception()
    {
        var backend = new FakeNetBackend();
        var driver = Driver(new VirtioNet(backend, Mac));
        DriverQueue[] q = driver.Start();
        // A descriptor pointing outside guest RAM, on each queue in turn.
        q[VirtioNet.TransmitQueue].Add(Buffer.Out(0xdead_0000_0000, 64));
        q[VirtioNet.TransmitQueue].Kick();
        Assert.True(driver.WaitIdle());
        Assert.True(driver.Transport.Status.HasFlag(DeviceStatus.DeviceNeedsReset));
        Assert.Null(driver.Transport.FailureException);
        Assert.Empty(backend.Sent);

        q = driver.Start();
        // A chain that loops on itself in the receive ring.
        q[VirtioNet.ReceiveQueue].WriteDescriptor(q[VirtioNet.ReceiveQueue].Desc, 0, _ram.Alloc(64), 64, 1 | 2, 0);
        q[VirtioNet.ReceiveQueue].Publish(0);
        q[VirtioNet.ReceiveQueue].Kick();
        backend.Inject(Frame(60, 5));
        Assert.True(driver.WaitIdle());
        Assert.True(driver.Transport.Status.HasFlag(DeviceStatus.DeviceNeedsReset));
        Assert.Null(driver.Transport.FailureException);
    }

    [Fact]
    public void The_socket_backend_frames_with_a_big_endian_length_both_ways()
    {
        using var listen = SocketNetBackend.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var sink = new RecordingSink();
        listen.Start(sink);
        using var peer = new TcpClient();
        peer.Connect(listen.EndPoint);
        Assert.True(sink.Up.Wait(TimeSpan.FromSeconds(5)));
        NetworkStream stream = peer.GetStream();

        byte[] inbound = Frame(70, 4);
        stream.Write([0, 0, 0, 70]);
        stream.Write(inbound);
        Assert.True(sink.Frames.TryTake(out byte[]? got, TimeSpan.FromSeconds(5)));
        Assert.Equal(inbound, got);

        byte[] outbound = Frame(300, 8);
        Assert.True(listen.TrySend(outbound));
        byte[] read = new byte[304];
        stream.ReadExactly(read);
        Assert.Equal(300u, BinaryPrimitives.ReadUInt32BigEndian(read));
        Assert.Equal(outbound, read[4..]);

        // Two backends talk to each other the same way.
        using var connect = SocketNetBackend.Connect(listen.EndPoint);
        peer.Close();
        Assert.True(sink.Down.Wait(TimeSpan.FromSeconds(5)));
        var other = new RecordingSink();
        connect.Start(other);
        Assert.True(other.Up.Wait(TimeSpan.FromSeconds(5)));
        SpinWait.SpinUntil(() => listen.LinkUp, TimeSpan.FromSeconds(5));
        Assert.True(connect.TrySend(outbound));
        Assert.True(sink.Frames.TryTake(out got, TimeSpan.FromSeconds(5)));
        Assert.Equal(outbound, got);
    }

    [Fact]
    public void The_socket_backend_drops_a_peer_that_sends_an_impossible_length()
    {
        using var listen = SocketNetBackend.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var sink = new RecordingSink();
        listen.Start(sink);
        using var peer = new TcpClient();
        peer.Connect(listen.EndPoint);
        Assert.True(sink.Up.Wait(TimeSpan.FromSeconds(5)));
        peer.GetStream().Write([0x7f, 0xff, 0xff, 0xff]);
        Assert.True(sink.Down.Wait(TimeSpan.FromSeconds(5)));
        Assert.False(listen.LinkUp);
        Assert.False(listen.TrySend(Frame(60, 1)));
    }

    private sealed class RecordingSink : INetBackendSink
    {
        public BlockingCollection<byte[]> Frames { get; } = [];
        public ManualResetEventSlim Up { get; } = new();
        public ManualResetEventSlim Down { get; } = new();
        public void OnFrameReceived(ReadOnlySpan<byte> frame) => Frames.Add(frame.ToArray());
        public void OnLinkChanged(bool up) => (up ? Up : Down).Set();
    }
}
