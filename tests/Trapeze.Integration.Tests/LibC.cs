using System.Runtime.InteropServices;

namespace Trapeze.Integration.Tests;

/// <summary>The few libc calls the pseudo-terminal tests need (Linux).</summary>
internal static unsafe partial class LibC
{
    public const int O_RDWR = 2, O_NOCTTY = 0x100, EINTR = 4;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int grantpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int unlockpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ptsname_r(int fd, byte* buf, nuint len);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcgetattr(int fd, byte* termios);

    public static string PtsName(int fd)
    {
        byte* buf = stackalloc byte[256];
        if (ptsname_r(fd, buf, 256) != 0) throw new InvalidOperationException($"ptsname_r failed (errno {Marshal.GetLastPInvokeError()})");
        return Marshal.PtrToStringUTF8((nint)buf)!;
    }
}
