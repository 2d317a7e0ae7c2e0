using Microsoft.Win32.SafeHandles;

namespace Trapeze.Devices.Storage;

/// <summary>How to open a disk image.</summary>
/// <param name="Format">"raw", "qcow2", or null to probe: the qcow2 magic means qcow2, anything else raw
/// (a probed raw image refuses guest writes of the qcow2 magic to its first sector).</param>
/// <param name="AllowExternalBacking">Follow qcow2 backing file names outside the image's directory.</param>
public sealed record DiskOpenOptions(string? Format = null, bool ReadOnly = false, bool AllowExternalBacking = false);

/// <summary>What <c>disk info</c> reports.</summary>
public sealed record DiskImageInfo(string Format, ulong VirtualSize, ulong FileSize, ulong DiskUsage)
{
    public int? ClusterSize { get; init; }
    public int? Version { get; init; }
    public int? RefcountBits { get; init; }
    public string? BackingFile { get; init; }
    public string? BackingFormat { get; init; }
    public bool Dirty { get; init; }
    public bool Corrupt { get; init; }
    public uint Snapshots { get; init; }
}

/// <summary>
/// The image formats Trapeze knows (raw, qcow2) and the operations on image files: probe, open, create,
/// grow, describe, convert. New files are written under a temporary name and renamed into place, so a
/// failure never leaves a half-written image under the name asked for.
/// </summary>
public static class DiskImages
{
    public const string Raw = "raw", Qcow2 = "qcow2";

    /// <summary>"qcow2" when the file starts with the qcow2 magic, else "raw".</summary>
    public static string Detect(string path)
    {
        using SafeFileHandle file = ImageFile.Open(Path.GetFullPath(path), readOnly: true);
        Span<byte> start = stackalloc byte[4];
        start.Clear();
        try { RandomAccess.Read(file, start, 0); }
        catch (IOException e) { throw new DiskImageException($"cannot read '{path}': {e.Message}", e); }
        return ProbedRawDiskImage.HasQcow2Magic(start) ? Qcow2 : Raw;
    }

