using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Trapeze.Integration.Tests;

/// <summary>
/// Runs <c>trapeze</c> the way a user at a terminal does: stdin and stdout on the slave side of a fresh
/// Linux pseudo-terminal that is the process's controlling terminal (so the line discipline's signals,
/// echo and newline translation apply unless trapeze turns them off), stderr on a pipe. The test plays the
/// keyboard and the screen through the master side.
/// </summary>
public sealed class TerminalSession : IDisposable
{
    private readonly int _master;
    private readonly int _slave;
    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly Thread _reader;
    private readonly StringBuilder _screen = new();
    private readonly object _lock = new();
    private readonly string _commandLine;
    private int _cursor;
    private bool _readerDone;

    public TerminalSession(IEnumerable<string> trapezeArgs)
    {
        var args = trapezeArgs.ToList();
        _commandLine = "trapeze " + string.Join(' ', args);
        _master = LibC.posix_openpt(LibC.O_RDWR | LibC.O_NOCTTY);
        if (_master < 0) throw new InvalidOperationException($"posix_openpt failed (errno {Marshal.GetLastPInvokeError()})");
        if (LibC.grantpt(_master) != 0 || LibC.unlockpt(_master) != 0)
            throw new InvalidOperationException($"grantpt/unlockpt failed (errno {Marshal.GetLastPInvokeError()})");
        SlavePath = LibC.PtsName(_master);
        // Held open by the test: the terminal stays usable (reads on the master do not fail) between the
        // child's open and exit, and lets the test read the terminal's modes.
        _slave = LibC.open(SlavePath, LibC.O_RDWR | LibC.O_NOCTTY);
        if (_slave < 0) throw new InvalidOperationException($"cannot open {SlavePath} (errno {Marshal.GetLastPInvokeError()})");
        InitialModes = ReadModes();

        // sh puts the terminal on stdin/stdout; setsid -c makes it the controlling terminal of a new session
        // (as a login shell's terminal is), -w keeps trapeze's exit code if setsid had to fork.
        var psi = new ProcessStartInfo("sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec setsid -w -c \"$@\" <\"$0\" >\"$0\"");
        psi.ArgumentList.Add(SlavePath);
        psi.ArgumentList.Add(TrapezeCli.DotnetHost);
        psi.ArgumentList.Add(TrapezeCli.DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start sh");
        _process.StandardInput.Close();
        _stderr = _process.StandardError.ReadToEndAsync();
        _ = _process.StandardOutput.ReadToEndAsync();

        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "pty-reader" };
        _reader.Start();
    }

    public string SlavePath { get; }

    /// <summary>The terminal's modes before trapeze started.</summary>
    public TerminalModes InitialModes { get; }

    /// <summary>Everything the guest console wrote so far (bytes as Latin-1 characters).</summary>
    public string Screen
    {
        get { lock (_lock) return _screen.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public unsafe TerminalModes ReadModes()
    {
        byte* t = stackalloc byte[256]; // struct termios is 60 bytes on Linux; room to spare
        if (LibC.tcgetattr(_slave, t) != 0)
            throw new InvalidOperationException($"tcgetattr failed (errno {Marshal.GetLastPInvokeError()})");
        uint* w = (uint*)t;
        return new TerminalModes(w[0], w[1], w[3]);
    }

    private unsafe void ReadLoop()
    {
        var buf = new byte[4096];
        while (true)
        {
            nint n;
            fixed (byte* p = buf) n = LibC.read(_master, p, (nuint)buf.Length);
            if (n < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR) continue;
            lock (_lock)
            {
                if (n <= 0) { _readerDone = true; Monitor.PulseAll(_lock); return; }
                _screen.Append(Encoding.Latin1.GetString(buf, 0, (int)n));
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>Types bytes on the keyboard.</summary>
    public unsafe void Type(string keys)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(keys);
        int off = 0;
        while (off < bytes.Length)
        {
            nint n;
            fixed (byte* p = bytes) n = LibC.write(_master, p + off, (nuint)(bytes.Length - off));
            if (n < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR) continue;
            if (n <= 0) throw new IOException($"write to the terminal failed (errno {Marshal.GetLastPInvokeError()})");
            off += (int)n;
        }
    }

    /// <summary>Waits until <paramref name="text"/> appears after what earlier waits consumed, and returns the
    /// screen output from there up to and including it. Fails the test (with the screen and stderr) after
    /// <paramref name="timeout"/> or as soon as trapeze has exited without printing it.</summary>
    public string WaitFor(string text, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TrapezeCli.DefaultTimeout;
        var deadline = DateTime.UtcNow + limit;
        DateTime? exitSeen = null;
        lock (_lock)
        {
            while (true)
            {
                string screen = _screen.ToString();
                int at = screen.IndexOf(text, _cursor, StringComparison.Ordinal);
                if (at >= 0)
                {
                    int end = at + text.Length;
                    string chunk = screen[_cursor..end];
                    _cursor = end;
                    return chunk;
                }
                var now = DateTime.UtcNow;
                if (now >= deadline) Fail($"'{Escape(text)}' did not appear within {limit.TotalSeconds} s");
                // Once trapeze is gone, give the reader a moment for output still in the terminal's buffer.
                if (_process.HasExited || _readerDone)
                {
                    exitSeen ??= now;
                    if (now - exitSeen > TimeSpan.FromSeconds(2)) Fail($"trapeze exited before '{Escape(text)}' appeared");
                }
                Monitor.Wait(_lock, TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>Waits for trapeze to exit and returns its exit code; fails the test after the timeout.</summary>
    public int WaitForExit(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TrapezeCli.DefaultTimeout;
        if (!_process.WaitForExit(limit)) Fail($"trapeze did not exit within {limit.TotalSeconds} s");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>trapeze's stderr; only complete once it has exited.</summary>
    public string Stderr => _process.HasExited ? _stderr.Result : "(still running)";

    private void Fail(string what)
    {
        string screen = Screen;
        if (screen.Length > 6000) screen = "..." + screen[^6000..];
        string stderr = _process.HasExited ? _stderr.Result : "(trapeze still running)";
        Assert.Fail($"{_commandLine}: {what}\n--- screen (its end; the last match ended at offset {_cursor}) ---\n{Escape(screen)}\n--- stderr ---\n{stderr}");
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c == '\n' || c == '\t' || (c >= ' ' && c < 0x7f)) sb.Append(c);
            else sb.Append($"\\x{(int)c:x2}");
        }
        return sb.ToString();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
            _process.WaitForExit(10_000);
        }
        // With trapeze gone and the test's slave descriptor closed, the reader's read() ends (EIO).
        LibC.close(_slave);
        _reader.Join(TimeSpan.FromSeconds(5));
        LibC.close(_master);
        _process.Dispose();
    }
}

/// <summary>The parts of a terminal's termios the tests look at (Linux flag values).</summary>
public readonly record struct TerminalModes(uint InputFlags, uint OutputFlags, uint LocalFlags)
{
    private const uint Isig = 0x1, Icanon = 0x2, Echo = 0x8, Icrnl = 0x100;

    /// <summary>Keys reach the program one by one as typed: no line editing, no echo, no signals from
    /// Ctrl-C/Ctrl-Z/Ctrl-\, Enter stays CR (what a serial console expects).</summary>
    public bool PassesKeysThrough => (LocalFlags & (Isig | Icanon | Echo)) == 0 && (InputFlags & Icrnl) == 0;

    public override string ToString() => $"iflag=0x{InputFlags:x} oflag=0x{OutputFlags:x} lflag=0x{LocalFlags:x}";
}
