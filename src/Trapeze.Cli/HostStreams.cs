using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Trapeze.Cli;

/// <summary>
/// stdout and stderr as plain file descriptors. System.Console is not used for the guest console's
/// terminal: on first use it initialises the terminal (keypad transmit mode, left set after exit) and
/// re-applies its own settings whenever a child process exits.
/// </summary>
public static class HostStreams
{
    public static readonly TextWriter Out = Writer(1);
    public static readonly TextWriter Error = Writer(2);

    public static Stream OpenStdout() => new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, 1);

    private static TextWriter Writer(int fd) =>
        TextWriter.Synchronized(new StreamWriter(new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Write, 1),
            new UTF8Encoding(false)) { AutoFlush = true });
}
