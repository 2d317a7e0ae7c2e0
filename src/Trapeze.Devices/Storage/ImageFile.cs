using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trapeze.Devices.Storage;

/// <summary>Host-file helpers shared by the image formats: opening with a lock and one-line errors,
/// resolving symbolic links, and measuring how much of a sparse file is really allocated.</summary>
internal static class ImageFile
{
    /// <summary>Opens an image file: exclusively locked when writable, shared when read-only; a missing,
    /// unreadable or locked file is a <see cref="DiskImageException"/>.</summary>
    public static SafeFileHandle Open(string path, bool readOnly)
    {
        if (Directory.Exists(path)) throw new DiskImageException($"disk image '{path}' is a directory");
        if (!File.Exists(path)) throw new DiskImageException($"disk image '{path}' does not exist");
        try
        {
            return File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None);
        }
        catch (UnauthorizedAccessException)
        {
            throw new DiskImageException(readOnly
                ? $"disk image '{path}' is not readable (permission denied)"
                : $"disk image '{path}' is not writable (permission denied; open it read-only instead)");
        }
        catch (IOException e)
        {
            throw new DiskImageException($"disk image '{path}' cannot be opened{(readOnly ? "" : " for writing")}: {e.Message}" +
                (readOnly ? "" : " (is another machine using it?)"), e);
        }
    }

    /// <summary>The path with every symbolic link resolved (realpath(3)); the lexical full path where
    /// the C library cannot say.</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows()) return full;
        IntPtr resolved = realpath(full, IntPtr.Zero);
        if (resolved == IntPtr.Zero) return full;
        try { return Marshal.PtrToStringUTF8(resolved) ?? full; }
        finally { free(resolved); }
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="directory"/> or below it.</summary>
    public static bool IsInside(string path, string directory)
    {
        string relative = Path.GetRelativePath(directory, path);
        if (Path.IsPathRooted(relative)) return false;
        return relative != ".." && !relative.StartsWith("../", StringComparison.Ordinal);
    }

    /// <summary>Bytes of the file that hold data (SEEK_DATA/SEEK_HOLE), or its length where holes
    /// cannot be asked about.</summary>
    public static ulong AllocatedBytes(SafeFileHandle file)
    {
        long length = RandomAccess.GetLength(file);
        if (!OperatingSystem.IsLinux()) return (ulong)length;
        const int SeekData = 3, SeekHole = 4;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int fd = (int)file.DangerousGetHandle();
            long total = 0, position = 0;
            while (position < length)
            {
                long data = lseek(fd, position, SeekData);
                if (data < 0) break; // ENXIO: no data after position
                long hole = lseek(fd, data, SeekHole);
                if (hole < 0) return (ulong)length;
                total += hole - data;
                position = hole;
            }
            return (ulong)total;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);

    [DllImport("libc", SetLastError = true)]
    private static extern long lseek(int fd, long offset, int whence);
}
