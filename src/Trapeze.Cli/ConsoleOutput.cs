namespace Trapeze.Cli;

/// <summary>
/// The host side of the guest console: bytes from the UART (called on a hart thread, inside the UART's
/// lock, so it must never block) go into a buffer that a writer thread flushes to stdout.
/// </summary>
public sealed class ConsoleOutput : IDisposable
{
    private readonly Stream _out;
    private readonly object _lock = new();
    private byte[] _buffer = new byte[1 << 16];
    private byte[] _spare = new byte[1 << 16];
    private int _count;
    private bool _disposed;
    private readonly Thread _writer;
    private readonly AutoResetEvent _signal = new(false);
    private long _dropped;

    public ConsoleOutput(Stream output)
    {
        _out = output;
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "console-out" };
        _writer.Start();
    }

    /// <summary>Optional copy of everything written (tests, --log).</summary>
    public Action<byte>? Tap { get; set; }

    public void Write(byte b)
    {
        Tap?.Invoke(b);
        lock (_lock)
        {
            // If the host cannot keep up (stdout blocked), drop rather than stall the guest.
            if (_count == _buffer.Length) { _dropped++; return; }
            _buffer[_count++] = b;
        }
        if (b == '\n' || _count > 4096) _signal.Set();
    }

    private void WriterLoop()
    {
        while (true)
        {
            _signal.WaitOne(10);
            Flush();
            if (Volatile.Read(ref _disposed)) return;
        }
    }

    public void Flush()
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
            _out.Write(chunk, 0, n);
            _out.Flush();
        }
        catch (IOException) { }
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        _signal.Set();
        _writer.Join();
        Flush();
        _signal.Dispose();
    }
}
