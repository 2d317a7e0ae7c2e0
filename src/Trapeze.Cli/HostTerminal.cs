using System.Runtime.InteropServices;

namespace Trapeze.Cli;

/// <summary>
/// The POSIX terminal on stdin, reached through libc rather than <see cref="Console"/>: .NET's console
/// input on a terminal is a line editor of its own (it echoes, buffers until Enter and re-applies its own
/// termios before each read), and a child <c>stty</c> is undone by the runtime when the child exits.
/// </summary>
internal static unsafe partial class HostTerminal
{
    private const int Stdin = 0, TcsaNow = 0, Eintr = 4;
    private const int TermiosBytes = 256; // more than struct termios takes on any libc (60 bytes on glibc)

    /// <summary>True when stdin is a terminal.</summary>
    public static bool StdinIsTerminal => isatty(Stdin) == 1;

    /// <summary>Puts the stdin terminal in raw mode (<c>cfmakeraw</c>: no echo, no line editing, no
    /// signals from keys, no CR/NL translation) and returns the previous modes, or null if it cannot.</summary>
    public static byte[]? EnterRawMode()
    {
        byte* saved = stackalloc byte[TermiosBytes];
        byte* raw = stackalloc byte[TermiosBytes];
        new Span<byte>(saved, TermiosBytes).Clear();
        if (tcgetattr(Stdin, saved) != 0) return null;
        new Span<byte>(saved, TermiosBytes).CopyTo(new Span<byte>(raw, TermiosBytes));
        cfmakeraw(raw);
        if (tcsetattr(Stdin, TcsaNow, raw) != 0) return null;
        return new Span<byte>(saved, TermiosBytes).ToArray();
    }

    /// <summary>Gives the terminal back the modes <see cref="EnterRawMode"/> returned.</summary>
    public static void Restore(byte[] modes)
    {
        fixed (byte* m = modes) tcsetattr(Stdin, TcsaNow, m);
    }

    /// <summary>One read(2) from stdin: the bytes read, 0 at end of file, -1 on error.</summary>
    public static int ReadStdin(byte[] buffer)
    {
        while (true)
        {
            nint n;
            fixed (byte* b = buffer) n = read(Stdin, b, (nuint)buffer.Length);
            if (n < 0 && Marshal.GetLastPInvokeError() == Eintr) continue;
            return (int)n;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nuint count);
}
