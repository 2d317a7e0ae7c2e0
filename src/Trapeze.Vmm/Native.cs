using System.Runtime.InteropServices;

namespace Trapeze.Vmm;

/// <summary>The few POSIX calls a VM process and the daemon need that .NET does not offer.</summary>
public static partial class Native
{
    private const int ORdonly = 0, OWronly = 1, OCreat = 0x40, OAppend = 0x400;

    /// <summary>Leaves the caller's session and process group, so the terminal's signals (Ctrl-C, hang-up)
    /// no longer reach this process.</summary>
    public static void DetachFromTerminal() => setsid();

    /// <summary>Points stdin at /dev/null and stdout, stderr at <paramref name="logPath"/>.</summary>
    public static void RedirectStdio(string logPath)
    {
        int nul = open("/dev/null", ORdonly, 0);
        if (nul >= 0) { dup2(nul, 0); close(nul); }
        int log = open(logPath, OWronly | OCreat | OAppend, 0x180);
        if (log >= 0) { dup2(log, 1); dup2(log, 2); close(log); }
    }

    /// <summary>Files and sockets made from now on are private to the user (sockets included: that is
    /// what makes the API sockets mode 0600 from the moment they exist).</summary>
    public static void MakeCreatedFilesPrivate() => umask(0x3f);

    /// <summary>Makes the renames and creations in <paramref name="directory"/> durable (POSIX records them in
    /// the directory, which has to be synced itself). Best effort: where it fails, a crash of the host may lose
    /// the last rename, never the content of a file renamed before.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = open(directory, ORdonly, 0); // O_RDONLY: enough to fsync a directory on Linux
        if (fd < 0) return;
        fsync(fd);
        close(fd);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int from, int to);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc")]
    private static partial int umask(int mask);
}