    public static IDiskImage Open(string path, DiskOpenOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new DiskOpenOptions();
        string format = options.Format ?? Detect(path);
        return format switch
        {
            Raw when options.Format == null => new ProbedRawDiskImage(RawDiskImage.Open(path, options.ReadOnly)),
            Raw => RawDiskImage.Open(path, options.ReadOnly),
            Qcow2 => Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = options.ReadOnly, AllowExternalBacking = options.AllowExternalBacking }),
            _ => throw new DiskImageException($"disk image format '{format}' is not supported (raw, qcow2)"),
        };
    }

    internal static IDiskImage OpenBacking(string path, string? format, Qcow2OpenOptions options) =>
        (format ?? Detect(path)) switch
        {
            Raw => RawDiskImage.Open(path, readOnly: true),
            Qcow2 => Qcow2Image.Open(path, options),
            var other => throw new DiskImageException($"'{path}': backing format '{other}' is not supported (raw, qcow2)"),
        };

    /// <summary>Creates a new image (refusing to replace an existing file). A qcow2 image may have a backing
    /// file, named relative to the new image's directory; <paramref name="length"/> 0 then takes its size.</summary>
    public static void Create(string path, string format, ulong length, int clusterSize = Qcow2Image.DefaultClusterSize,
        string? backingFile = null, string? backingFormat = null, bool allowExternalBacking = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full) || Directory.Exists(full)) throw new DiskImageException($"'{path}' already exists (remove it first)");
        if (format is not (Raw or Qcow2)) throw new DiskImageException($"disk image format '{format}' is not supported (raw, qcow2)");
        if (backingFile != null)
        {
            if (format != Qcow2) throw new DiskImageException("only qcow2 images can have a backing file");
            string directory = Path.GetDirectoryName(full) ?? "/";
            string backingPath = Path.GetFullPath(Path.IsPathRooted(backingFile) ? backingFile : Path.Combine(directory, backingFile));
            if (!File.Exists(backingPath)) throw new DiskImageException($"backing file '{backingFile}' does not exist (relative names are taken from the new image's directory)");
            if (!allowExternalBacking && !ImageFile.IsInside(ImageFile.RealPath(backingPath), ImageFile.RealPath(directory)))
                throw new DiskImageException($"backing file '{backingFile}' is outside the new image's directory; the image could not be opened " +
                    "without allowing external backing files (say so explicitly if that is what you want)");
            backingFormat ??= Detect(backingPath);
            using IDiskImage backing = OpenBacking(backingPath, backingFormat,
                new Qcow2OpenOptions { ReadOnly = true, AllowExternalBacking = allowExternalBacking });
            if (length == 0) length = backing.Length;
        }
        if (length % 512 != 0) throw new DiskImageException($"size {length} is not a multiple of 512 bytes");
        WriteThenRename(full, temp =>
        {
            if (format == Raw)
            {
                using SafeFileHandle file = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
                RandomAccess.SetLength(file, checked((long)length));
            }
            else
            {
                Qcow2Image.Create(temp, length, clusterSize, backingFile, backingFormat);
            }
        });
    }

    /// <summary>Grows an image to <paramref name="length"/> bytes (or by it, when <paramref name="relative"/>);
    /// returns the new size. Shrinking is refused.</summary>
    public static ulong Resize(string path, ulong length, bool relative, DiskOpenOptions? options = null)
    {
        options ??= new DiskOpenOptions();
        string format = options.Format ?? Detect(path);
        if (format == Qcow2)
        {
            using Qcow2Image image = Qcow2Image.Open(path, new Qcow2OpenOptions { AllowExternalBacking = options.AllowExternalBacking });
            ulong target = NewLength(path, image.Length, length, relative);
            image.Grow(target);
            return target;
        }
        if (format != Raw) throw new DiskImageException($"disk image format '{format}' is not supported (raw, qcow2)");
        using SafeFileHandle file = ImageFile.Open(Path.GetFullPath(path), readOnly: false);
        ulong current = (ulong)RandomAccess.GetLength(file);
        ulong newLength = NewLength(path, current, length, relative);
        try
        {
            RandomAccess.SetLength(file, checked((long)newLength));
            RandomAccess.FlushToDisk(file);
        }
        catch (Exception e) when (e is IOException or OverflowException)
        {
            throw new DiskImageException($"cannot resize '{path}': {e.Message}", e);
        }
        return newLength;
    }

    private static ulong NewLength(string path, ulong current, ulong length, bool relative)
    {
        if (relative && length > ulong.MaxValue - current) throw new DiskImageException($"'{path}': size too large");
        ulong target = relative ? current + length : length;
        if (target < current)
            throw new DiskImageException($"'{path}': shrinking from {current} to {target} bytes is not supported (it would discard the end of the disk)");
        if (target % 512 != 0) throw new DiskImageException($"size {target} is not a multiple of 512 bytes");
        return target;
    }

    /// <summary>Describes an image without opening its backing file; dirty and corrupt images are
    /// described too (read-only).</summary>
    public static DiskImageInfo Info(string path, string? format = null)
    {
        format ??= Detect(path);
        ulong fileSize, usage;
        using (SafeFileHandle file = ImageFile.Open(Path.GetFullPath(path), readOnly: true))
        {
            fileSize = (ulong)RandomAccess.GetLength(file);
            usage = ImageFile.AllocatedBytes(file);
        }
        if (format == Raw) return new DiskImageInfo(Raw, fileSize, fileSize, usage);
        if (format != Qcow2) throw new DiskImageException($"disk image format '{format}' is not supported (raw, qcow2)");
        using Qcow2Image image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true, OpenBacking = false });
        return new DiskImageInfo(Qcow2, image.Length, fileSize, usage)
        {
            ClusterSize = image.ClusterSize,
            Version = image.Version,
            RefcountBits = image.RefcountBits,
            BackingFile = image.BackingFileName,
            BackingFormat = image.BackingFormat,
            Dirty = image.Dirty,
            Corrupt = image.Corrupt,
            Snapshots = image.SnapshotCount,
        };
    }

    /// <summary>Copies the contents of <paramref name="source"/> (its backing chain flattened) into a new
    /// image; ranges that read as zeroes are not written, so they stay holes or unallocated clusters.</summary>
    public static void Convert(string source, string destination, string format, DiskOpenOptions? sourceOptions = null,
        int clusterSize = Qcow2Image.DefaultClusterSize)
    {
        string full = Path.GetFullPath(destination);
        if (File.Exists(full) || Directory.Exists(full)) throw new DiskImageException($"'{destination}' already exists (remove it first)");
        if (format is not (Raw or Qcow2)) throw new DiskImageException($"disk image format '{format}' is not supported (raw, qcow2)");
        using IDiskImage input = Open(source, (sourceOptions ?? new DiskOpenOptions()) with { ReadOnly = true });
        ulong length = input.Length;
        WriteThenRename(full, temp =>
        {
            if (format == Raw)
            {
                using (SafeFileHandle file = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
                    RandomAccess.SetLength(file, checked((long)length));
            }
            else
            {
                Qcow2Image.Create(temp, length, clusterSize);
            }
            using IDiskImage output = format == Raw ? RawDiskImage.Open(temp, readOnly: false)
                : Qcow2Image.Open(temp, new Qcow2OpenOptions());
            int granule = format == Qcow2 ? clusterSize : 64 * 1024;
            byte[] buffer = new byte[Math.Max(granule, 1 << 20)];
            for (ulong offset = 0; offset < length;)
            {
                int n = (int)Math.Min((ulong)buffer.Length, length - offset);
                input.Read(offset, buffer.AsSpan(0, n));
                for (int at = 0; at < n; at += granule)
                {
                    ReadOnlySpan<byte> piece = buffer.AsSpan(at, Math.Min(granule, n - at));
                    if (piece.IndexOfAnyExcept((byte)0) >= 0) output.Write(offset + (ulong)at, piece);
                }
                offset += (ulong)n;
            }
            output.Flush();
        });
    }

    /// <summary>Runs <paramref name="write"/> on a temporary file beside <paramref name="path"/>, then renames
    /// it into place (never replacing a file); the temporary file is removed on any failure.</summary>
    private static void WriteThenRename(string path, Action<string> write)
    {
        string directory = Path.GetDirectoryName(path) ?? "/";
        if (!Directory.Exists(directory)) throw new DiskImageException($"directory '{directory}' does not exist");
        string temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            write(temp);
            File.Move(temp, path, overwrite: false);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is DiskImageException) throw;
            if (e is IOException or UnauthorizedAccessException) throw new DiskImageException($"cannot write '{path}': {e.Message}", e);
            throw;
        }
    }
}
