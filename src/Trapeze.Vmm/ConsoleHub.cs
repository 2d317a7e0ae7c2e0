using System.Net.Sockets;

namespace Trapeze.Vmm;

/// <summary>
/// The serial console of a VM process: every byte the guest writes goes to <c>console.log</c> (rotated to
/// <c>console.log.1</c> past <see cref="MaxLogBytes"/>) and to every client of <c>console.sock</c>, a raw
/// byte stream in both directions; what a client sends is the guest's keyboard. The guest is never made to
/// wait: <see cref="Write"/> only buffers (it runs on a hart thread inside the UART's lock), a writer thread
/// does the I/O, and a client that does not keep up is dropped.
/// </summary>
public sealed class ConsoleHub : IDisposable
{
    public const long MaxLogBytes = 4L << 20;

    private readonly string _logPath;
    private readonly long _maxLogBytes;
    private readonly object _lock = new();
    private readonly List<Socket> _clients = [];
    private readonly Thread _writer;
    private readonly AutoResetEvent _signal = new(false);
    private byte[] _buffer = new byte[1 << 16], _spare = new byte[1 << 16];
    private int _count;
    private FileStream _log;
    private Socket? _listener;
    private Action<byte[]>? _input;
    private volatile bool _disposed;

    public ConsoleHub(string logPath, long maxLogBytes = MaxLogBytes)
    {
        _logPath = logPath;
        _maxLogBytes = maxLogBytes;
        _log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "console-hub" };
        _writer.Start();
    }

    /// <summary>Bytes dropped because the buffer was full (the log's disk was slower than the guest).</summary>
    public long Dropped { get; private set; }

    public void Write(byte b)
    {
        lock (_lock)
        {
            if (_count == _buffer.Length) { Dropped++; return; }
            _buffer[_count++] = b;
        }
        if (b == '\n' || _count > 4096) _signal.Set();
    }

    /// <summary>Serves <paramref name="socketPath"/>; client bytes go to <paramref name="input"/>.</summary>
    public void Listen(string socketPath, Action<byte[]> input)
    {
        _input = input;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(8);
        new Thread(AcceptLoop) { IsBackground = true, Name = "console-accept" }.Start();
    }

    private void AcceptLoop()
    {
        while (!_disposed)
        {
            Socket client;
            try { client = _listener!.Accept(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            client.SendTimeout = 2000;
            lock (_clients) _clients.Add(client);
            new Thread(() => ReadLoop(client)) { IsBackground = true, Name = "console-client" }.Start();
        }
    }

    private void ReadLoop(Socket client)
    {
        var buf = new byte[1024];
        try
        {
            while (true)
            {
                int n = client.Receive(buf);
                if (n <= 0) break;
                _input?.Invoke(buf.AsSpan(0, n).ToArray());
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        Drop(client);
    }

    private void Drop(Socket client)
    {
        lock (_clients) _clients.Remove(client);
        client.Dispose();
    }

    private void WriterLoop()
    {
        while (true)
        {
            _signal.WaitOne(20);
            Flush();
            if (_disposed) return;
        }
    }

    private void Flush()
    {
        byte[] chunk;
        int n;
        lock (_lock)
        {
            if (_count == 0) return;
            chunk = _buffer; n = _count;
            _buffer = _spare; _spare = chunk; _count = 0;
        }
        try
        {
            if (_log.Length > 0 && _log.Length + n > _maxLogBytes) Rotate();
            _log.Write(chunk, 0, n);
            _log.Flush();
        }
        catch (IOException) { }
        Socket[] clients;
        lock (_clients) clients = [.. _clients];
        foreach (Socket c in clients)
        {
            try { c.Send(chunk, 0, n, SocketFlags.None); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { Drop(c); }
        }
    }

    private void Rotate()
    {
        _log.Dispose();
        File.Move(_logPath, _logPath + ".1", overwrite: true);
        _log = new FileStream(_logPath, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public void Dispose()
    {
        _disposed = true;
        _listener?.Dispose();
        _signal.Set();
        _writer.Join();
        Flush();
        lock (_clients)
        {
            foreach (Socket c in _clients) c.Dispose();
            _clients.Clear();
        }
        _log.Dispose();
        _signal.Dispose();
    }
}
