using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trapeze.Devices.Storage;

/// <summary>
/// A raw image file. I/O goes straight to the file with positioned reads and writes (no user-space
/// cache), so a write the guest saw complete is in the host kernel and survives the death of this
/// process; <see cref="Flush"/> (fdatasync) makes it survive the host's. A writable image is locked
/// exclusively (flock), so two machines cannot write one disk; a read-only one shares the lock.
/// </summary>
public sealed class RawDiskImage : IDiskImage
{
    private const int FallocKeepSize = 0x01, FallocPunchHole = 0x02, FallocZeroRange = 0x10;
    private const int ZeroChunk = 1 << 16;

    private readonly SafeFileHandle _file;
    private bool _punchHoleUnsupported;
    private bool _zeroRangeUnsupported;

    private RawDiskImage(string name, SafeFileHandle file, ulong length, bool readOnly)
    {
        Name = name;
        _file = file;
        Length = length;
        ReadOnly = readOnly;
    }

    public string Name { get; }

    public ulong Length { get; }

    public bool ReadOnly { get; }

    /// <summary>Opens an image; a missing, unreadable, locked or non-regular file is a
    /// <see cref="DiskImageException"/> with a one-line message.</summary>
    public static RawDiskImage Open(string path, bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(path);
        string name = Path.GetFileName(path);
        if (Directory.Exists(path)) throw new DiskImageException($"disk image '{path}' is a directory");
        if (!File.Exists(path)) throw new DiskImageException($"disk image '{path}' does not exist");
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None);
        }
        catch (UnauthorizedAccessException)
        {
            throw new DiskImageException(readOnly
                ? $"disk image '{path}' is not readable (permission denied)"
                : $"disk image '{path}' is not writable (permission denied; add readonly=on to use it read-only)");
        }
        catch (IOException e)
        {
            throw new DiskImageException($"disk image '{path}' cannot be opened{(readOnly ? "" : " for writing")}: {e.Message}" +
                (readOnly ? "" : " (is another machine using it?)"), e);
        }
        try
        {
            long length = RandomAccess.GetLength(file);
            return new RawDiskImage(name, file, (ulong)length, readOnly);
        }
        catch (Exception e) when (e is IOException or NotSupportedException or UnauthorizedAccessException)
        {
            file.Dispose();
            throw new DiskImageException($"disk image '{path}' is not a regular file: {e.Message}", e);
        }
    }

    public void Read(ulong offset, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = RandomAccess.Read(_file, buffer, checked((long)offset));
            if (n <= 0)
            {
                buffer.Clear(); // past the end of a file that shrank under us
                return;
            }
            buffer = buffer[n..];
            offset += (ulong)n;
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (ReadOnly) throw new IOException($"{Name} is read-only");
        RandomAccess.Write(_file, data, checked((long)offset));
    }

    public void Flush()
    {
        if (!ReadOnly) RandomAccess.FlushToDisk(_file);
    }

    public void Discard(ulong offset, ulong length)
    {
        if (ReadOnly) throw new IOException($"{Name} is read-only");
        // Advisory: when the file system cannot punch holes, the data simply stays.
        TryFallocate(FallocPunchHole | FallocKeepSize, offset, length, ref _punchHoleUnsupported);
    }

    public void WriteZeroes(ulong offset, ulong length, bool mayUnmap)
    {
        if (ReadOnly) throw new IOException($"{Name} is read-only");
        if (length == 0) return;
        if (mayUnmap && TryFallocate(FallocPunchHole | FallocKeepSize, offset, length, ref _punchHoleUnsupported)) return;
        if (TryFallocate(FallocZeroRange | FallocKeepSize, offset, length, ref _zeroRangeUnsupported)) return;
        byte[] zeroes = new byte[(int)Math.Min(length, ZeroChunk)];
        while (length > 0)
        {
            int n = (int)Math.Min(length, (ulong)zeroes.Length);
            RandomAccess.Write(_file, zeroes.AsSpan(0, n), checked((long)offset));
            offset += (ulong)n;
            length -= (ulong)n;
        }
    }

    private bool TryFallocate(int mode, ulong offset, ulong length, ref bool unsupported)
    {
        if (unsupported || !OperatingSystem.IsLinux()) return false;
        bool added = false;
        try
        {
            _file.DangerousAddRef(ref added);
            int fd = (int)_file.DangerousGetHandle();
            if (fallocate(fd, mode, checked((long)offset), checked((long)length)) == 0) return true;
            // Any failure falls back (to writing zeroes, or to keeping discarded data); stop trying
            // for good only when the file system says it cannot do this at all.
            const int EOPNOTSUPP = 95, ENOSYS = 38;
            if (Marshal.GetLastPInvokeError() is EOPNOTSUPP or ENOSYS) unsupported = true;
            return false;
        }
        finally
        {
            if (added) _file.DangerousRelease();
        }
    }

    public void Dispose() => _file.Dispose();

    [DllImport("libc", SetLastError = true)]
    private static extern int fallocate(int fd, int mode, long offset, long len);
}
