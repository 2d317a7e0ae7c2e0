namespace Trapeze.Cli;

/// <summary>
/// Host keyboard to the guest console. On a terminal, stdin is switched to raw mode (restored on exit) so
/// every key reaches the guest; <c>Ctrl-A x</c> quits and <c>Ctrl-A Ctrl-A</c> sends a literal Ctrl-A, as
/// in QEMU's -nographic console. Attached to a running VM's console (<c>trapeze console</c>), <c>Ctrl-A d</c>
/// (or x) detaches instead, and the VM keeps running.
/// </summary>
public sealed class TerminalInput : IDisposable
{
    private const byte CtrlA = 0x01;
    private readonly Action<ReadOnlySpan<byte>> _deliver;
    private readonly Action _quit;
    private readonly Action<string> _message;
    private readonly bool _attached;
    private byte[]? _savedMode;
    private Thread? _reader;

    /// <param name="attached">Ctrl-A d and Ctrl-A x detach from a VM that goes on running (quit is then the detach).</param>
    public TerminalInput(Action<ReadOnlySpan<byte>> deliver, Action quit, Action<string> message, bool attached = false)
    {
        _attached = attached;
        _deliver = deliver;
        _quit = quit;
        _message = message;
    }

    /// <summary>Called when stdin ends (a pipe closed; never on a terminal).</summary>
    public Action? EndOfInput { get; init; }

    public void Start()
    {
        if (HostTerminal.StdinIsTerminal)
        {
            _savedMode = HostTerminal.EnterRawMode();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Restore();
        }
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "console-in" };
        _reader.Start();
    }

    private void ReadLoop()
    {
        var buf = new byte[256];
        var outBuf = new byte[512];
        bool escape = false;
        while (true)
        {
            int n;
            // read(2) on fd 0 itself: .NET's console stream on a terminal is a line editor (see HostTerminal).
            n = HostTerminal.ReadStdin(buf);
            if (n <= 0)
            {
                EndOfInput?.Invoke();
                return;
            }
            int o = 0;
            for (int i = 0; i < n; i++)
            {
                byte b = buf[i];
                if (escape)
                {
                    escape = false;
                    switch (b)
                    {
                        case (byte)'d' or (byte)'D' or (byte)'x' or (byte)'X' when _attached:
                            Restore();
                            _message("\r\nTrapeze: detached (Ctrl-A d); the VM keeps running\r\n");
                            _quit();
                            return;
                        case (byte)'x' or (byte)'X':
                            Restore();
                            _message("\r\nTrapeze: terminated (Ctrl-A x)\r\n");
                            _quit();
                            return;
                        case (byte)'h' or (byte)'H' or (byte)'?':
                            _message(_attached
                                ? "\r\nC-a h    print this help\r\nC-a d    detach (the VM keeps running)\r\nC-a C-a  send C-a\r\n"
                                : "\r\nC-a h    print this help\r\nC-a x    exit\r\nC-a C-a  send C-a\r\n");
                            continue;
                        case CtrlA:
                            outBuf[o++] = CtrlA;
                            continue;
                        default:
                            outBuf[o++] = CtrlA;
                            outBuf[o++] = b;
                            continue;
                    }
                }
                if (b == CtrlA) { escape = true; continue; }
                outBuf[o++] = b;
            }
            if (o > 0) _deliver(outBuf.AsSpan(0, o));
        }
    }

    private void Restore()
    {
        byte[]? mode = Interlocked.Exchange(ref _savedMode, null);
        if (mode != null) HostTerminal.Restore(mode);
    }

    public void Dispose() => Restore();
}
