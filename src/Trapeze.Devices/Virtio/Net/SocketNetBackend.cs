using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Trapeze.Devices.Virtio.Net;

/// <summary>
/// Frames over a TCP stream in QEMU's <c>-netdev socket</c> framing: each frame preceded by its length as
/// a 4-byte big-endian number, so two Trapeze machines (or Trapeze and QEMU) can share a segment. One
/// side listens, the other connects. The link is up while a peer is connected; a listener takes the next
/// peer after one leaves, a connector tries for <see cref="ConnectTimeout"/> and gives up after its peer
/// leaves. Socket errors only bring the link down: nothing reaches the device worker or a hart.
/// </summary>
public sealed class SocketNetBackend : INetBackend
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);

    private readonly IPEndPoint _endpoint;
    private readonly Socket? _listener;
    private readonly object _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _peer;
    private FrameSender? _sender;
    private INetBackendSink? _sink;
    private Thread? _reader;

    private SocketNetBackend(IPEndPoint endpoint, Socket? listener)
    {
        _endpoint = endpoint;
        _listener = listener;
    }

    /// <summary>Binds and listens at once, so that a port in use is a start-up error.</summary>
    public static SocketNetBackend Listen(IPEndPoint endpoint)
    {
        var s = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // SO_REUSEADDR alone (a listener may come back while its old connection is in TIME_WAIT); .NET's
            // ReuseAddress would add SO_REUSEPORT on Linux, letting two listeners share the port.
            if (OperatingSystem.IsLinux()) s.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            s.Bind(endpoint);
            s.Listen(1);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new SocketNetBackend((IPEndPoint)s.LocalEndPoint!, s);
    }

    /// <summary>Connects on the backend's thread once started (the listener may start later).</summary>
    public static SocketNetBackend Connect(IPEndPoint endpoint) => new(endpoint, null);

    /// <summary>The listening address (its port when port 0 was asked for), or the address connected to.</summary>
    public IPEndPoint EndPoint => _endpoint;

    public string Name => $"socket {(_listener != null ? "listen" : "connect")} {_endpoint}";

    public bool LinkUp
    {
        get { lock (_lock) return _peer != null; }
    }

    public void Start(INetBackendSink sink)
    {
        _sink = sink;
        _sender = new FrameSender($"net-tx {_endpoint}", Write);
        _reader = new Thread(Run) { IsBackground = true, Name = $"net-rx {_endpoint}" };
        _reader.Start();
    }

    public bool TrySend(ReadOnlySpan<byte> frame) => LinkUp && _sender!.TryAdd(frame);

    private void Write(byte[] frame)
    {
        Socket? peer;
        lock (_lock) peer = _peer;
        if (peer == null) return;
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)frame.Length);
        try
        {
            peer.Send(length);
            peer.Send(frame);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The reader sees the same failure and brings the link down.
        }
    }

    private void Run()
    {
        do
        {
            Socket? peer = _listener != null ? Accept() : ConnectWithRetry();
            if (peer == null) return;
            peer.NoDelay = true;
            lock (_lock) _peer = peer;
            _sink!.OnLinkChanged(true);
            ReadFrames(peer);
            lock (_lock) _peer = null;
            peer.Dispose();
            if (!_stop.IsCancellationRequested) _sink.OnLinkChanged(false);
        }
        while (_listener != null && !_stop.IsCancellationRequested);
    }

    private Socket? Accept()
    {
        try { return _listener!.Accept(); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return null; }
    }

    private Socket? ConnectWithRetry()
    {
        var deadline = DateTime.UtcNow + ConnectTimeout;
        while (!_stop.IsCancellationRequested)
        {
            var s = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Connect(_endpoint);
                return s;
            }
            catch (SocketException)
            {
                s.Dispose();
                if (DateTime.UtcNow >= deadline) return null;
                _stop.Token.WaitHandle.WaitOne(100);
            }
        }
        return null;
    }

    private void ReadFrames(Socket peer)
    {
        byte[] buffer = new byte[4 + VirtioNet.MaxFrame];
        try
        {
            while (true)
            {
                if (!ReadExactly(peer, buffer.AsSpan(0, 4))) return;
                uint length = BinaryPrimitives.ReadUInt32BigEndian(buffer);
                // A length no frame can have means the stream is not in step (or not a peer at all):
                // nothing after it can be trusted, so the connection is dropped.
                if (length > VirtioNet.MaxFrame) return;
                if (!ReadExactly(peer, buffer.AsSpan(0, (int)length))) return;
                _sink!.OnFrameReceived(buffer.AsSpan(0, (int)length));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    private static bool ReadExactly(Socket s, Span<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = s.Receive(data);
            if (n == 0) return false;
            data = data[n..];
        }
        return true;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener?.Dispose();
        lock (_lock) _peer?.Dispose();
        _sender?.Dispose();
        _reader?.Join(TimeSpan.FromSeconds(2));
    }
}
