using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trapeze.Vmm;

/// <summary>
/// Copies and fingerprints image files the way a sparse file deserves: only the extents the file system holds
/// data for are read (SEEK_DATA/SEEK_HOLE), and of those only the chunks that are not all zeroes are written, so
/// a 4 GiB disk with 200 MiB in use costs 200 MiB of reading and writing and stays sparse in its copy.
/// <para>The fingerprint is an XxHash3 of the file's logical contents (each non-zero chunk with its offset, then
/// the length): a copy has the fingerprint of its source whatever the two file systems made of the holes.</para>
/// </summary>
internal static partial class SparseFile
{
    /// <summary>Chunks are aligned to this, so that the fingerprint does not depend on where extents begin.</summary>
    private const int ChunkSize = 64 * 1024;
    private const int BufferSize = 1 << 20;

    /// <summary>Copies <paramref name="source"/> to the new file <paramref name="destination"/> (refused if it
    /// exists), makes the copy durable (fsync) and returns the fingerprint of what was copied. The source is read
    /// through a descriptor of its own without taking its lock: a running VM process holds its disks locked, and
    /// it is paused with its disks flushed while a snapshot copies them.</summary>
    public static ulong Copy(string source, string destination) => Walk(source, destination);

    /// <summary>The fingerprint of <paramref name="path"/>'s contents (see <see cref="Copy"/>).</summary>
    public static ulong Fingerprint(string path) => Walk(path, null);

    private static ulong Walk(string source, string? destination)
    {
        using SafeFileHandle input = OpenUnlocked(source);
        long length = RandomAccess.GetLength(input);
        using SafeFileHandle? output = destination == null ? null
            : File.OpenHandle(destination, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        if (output != null) RandomAccess.SetLength(output, length);
        var hash = new XxHash3();
        byte[] buffer = new byte[BufferSize];
        Span<byte> offsetBytes = stackalloc byte[8];
        long next = 0; // the first chunk not yet looked at
        foreach ((long start, long end) in DataExtents(input, length))
        {
            long from = Math.Max(next, start / ChunkSize * ChunkSize);
            long to = Math.Min(length, (end + ChunkSize - 1) / ChunkSize * ChunkSize);
            for (long at = from; at < to;)
            {
                int n = (int)Math.Min(buffer.Length, to - at);
                int got = ReadFully(input, buffer.AsSpan(0, n), at);
                buffer.AsSpan(got, n - got).Clear(); // the file shrank meanwhile: what is gone reads as zeroes
                for (int c = 0; c < n; c += ChunkSize)
                {
                    ReadOnlySpan<byte> chunk = buffer.AsSpan(c, Math.Min(ChunkSize, n - c));
                    if (chunk.IndexOfAnyExcept((byte)0) < 0) continue;
                    BinaryPrimitives.WriteInt64LittleEndian(offsetBytes, at + c);
                    hash.Append(offsetBytes);
                    hash.Append(chunk);
                    if (output != null) RandomAccess.Write(output, chunk, at + c);
                }
                at += n;
            }
            next = Math.Max(next, to);
        }
        BinaryPrimitives.WriteInt64LittleEndian(offsetBytes, length);
        hash.Append(offsetBytes);
        if (output != null) RandomAccess.FlushToDisk(output);
        return hash.GetCurrentHashAsUInt64();
    }

    private static int ReadFully(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer[total..], offset + total);
            if (n <= 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>The [start, end) ranges holding data, in order; the whole file where holes cannot be asked about.</summary>
    private static List<(long Start, long End)> DataExtents(SafeFileHandle file, long length)
    {
        var extents = new List<(long, long)>();
        if (!OperatingSystem.IsLinux())
        {
            if (length > 0) extents.Add((0, length));
            return extents;
        }
        const int SeekData = 3, SeekHole = 4;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int fd = (int)file.DangerousGetHandle();
            for (long position = 0; position < length;)
            {
                long data = lseek(fd, position, SeekData);
                if (data < 0)
                {
                    // ENXIO: no data after position. Anything else: the file system cannot say; read it all.
                    if (Marshal.GetLastPInvokeError() == ENXIO) break;
                    extents.Clear();
                    extents.Add((0, length));
                    return extents;
                }
                long hole = lseek(fd, data, SeekHole);
                if (hole < 0) hole = length;
                extents.Add((data, Math.Min(hole, length)));
                position = hole;
            }
            return extents;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>Opens for reading with open(2) itself: .NET's FileStream and File.OpenHandle take a shared flock,
    /// which a disk held by a running machine refuses.</summary>
    private static SafeFileHandle OpenUnlocked(string path)
    {
        int fd = open(path, ORdonly | OCloexec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENOENT) throw new FileNotFoundException($"'{path}' does not exist", path);
            throw new IOException($"cannot open '{path}': {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private const int ORdonly = 0, OCloexec = 0x80000, ENOENT = 2, ENXIO = 6;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);
}
