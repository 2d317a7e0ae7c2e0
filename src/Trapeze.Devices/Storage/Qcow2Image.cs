using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Trapeze.Devices.Storage;

/// <summary>How a qcow2 image is opened.</summary>
public sealed record Qcow2OpenOptions
{
    public bool ReadOnly { get; init; }

    /// <summary>Follow a backing file name that leads outside the image's own directory. Off by default:
    /// the name is data from the image, and a hostile image must not make us read /etc/shadow.</summary>
    public bool AllowExternalBacking { get; init; }

    /// <summary>Open the backing file (off for <c>disk info</c>, which only describes the image).</summary>
    public bool OpenBacking { get; init; } = true;

    /// <summary>How many images above this one in a backing chain.</summary>
    internal int Depth { get; init; }
}

/// <summary>
/// A qcow2 image (QEMU docs/interop/qcow2.txt), version 3, and version 2 as well: two-level cluster
/// mapping (L1 in memory, L2 tables in a bounded LRU cache), refcounts of 16 bits (the only width we
/// write), zero clusters, discard, backing files (read-through and copy-on-write), deflate-compressed
/// clusters (read; a write copies them out), growing resize and creation.
///
/// <para>Trust: every header field and table is bounded before anything is allocated from it, and a
/// pointer found later in the tables is checked before it is followed. Corrupt metadata found while
/// running is an <see cref="IOException"/> (an I/O error for the guest); a writable image then gets its
/// corrupt bit set and turns read-only, as QEMU does.</para>
///
/// <para>Crash consistency. Metadata is written through at once (the caches hold clean copies only), in
/// this order: a cluster's refcount is written and made durable (fdatasync) before any table points at
/// it — clusters are claimed in batches, one fdatasync per batch, and a batch not used up by a crash is
/// only leaked space; data before the L2 entry that maps it; a new L2 table's contents, then a barrier,
/// then the L1 entry; a new refcount block, then a barrier, then its refcount-table entry; a new table
/// (L1 or refcount), a barrier, the header, a barrier, and only then the old table is freed. A freed
/// cluster's refcount drops only after the entries that pointed at it are durable (at the next flush).
/// Any crash therefore leaves at worst leaked clusters, never a cluster used twice.</para>
/// </summary>
public sealed class Qcow2Image : IDiskImage
{
    public const int DefaultClusterSize = 64 * 1024;
    public const int MinClusterBits = 9, MaxClusterBits = 21;
    public const int MaxBackingNameLength = 1023;
    /// <summary>QEMU's limits on the L1 table and refcount table (so images QEMU opens, we open).</summary>
    public const ulong MaxL1Bytes = 32 << 20, MaxRefcountTableBytes = 8 << 20;
    public const int MaxBackingDepth = 16;

    internal const ulong IncompatDirty = 1, IncompatCorrupt = 2, IncompatExternalData = 4, IncompatCompressionType = 8, IncompatExtendedL2 = 16;
    private const ulong KnownIncompatible = IncompatDirty | IncompatCorrupt | IncompatExternalData | IncompatCompressionType | IncompatExtendedL2;

    internal const ulong OffsetMask = 0x00ff_ffff_ffff_fe00;
    internal const ulong FlagCopied = 1UL << 63, FlagCompressed = 1UL << 62, FlagZero = 1;
    private const ulong L1ReservedMask = 0x7f00_0000_0000_01ff;
    private const ulong L2ReservedMask = 0x3f00_0000_0000_01fe;
    private const ulong RefcountTableReservedMask = 0x1ff;

    internal const uint ExtensionEnd = 0, ExtensionBackingFormat = 0xe2792aca, ExtensionFeatureNames = 0x6803f857;

    // Header field offsets (qcow2.txt "Header").
    internal const int HdrVersion = 4, HdrBackingOffset = 8, HdrBackingSize = 16, HdrClusterBits = 20, HdrSize = 24,
        HdrCryptMethod = 32, HdrL1Size = 36, HdrL1Offset = 40, HdrRefcountTableOffset = 48, HdrRefcountTableClusters = 56,
        HdrSnapshotCount = 60, HdrSnapshotsOffset = 64, HdrIncompatible = 72, HdrCompatible = 80, HdrAutoclear = 88,
        HdrRefcountOrder = 96, HdrHeaderLength = 100, HdrCompressionType = 104;
    internal const int V2HeaderLength = 72, V3MinHeaderLength = 104, V3HeaderLength = 112;

    internal static ReadOnlySpan<byte> Magic => [(byte)'Q', (byte)'F', (byte)'I', 0xfb];

    private readonly object _lock = new();
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly int _clusterBits;
    private readonly ulong _clusterSize;
    private readonly int _l2Bits;
    private readonly ulong _refcountBlockEntries;
    private readonly ClusterCache _l2Cache;
    private readonly ClusterCache _refcountCache;
    private readonly byte[] _clusterBuffer;
    private readonly int _csizeShift;
    private readonly ulong _csizeMask, _compressedOffsetMask;

    private ulong[] _l1 = [];
    private ulong _l1Offset;
    private ulong[] _refcountTable = [];
    private ulong _refcountTableOffset;
    private ulong _refcountTableClusters;
    private IDiskImage? _backing;
    private ulong _fileLength;
    private bool _corrupt;
    private bool _disposed;

    // Allocation state (writable images only).
    private readonly HashSet<ulong> _l2Offsets = new();
    private readonly HashSet<ulong> _refcountBlockOffsets = new();
    private readonly Queue<ulong> _reserved = new();
    private readonly List<ulong> _pendingFrees = new();
    private ulong _freeHint = 1;
    private ulong _allocationEnd;

    // The last decompressed cluster (a guest reading a compressed cluster piece by piece inflates it once).
    private ulong _inflatedEntry;
    private byte[]? _inflated;

    private Qcow2Image(string path, SafeFileHandle file, int clusterBits, bool readOnly)
    {
        _path = path;
        _file = file;
        Name = Path.GetFileName(path);
        ReadOnly = readOnly;
        _clusterBits = clusterBits;
        _clusterSize = 1UL << clusterBits;
        _l2Bits = clusterBits - 3;
        _refcountBlockEntries = _clusterSize / 2;
        // About 4 MiB of each kind of table, and never fewer than 8 (a 2 MiB-cluster image then holds 16 MiB).
        int capacity = Math.Max(8, (int)((4UL << 20) >> clusterBits));
        _l2Cache = new ClusterCache(capacity);
        _refcountCache = new ClusterCache(capacity);
        _clusterBuffer = new byte[_clusterSize];
        _csizeShift = 62 - (clusterBits - 8);
        _csizeMask = (1UL << (clusterBits - 8)) - 1;
        _compressedOffsetMask = (1UL << _csizeShift) - 1;
    }

    public string Name { get; }

    public ulong Length { get; private set; }

    public bool ReadOnly { get; }

    public int Version { get; private set; }

    public int ClusterSize => (int)_clusterSize;

    public int RefcountBits { get; private set; }

    /// <summary>The backing file name as stored in the image (null: none).</summary>
    public string? BackingFileName { get; private set; }

    /// <summary>The backing format named by the image (null: not named; probed).</summary>
    public string? BackingFormat { get; private set; }

    public bool Dirty { get; private set; }

    public bool Corrupt { get; private set; }

    public uint SnapshotCount { get; private set; }

    public IDiskImage? Backing => _backing;

    /// <summary>Opens a qcow2 image. Anything that makes it unusable is a <see cref="DiskImageException"/>
    /// with one line for the user.</summary>
    public static Qcow2Image Open(string path, Qcow2OpenOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new Qcow2OpenOptions();
        string full = Path.GetFullPath(path);
        SafeFileHandle file = ImageFile.Open(full, options.ReadOnly);
        Qcow2Image? image = null;
        try
        {
            ulong fileLength = (ulong)RandomAccess.GetLength(file);
            Span<byte> start = stackalloc byte[V2HeaderLength];
            start.Clear();
            RandomAccess.Read(file, start, 0);
            if (fileLength < V2HeaderLength || !start[..4].SequenceEqual(Magic))
                throw new DiskImageException($"'{path}' is not a qcow2 image");
            uint version = BinaryPrimitives.ReadUInt32BigEndian(start[HdrVersion..]);
            if (version is not (2 or 3)) throw new DiskImageException($"'{path}': qcow2 version {version} is not supported (2 and 3 are)");
            uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(start[HdrClusterBits..]);
            if (clusterBits is < MinClusterBits or > MaxClusterBits)
                throw new DiskImageException($"'{path}': cluster size 2^{clusterBits} is out of range (512 bytes to 2 MiB)");
            image = new Qcow2Image(full, file, (int)clusterBits, options.ReadOnly) { Version = (int)version, _fileLength = fileLength };
            image.Load(path, options);
            return image;
        }
        catch (Exception e) when (e is IOException or OverflowException or DiskImageException)
        {
            if (image != null) image.Dispose();
            else file.Dispose();
            if (e is DiskImageException) throw;
            throw new DiskImageException($"'{path}': cannot read the qcow2 header: {e.Message}", e);
        }
    }

    private void Load(string displayPath, Qcow2OpenOptions options)
    {
        string p = displayPath;
        byte[] h = new byte[_clusterSize];
        RandomAccess.Read(_file, h, 0);
        uint crypt = BE32(h, HdrCryptMethod);
        if (crypt != 0) throw new DiskImageException($"'{p}' is encrypted (method {crypt}); encrypted qcow2 images are not supported");
        uint headerLength = V2HeaderLength;
        ulong incompatible = 0, autoclear = 0;
        int refcountOrder = 4;
        if (Version >= 3)
        {
            headerLength = BE32(h, HdrHeaderLength);
            if (headerLength < V3MinHeaderLength || headerLength % 8 != 0 || headerLength > _clusterSize)
                throw new DiskImageException($"'{p}': header length {headerLength} is invalid");
            incompatible = BE64(h, HdrIncompatible);
            autoclear = BE64(h, HdrAutoclear);
            uint order = BE32(h, HdrRefcountOrder);
            if (order > 6) throw new DiskImageException($"'{p}': refcount order {order} is invalid (at most 6)");
            refcountOrder = (int)order;
        }
        RefcountBits = 1 << refcountOrder;
        Dirty = (incompatible & IncompatDirty) != 0;
        Corrupt = (incompatible & IncompatCorrupt) != 0;

        // Header extensions: between the header and the backing file name (or the end of the cluster).
        ulong backingOffset = BE64(h, HdrBackingOffset);
        uint backingSize = BE32(h, HdrBackingSize);
        ulong extensionsEnd = backingOffset != 0 && backingOffset < _clusterSize ? backingOffset : _clusterSize;
        var featureNames = new Dictionary<int, string>();
        for (ulong pos = headerLength; pos + 8 <= extensionsEnd;)
        {
            uint type = BE32(h, (int)pos), length = BE32(h, (int)pos + 4);
            if (type == ExtensionEnd) break;
            if (length > extensionsEnd - pos - 8)
                throw new DiskImageException($"'{p}': header extension 0x{type:x8} ({length} bytes) runs past the header area");
            ReadOnlySpan<byte> data = h.AsSpan((int)pos + 8, (int)length);
            if (type == ExtensionBackingFormat)
            {
                if (length == 0 || length > 16) throw new DiskImageException($"'{p}': backing format name of {length} bytes is invalid");
                BackingFormat = Encoding.ASCII.GetString(data);
            }
            else if (type == ExtensionFeatureNames)
            {
                for (int i = 0; i + 48 <= data.Length; i += 48)
                    if (data[i] == 0 && data[i + 1] < 64)
                        featureNames[data[i + 1]] = Encoding.ASCII.GetString(data.Slice(i + 2, 46)).TrimEnd('\0');
            }
            pos += 8 + ((length + 7UL) & ~7UL);
        }

        // Incompatible features: refuse what we do not implement, by name where the image names it.
        ulong unknown = incompatible & ~KnownIncompatible;
        if (unknown != 0)
        {
            var names = new List<string>();
            for (int bit = 0; bit < 64; bit++)
                if ((unknown & (1UL << bit)) != 0) names.Add(featureNames.TryGetValue(bit, out string? n) && n.Length > 0 ? $"'{n}' (bit {bit})" : $"bit {bit}");
            throw new DiskImageException($"'{p}' uses incompatible qcow2 features Trapeze does not know: {string.Join(", ", names)}");
        }
        if ((incompatible & IncompatExternalData) != 0) throw new DiskImageException($"'{p}' uses an external data file, which is not supported");
        if ((incompatible & IncompatExtendedL2) != 0) throw new DiskImageException($"'{p}' uses extended L2 entries (subclusters), which are not supported");
        if ((incompatible & IncompatCompressionType) != 0 || (headerLength > HdrCompressionType && h[HdrCompressionType] != 0))
        {
            byte type = headerLength > HdrCompressionType ? h[HdrCompressionType] : (byte)0;
            throw new DiskImageException(type == 1
                ? $"'{p}' uses zstd compression, which is not supported (convert it with 'qemu-img convert -O qcow2')"
                : $"'{p}': compression type {type} is not supported (only zlib)");
        }
        if (!ReadOnly && Corrupt)
            throw new DiskImageException($"'{p}' is marked corrupt; repair it with 'qemu-img check -r all' (it can still be opened read-only)");
        if (!ReadOnly && Dirty)
            throw new DiskImageException($"'{p}' was not closed cleanly (dirty bit: its refcounts may be stale); repair it with " +
                "'qemu-img check -r all' (it can still be opened read-only)");
        if (!ReadOnly && RefcountBits != 16)
            throw new DiskImageException($"'{p}' has {RefcountBits}-bit refcounts; only 16-bit refcounts can be written (open it read-only, " +
                "or rewrite it with 'qemu-img amend -o refcount_bits=16')");

        // Virtual size and the L1 table.
        Length = BE64(h, HdrSize);
        ulong l1Size = BE32(h, HdrL1Size);
        _l1Offset = BE64(h, HdrL1Offset);
        ulong clusters = Length / _clusterSize + (Length % _clusterSize != 0 ? 1UL : 0);
        ulong l1Needed = (clusters >> _l2Bits) + ((clusters & ((1UL << _l2Bits) - 1)) != 0 ? 1UL : 0);
        if (l1Size * 8 > MaxL1Bytes) throw new DiskImageException($"'{p}': L1 table of {l1Size} entries is too large");
        if (l1Size < l1Needed) throw new DiskImageException($"'{p}': L1 table of {l1Size} entries is too small for a virtual size of {Length} bytes");
        if (l1Size > 0) CheckTablePlacement(p, "L1 table", _l1Offset, l1Size * 8);
        byte[] l1Bytes = new byte[l1Size * 8];
        RandomAccess.Read(_file, l1Bytes, (long)_l1Offset);
        _l1 = new ulong[l1Size];
        for (int i = 0; i < _l1.Length; i++) _l1[i] = BE64(l1Bytes, i * 8);

        // The refcount table: bounded and placed like the L1 table; loaded only to write.
        _refcountTableOffset = BE64(h, HdrRefcountTableOffset);
        _refcountTableClusters = BE32(h, HdrRefcountTableClusters);
        if (_refcountTableClusters == 0) throw new DiskImageException($"'{p}' has no refcount table");
        if (_refcountTableClusters * _clusterSize > MaxRefcountTableBytes)
            throw new DiskImageException($"'{p}': refcount table of {_refcountTableClusters} clusters is too large");
        CheckTablePlacement(p, "refcount table", _refcountTableOffset, _refcountTableClusters * _clusterSize);

        SnapshotCount = BE32(h, HdrSnapshotCount);
        if (SnapshotCount > 0)
        {
            ulong snapshots = BE64(h, HdrSnapshotsOffset);
            if (snapshots % _clusterSize != 0 || snapshots >= _fileLength || snapshots == 0)
                throw new DiskImageException($"'{p}': snapshot table offset 0x{snapshots:x} is invalid");
            if (!ReadOnly)
                throw new DiskImageException($"'{p}' has {SnapshotCount} internal snapshot(s); writing to such images is not supported " +
                    "(open it read-only, or delete them with 'qemu-img snapshot -d')");
        }

        if (backingOffset != 0)
        {
            if (backingSize == 0 || backingSize > MaxBackingNameLength)
                throw new DiskImageException($"'{p}': backing file name of {backingSize} bytes is invalid (1 to {MaxBackingNameLength})");
            if (backingOffset > _clusterSize - backingSize || backingOffset < headerLength)
                throw new DiskImageException($"'{p}': backing file name at 0x{backingOffset:x} lies outside the header cluster");
            ReadOnlySpan<byte> nameBytes = h.AsSpan((int)backingOffset, (int)backingSize);
            if (nameBytes.IndexOf((byte)0) >= 0) throw new DiskImageException($"'{p}': backing file name contains a NUL byte");
            try { BackingFileName = new UTF8Encoding(false, true).GetString(nameBytes); }
            catch (DecoderFallbackException) { throw new DiskImageException($"'{p}': backing file name is not valid UTF-8"); }
        }

        if (!ReadOnly) PrepareForWriting(p, autoclear);
        if (BackingFileName != null && options.OpenBacking) _backing = OpenBackingFile(p, options);
    }

    private void CheckTablePlacement(string p, string what, ulong offset, ulong bytes)
    {
        if (offset == 0 || offset % _clusterSize != 0)
            throw new DiskImageException($"'{p}': {what} offset 0x{offset:x} is not a cluster boundary after the header");
        if (offset > _fileLength || bytes > _fileLength - offset)
            throw new DiskImageException($"'{p}': {what} (0x{offset:x}, {bytes} bytes) lies past the end of the file");
    }

    /// <summary>Loads and checks what writing needs: the refcount table, where every L2 table and refcount
    /// block is (so that a data write can never land on metadata), and clears auto-clear features we do not
    /// maintain (qcow2.txt: a writer must). For persistent dirty bitmaps this is QEMU's own rule for tools
    /// without bitmap support: QEMU then treats the bitmaps as inconsistent, and their clusters show as
    /// leaked in qemu-img check (harmless; 'qemu-img check -r leaks' reclaims them).</summary>
    private void PrepareForWriting(string p, ulong autoclear)
    {
        byte[] table = new byte[_refcountTableClusters * _clusterSize];
        RandomAccess.Read(_file, table, (long)_refcountTableOffset);
        _refcountTable = new ulong[table.Length / 8];
        ulong fileEnd = RoundUp(_fileLength);
        for (int i = 0; i < _refcountTable.Length; i++)
        {
            ulong e = _refcountTable[i] = BE64(table, i * 8);
            if (e == 0) continue;
            ulong off = e & ~RefcountTableReservedMask;
            if ((e & RefcountTableReservedMask) != 0 || off % _clusterSize != 0 || off >= fileEnd || IsFixedMetadata(off))
                throw new DiskImageException($"'{p}': refcount table entry {i} (0x{e:x}) is invalid; repair it with 'qemu-img check -r all'");
            _refcountBlockOffsets.Add(off);
        }
        for (int i = 0; i < _l1.Length; i++)
        {
            ulong e = _l1[i], off = e & OffsetMask;
            if (off == 0) continue;
            if ((e & L1ReservedMask) != 0 || off % _clusterSize != 0 || off >= fileEnd || IsFixedMetadata(off) || _refcountBlockOffsets.Contains(off))
                throw new DiskImageException($"'{p}': L1 entry {i} (0x{e:x}) is invalid; repair it with 'qemu-img check -r all'");
            _l2Offsets.Add(off);
        }
        _allocationEnd = fileEnd >> _clusterBits;
        if (Version >= 3 && autoclear != 0) WriteHeader64(HdrAutoclear, 0);
    }

    private IDiskImage OpenBackingFile(string p, Qcow2OpenOptions options)
    {
        string name = BackingFileName!;
        if (options.Depth + 1 >= MaxBackingDepth)
            throw new DiskImageException($"'{p}': backing chain is deeper than {MaxBackingDepth} images (does it loop?)");
        string directory = Path.GetDirectoryName(_path) ?? "/";
        string candidate = Path.GetFullPath(Path.IsPathRooted(name) ? name : Path.Combine(directory, name));
        string realDirectory = ImageFile.RealPath(directory);
        string hint = "; if you trust this image, allow backing files outside its directory explicitly";
        if (!options.AllowExternalBacking && !ImageFile.IsInside(candidate, directory))
            throw new DiskImageException($"'{p}': backing file '{name}' is outside the image's directory{hint}");
        if (!File.Exists(candidate)) throw new DiskImageException($"'{p}': backing file '{name}' does not exist");
        string real = ImageFile.RealPath(candidate);
        if (!options.AllowExternalBacking && !ImageFile.IsInside(real, realDirectory))
            throw new DiskImageException($"'{p}': backing file '{name}' leads outside the image's directory (through a link) to '{real}'{hint}");
        if (real == ImageFile.RealPath(_path)) throw new DiskImageException($"'{p}' names itself as its backing file");
        return DiskImages.OpenBacking(real, BackingFormat, options with { ReadOnly = true, OpenBacking = true, Depth = options.Depth + 1 });
    }

    // ---- Reading ----

    public void Read(ulong offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            while (!buffer.IsEmpty)
            {
                int inCluster = (int)(offset & (_clusterSize - 1));
                int n = (int)Math.Min((ulong)buffer.Length, _clusterSize - (ulong)inCluster);
                ReadInCluster(offset, buffer[..n]);
                buffer = buffer[n..];
                offset += (ulong)n;
            }
        }
    }

    private void ReadInCluster(ulong offset, Span<byte> buffer)
    {
        if (offset >= Length)
        {
            buffer.Clear();
            return;
        }
        ulong entry = LookUp(offset);
        if ((entry & FlagCompressed) != 0)
        {
            Inflate(entry).AsSpan((int)(offset & (_clusterSize - 1)), buffer.Length).CopyTo(buffer);
            return;
        }
        if ((entry & FlagZero) != 0)
        {
            buffer.Clear();
            return;
        }
        ulong host = StandardOffset(entry);
        if (host == 0)
        {
            ReadUnallocated(offset, buffer);
            return;
        }
        ReadHost(host + (offset & (_clusterSize - 1)), buffer);
    }

    /// <summary>True when the range is known to read as zeroes from the cluster tables alone (zero clusters, and
    /// unallocated ones with no backing file behind them), without reading data; false when it may hold data.
    /// Lets a copier skip the unallocated part of a sparse image without reading it.</summary>
    public bool ReadsAsZeroes(ulong offset, ulong length)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ulong end = Math.Min(Length, offset + Math.Min(length, Length));
            for (ulong at = offset & ~(_clusterSize - 1); at < end; at += _clusterSize)
            {
                ulong entry = LookUp(at);
                if ((entry & FlagCompressed) != 0) return false;
                if ((entry & FlagZero) != 0) continue;
                if (StandardOffset(entry) != 0) return false;
                if (_backing != null && at < _backing.Length) return false;
            }
            return true;
        }
    }

    /// <summary>An unallocated cluster reads through to the backing file, and as zeroes past its end.</summary>
    private void ReadUnallocated(ulong offset, Span<byte> buffer)
    {
        if (_backing == null || offset >= _backing.Length)
        {
            buffer.Clear();
            return;
        }
        int fromBacking = (int)Math.Min((ulong)buffer.Length, _backing.Length - offset);
        _backing.Read(offset, buffer[..fromBacking]);
        buffer[fromBacking..].Clear();
    }

    private void ReadHost(ulong position, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = RandomAccess.Read(_file, buffer, checked((long)position));
            if (n <= 0)
            {
                buffer.Clear();
                return;
            }
            buffer = buffer[n..];
            position += (ulong)n;
        }
    }

    /// <summary>The L2 entry mapping a guest offset (0: unallocated).</summary>
    private ulong LookUp(ulong offset)
    {
        ulong l1Index = offset >> (_clusterBits + _l2Bits);
        if (l1Index >= (ulong)_l1.Length) return 0;
        ulong l2Offset = L2TableOffset(l1Index);
        if (l2Offset == 0) return 0;
        byte[] table = L2Table(l2Offset);
        return BE64(table, L2Index(offset) * 8);
    }

    private int L2Index(ulong offset) => (int)((offset >> _clusterBits) & ((1UL << _l2Bits) - 1));

    private ulong L2TableOffset(ulong l1Index)
    {
        ulong e = _l1[l1Index], off = e & OffsetMask;
        if (off == 0) return 0;
        if ((e & L1ReservedMask) != 0 || off % _clusterSize != 0 || off >= RoundUp(_fileLength))
            throw CorruptError($"L1 entry {l1Index} (0x{e:x}) is invalid");
        return off;
    }

    private byte[] L2Table(ulong l2Offset)
    {
        byte[]? table = _l2Cache.Get(l2Offset);
        if (table != null) return table;
        table = new byte[_clusterSize];
        ReadHost(l2Offset, table);
        _l2Cache.Put(l2Offset, table);
        return table;
    }

    /// <summary>The host cluster of a standard (uncompressed) L2 entry, 0 if none; reserved bits or a
    /// misaligned offset are corruption.</summary>
    private ulong StandardOffset(ulong entry)
    {
        ulong host = entry & OffsetMask;
        if ((entry & L2ReservedMask) != 0 || host % _clusterSize != 0 || (host == 0 && (entry & FlagCopied) != 0))
            throw CorruptError($"L2 entry 0x{entry:x} is invalid");
        return host;
    }

    /// <summary>A compressed cluster (qcow2.txt "Compressed Clusters Descriptor"): raw deflate data from
    /// the host offset over the given number of 512-byte sectors; it must inflate to a whole cluster.</summary>
    private byte[] Inflate(ulong entry)
    {
        if (_inflated != null && _inflatedEntry == entry) return _inflated;
        (ulong start, ulong length) = CompressedRange(entry);
        byte[] compressed = new byte[length];
        ReadHost(start, compressed);
        byte[] cluster = new byte[_clusterSize];
        try
        {
            using var input = new MemoryStream(compressed, (int)((entry & _compressedOffsetMask) - start), (int)(length - ((entry & _compressedOffsetMask) - start)));
            using var inflater = new DeflateStream(input, CompressionMode.Decompress);
            int total = 0;
            while (total < cluster.Length)
            {
                int n = inflater.Read(cluster, total, cluster.Length - total);
                if (n == 0) break;
                total += n;
            }
            if (total < cluster.Length) throw CorruptError($"compressed cluster at 0x{entry & _compressedOffsetMask:x} inflates to {total} bytes, not a cluster");
        }
        catch (InvalidDataException e)
        {
            throw CorruptError($"compressed cluster at 0x{entry & _compressedOffsetMask:x} does not inflate: {e.Message}");
        }
        _inflatedEntry = entry;
        _inflated = cluster;
        return cluster;
    }

    /// <summary>The 512-byte-aligned host range a compressed cluster occupies.</summary>
    private (ulong Start, ulong Length) CompressedRange(ulong entry)
    {
        ulong offset = entry & _compressedOffsetMask;
        ulong sectors = ((entry >> _csizeShift) & _csizeMask) + 1;
        if (offset > OffsetMask || offset < _clusterSize) throw CorruptError($"compressed cluster offset 0x{offset:x} is invalid");
        return (offset & ~511UL, sectors * 512);
    }

    // ---- Writing ----

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            CheckWritable(offset, (ulong)data.Length);
            while (!data.IsEmpty)
            {
                int inCluster = (int)(offset & (_clusterSize - 1));
                int n = (int)Math.Min((ulong)data.Length, _clusterSize - (ulong)inCluster);
                WriteInCluster(offset, data[..n]);
                data = data[n..];
                offset += (ulong)n;
            }
        }
    }

    private void CheckWritable(ulong offset, ulong length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ReadOnly) throw new IOException($"{Name} is read-only");
        if (_corrupt) throw new IOException($"{Name} has corrupt metadata and was made read-only");
        if (offset > Length || length > Length - offset) throw new IOException($"{Name}: access at {offset} (+{length}) is past the end of the disk ({Length})");
    }

    private void WriteInCluster(ulong offset, ReadOnlySpan<byte> data)
    {
        int inCluster = (int)(offset & (_clusterSize - 1));
        (ulong l2Offset, byte[] table) = L2TableForWrite(offset);
        int index = L2Index(offset);
        ulong entry = BE64(table, index * 8);
        ulong oldHost = (entry & FlagCompressed) != 0 ? 0 : StandardOffset(entry);
        bool owned = oldHost != 0 && ((entry & FlagCopied) != 0 || Refcount(oldHost >> _clusterBits) == 1);
        if (owned)
        {
            // Our own cluster: write in place (a preallocated zero cluster gets zeroes around the data).
            CheckDataTarget(oldHost);
            if ((entry & FlagZero) == 0)
            {
                WriteHost(oldHost + (ulong)inCluster, data);
            }
            else
            {
                Span<byte> whole = _clusterBuffer;
                whole.Clear();
                data.CopyTo(whole[inCluster..]);
                WriteHost(oldHost, whole);
            }
            if (entry != (oldHost | FlagCopied)) SetL2Entry(l2Offset, table, index, oldHost | FlagCopied);
            return;
        }

        // A new cluster: what the guest did not write comes from what the cluster read as before.
        Span<byte> cluster = _clusterBuffer;
        if (data.Length != cluster.Length)
        {
            if ((entry & FlagCompressed) != 0) Inflate(entry).CopyTo(cluster);
            else if ((entry & FlagZero) != 0) cluster.Clear();
            else if (oldHost != 0) ReadHost(oldHost, cluster);
            else ReadUnallocated(offset - (ulong)inCluster, cluster);
        }
        data.CopyTo(cluster[inCluster..]);
        ulong newHost = AllocateCluster();
        WriteHost(newHost, cluster);
        SetL2Entry(l2Offset, table, index, newHost | FlagCopied);
        ReleaseMapping(entry);
    }

    /// <summary>The L2 table covering a guest offset, allocating it if needed.</summary>
    private (ulong Offset, byte[] Table) L2TableForWrite(ulong offset)
    {
        ulong l1Index = offset >> (_clusterBits + _l2Bits);
        if (l1Index >= (ulong)_l1.Length) throw CorruptError($"L1 table too small for offset {offset}");
        ulong l2Offset = L2TableOffset(l1Index);
        if (l2Offset == 0)
        {
            l2Offset = AllocateCluster();
            byte[] fresh = new byte[_clusterSize];
            WriteHost(l2Offset, fresh);
            Barrier(); // the table is on disk before the L1 entry points at it
            _l2Offsets.Add(l2Offset);
            _l2Cache.Put(l2Offset, fresh);
            SetL1Entry(l1Index, l2Offset | FlagCopied);
            return (l2Offset, fresh);
        }
        if ((_l1[l1Index] & FlagCopied) == 0)
        {
            if (Refcount(l2Offset >> _clusterBits) != 1)
                throw new IOException($"{Name}: an L2 table is shared (internal snapshot); writing to it is not supported");
            SetL1Entry(l1Index, l2Offset | FlagCopied);
        }
        return (l2Offset, L2Table(l2Offset));
    }

    private void SetL1Entry(ulong index, ulong value)
    {
        _l1[index] = value;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        WriteHost(_l1Offset + index * 8, bytes);
    }

    private void SetL2Entry(ulong l2Offset, byte[] table, int index, ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan(index * 8), value);
        WriteHost(l2Offset + (ulong)index * 8, table.AsSpan(index * 8, 8));
    }

    /// <summary>The mapping an L2 entry had is gone: its host clusters lose a reference (after the next
    /// barrier, see <see cref="_pendingFrees"/>).</summary>
    private void ReleaseMapping(ulong entry)
    {
        if ((entry & FlagCompressed) != 0)
        {
            (ulong start, ulong length) = CompressedRange(entry);
            for (ulong c = start >> _clusterBits; c <= (start + length - 1) >> _clusterBits; c++) _pendingFrees.Add(c);
        }
        else if ((entry & OffsetMask) != 0)
        {
            _pendingFrees.Add((entry & OffsetMask) >> _clusterBits);
        }
        if (_pendingFrees.Count >= 4096)
        {
            Barrier();
            FreePending();
        }
    }

    private void WriteHost(ulong position, ReadOnlySpan<byte> data)
    {
        RandomAccess.Write(_file, data, checked((long)position));
        _fileLength = Math.Max(_fileLength, position + (ulong)data.Length);
    }

    private void Barrier() => RandomAccess.FlushToDisk(_file);

    /// <summary>A data write to an existing cluster must not land on metadata or far past the file.</summary>
    private void CheckDataTarget(ulong host)
    {
        if (IsMetadata(host)) throw CorruptError($"a data cluster at 0x{host:x} overlaps metadata");
        if (host >= RoundUp(_fileLength)) throw CorruptError($"a data cluster at 0x{host:x} lies past the end of the file");
    }

    private bool IsFixedMetadata(ulong host) =>
        host < _clusterSize ||
        (host >= _l1Offset && host < _l1Offset + RoundUp((ulong)_l1.Length * 8)) ||
        (host >= _refcountTableOffset && host < _refcountTableOffset + _refcountTableClusters * _clusterSize);

    private bool IsMetadata(ulong host) =>
        IsFixedMetadata(host) || _l2Offsets.Contains(host) || _refcountBlockOffsets.Contains(host);

    // ---- Discard and zeroes ----

    public void Discard(ulong offset, ulong length)
    {
        lock (_lock)
        {
            CheckWritable(offset, length);
            // Advisory: only whole clusters are released; a v2 image with a backing file keeps its data
            // (unmapping would show the backing file's, and v2 has no zero flag).
            if (Version < 3 && _backing != null) return;
            ForWholeClusters(offset, length, c => ZeroCluster(c, unmap: true));
        }
    }

    public void WriteZeroes(ulong offset, ulong length, bool mayUnmap)
    {
        lock (_lock)
        {
            CheckWritable(offset, length);
            ulong end = offset + length;
            while (offset < end)
            {
                ulong inCluster = offset & (_clusterSize - 1);
                ulong n = Math.Min(_clusterSize - inCluster, end - offset);
                if (inCluster == 0 && (n == _clusterSize || offset + n == Length) && (Version >= 3 || _backing == null))
                {
                    ZeroCluster(offset, mayUnmap);
                }
                else
                {
                    byte[] zeroes = new byte[n];
                    WriteInCluster(offset, zeroes);
                }
                offset += n;
            }
        }
    }

    private void ForWholeClusters(ulong offset, ulong length, Action<ulong> action)
    {
        ulong end = offset + length;
        ulong c = RoundUp(offset);
        while (c < end && (c + _clusterSize <= end || end == Length))
        {
            action(c);
            c += _clusterSize;
        }
    }

    /// <summary>Makes one whole cluster read as zeroes: the zero flag (v3) or, without a backing file,
    /// simply unallocated. With <paramref name="unmap"/> its storage is released; otherwise an owned
    /// cluster stays allocated (a preallocated zero cluster).</summary>
    private void ZeroCluster(ulong offset, bool unmap)
    {
        ulong l1Index = offset >> (_clusterBits + _l2Bits);
        if (l1Index >= (ulong)_l1.Length) return;
        if (L2TableOffset(l1Index) == 0 && _backing == null) return; // already reads as zeroes
        (ulong l2Offset, byte[] table) = L2TableForWrite(offset);
        int index = L2Index(offset);
        ulong entry = BE64(table, index * 8);
        ulong host = (entry & FlagCompressed) != 0 ? 0 : StandardOffset(entry);
        ulong value;
        if (!unmap && host != 0 && Version >= 3 && ((entry & FlagCopied) != 0 || Refcount(host >> _clusterBits) == 1))
            value = host | FlagCopied | FlagZero;
        else
            value = Version >= 3 && _backing != null ? FlagZero : 0;
        if (value == entry) return;
        SetL2Entry(l2Offset, table, index, value);
        if ((value & OffsetMask) == 0) ReleaseMapping(entry);
    }

    // ---- Flush and close ----

    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (ReadOnly) return;
            Barrier();
            // The entries that stopped pointing at these clusters are durable now: they can be freed.
            if (!_corrupt) FreePending();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            try
            {
                if (!ReadOnly && !_corrupt)
                {
                    Barrier();
                    FreePending();
                    while (_reserved.Count > 0) DecrementRefcount(_reserved.Dequeue());
                    Barrier();
                }
            }
            catch (IOException)
            {
                // Leaked clusters at worst; the image stays consistent.
            }
            finally
            {
                _backing?.Dispose();
                _file.Dispose();
            }
        }
    }

    // ---- Refcounts and allocation ----

    private ulong Refcount(ulong cluster)
    {
        ulong block = RefcountBlockOffset(cluster / _refcountBlockEntries);
        if (block == 0) return 0;
        byte[] data = RefcountBlock(block);
        return BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan((int)(cluster % _refcountBlockEntries) * 2));
    }

    private ulong RefcountBlockOffset(ulong tableIndex)
    {
        if (tableIndex >= (ulong)_refcountTable.Length) return 0;
        return _refcountTable[tableIndex] & ~RefcountTableReservedMask;
    }

    private byte[] RefcountBlock(ulong offset)
    {
        byte[]? data = _refcountCache.Get(offset);
        if (data != null) return data;
        data = new byte[_clusterSize];
        ReadHost(offset, data);
        _refcountCache.Put(offset, data);
        return data;
    }

    private void SetRefcount(ulong cluster, ulong value)
    {
        ulong block = RefcountBlockOffset(cluster / _refcountBlockEntries);
        if (block == 0) throw new InvalidOperationException("refcount block missing");
        byte[] data = RefcountBlock(block);
        int at = (int)(cluster % _refcountBlockEntries) * 2;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), (ushort)value);
        WriteHost(block + (ulong)at, data.AsSpan(at, 2));
    }

    private void DecrementRefcount(ulong cluster)
    {
        ulong count = Refcount(cluster);
        if (count == 0) throw CorruptError($"cluster 0x{cluster << _clusterBits:x} is freed but its refcount is already 0");
        SetRefcount(cluster, count - 1);
        if (count == 1) _freeHint = Math.Min(_freeHint, cluster);
    }

    private void FreePending()
    {
        try
        {
            foreach (ulong c in _pendingFrees) DecrementRefcount(c);
        }
        finally
        {
            _pendingFrees.Clear();
        }
    }

    /// <summary>A cluster whose refcount is 1 and durable.</summary>
    private ulong AllocateCluster()
    {
        if (_reserved.Count == 0) Reserve((int)Math.Clamp((2UL << 20) >> _clusterBits, 1, 256));
        return _reserved.Dequeue() << _clusterBits;
    }

    /// <summary>Claims a batch of free clusters (refcount 1), then one barrier for all of them.</summary>
    private void Reserve(int count)
    {
        int claimed = 0;
        while (claimed < count)
        {
            ulong c = FindFreeCluster();
            if (Claim(c))
            {
                _reserved.Enqueue(c);
                claimed++;
            }
        }
        Barrier();
    }

    private ulong FindFreeCluster()
    {
        ulong limit = Math.Max(_allocationEnd, RoundUp(_fileLength) >> _clusterBits) + (1UL << 20);
        for (ulong c = Math.Max(_freeHint, 1); c < limit; c++)
        {
            if (Refcount(c) != 0) continue;
            if (IsMetadata(c << _clusterBits)) throw CorruptError($"metadata cluster 0x{c << _clusterBits:x} has refcount 0");
            _freeHint = c + 1;
            return c;
        }
        throw CorruptError("no free cluster found (refcounts claim the whole file)");
    }

    /// <summary>Sets a free cluster's refcount to 1. False when the cluster went to the refcount
    /// structure itself instead (a new refcount block, or a grown table): the caller looks again.</summary>
    private bool Claim(ulong cluster)
    {
        ulong tableIndex = cluster / _refcountBlockEntries;
        if (tableIndex >= (ulong)_refcountTable.Length)
        {
            GrowRefcountTable(tableIndex);
            return false;
        }
        if (RefcountBlockOffset(tableIndex) == 0)
        {
            // The new block describes itself: it lives in the cluster it was asked for.
            byte[] block = new byte[_clusterSize];
            BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan((int)(cluster % _refcountBlockEntries) * 2), 1);
            ulong offset = cluster << _clusterBits;
            WriteHost(offset, block);
            Barrier(); // the block before the table entry that points at it
            _refcountBlockOffsets.Add(offset);
            _refcountCache.Put(offset, block);
            SetRefcountTableEntry(tableIndex, offset);
            _allocationEnd = Math.Max(_allocationEnd, cluster + 1);
            return false;
        }
        SetRefcount(cluster, 1);
        _allocationEnd = Math.Max(_allocationEnd, cluster + 1);
        return true;
    }

    private void SetRefcountTableEntry(ulong index, ulong value)
    {
        _refcountTable[index] = value;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        WriteHost(_refcountTableOffset + index * 8, bytes);
    }

    /// <summary>
    /// Moves the refcount table to a larger one at the end of the file, with new refcount blocks for the
    /// area the new structures occupy (they count themselves). Written, then a barrier, then the header,
    /// then a barrier, then the old table is freed.
    /// </summary>
    private void GrowRefcountTable(ulong neededIndex)
    {
        ulong start = Math.Max(_allocationEnd, RoundUp(_fileLength) >> _clusterBits);
        ulong entriesPerCluster = _clusterSize / 8;
        ulong tableClusters = Math.Max(_refcountTableClusters * 2, (neededIndex + 1 + entriesPerCluster - 1) / entriesPerCluster);
        ulong blocks = 0;
        var missing = new List<ulong>();
        for (int round = 0; ; round++)
        {
            if (round > 64) throw new IOException($"{Name}: cannot lay out a larger refcount table");
            ulong end = start + blocks + tableClusters;
            ulong first = start / _refcountBlockEntries, last = (end - 1) / _refcountBlockEntries;
            missing.Clear();
            for (ulong t = first; t <= last; t++)
                if (RefcountBlockOffset(t) == 0) missing.Add(t);
            ulong needTable = (Math.Max(last, neededIndex) + 1 + entriesPerCluster - 1) / entriesPerCluster;
            ulong newTable = Math.Max(tableClusters, needTable);
            if ((ulong)missing.Count == blocks && newTable == tableClusters) break;
            blocks = (ulong)missing.Count;
            tableClusters = newTable;
        }
        if (tableClusters * _clusterSize > MaxRefcountTableBytes)
            throw new IOException($"{Name}: the image is full (its refcount table would exceed {MaxRefcountTableBytes >> 20} MiB)");

        var table = new ulong[tableClusters * entriesPerCluster];
        _refcountTable.CopyTo(table, 0);
        var newBlocks = new Dictionary<ulong, byte[]>();
        for (int i = 0; i < missing.Count; i++)
        {
            table[missing[i]] = (start + (ulong)i) << _clusterBits;
            newBlocks[missing[i]] = new byte[_clusterSize];
        }
        ulong tableStart = start + blocks;
        for (ulong c = start; c < tableStart + tableClusters; c++)
        {
            ulong t = c / _refcountBlockEntries;
            if (newBlocks.TryGetValue(t, out byte[]? block))
                BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan((int)(c % _refcountBlockEntries) * 2), 1);
            else if (Refcount(c) != 0)
                throw CorruptError($"cluster 0x{c << _clusterBits:x} past the end of the image has a refcount");
            else
                SetRefcount(c, 1);
        }
        foreach (ulong t in missing) WriteHost(table[t], newBlocks[t]);
        byte[] tableBytes = new byte[tableClusters * _clusterSize];
        for (int i = 0; i < table.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(tableBytes.AsSpan(i * 8), table[i]);
        WriteHost(tableStart << _clusterBits, tableBytes);
        Barrier();

        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(header, tableStart << _clusterBits);
        BinaryPrimitives.WriteUInt32BigEndian(header[8..], (uint)tableClusters);
        WriteHost(HdrRefcountTableOffset, header);
        Barrier();

        ulong oldOffset = _refcountTableOffset, oldClusters = _refcountTableClusters;
        _refcountTable = table;
        _refcountTableOffset = tableStart << _clusterBits;
        _refcountTableClusters = tableClusters;
        foreach (ulong t in missing)
        {
            _refcountBlockOffsets.Add(table[t]);
            _refcountCache.Put(table[t], newBlocks[t]);
        }
        _allocationEnd = Math.Max(_allocationEnd, tableStart + tableClusters);
        for (ulong c = 0; c < oldClusters; c++) DecrementRefcount((oldOffset >> _clusterBits) + c);
    }

    /// <summary>Claims <paramref name="count"/> contiguous clusters at the end of the file. First every
    /// refcount block the run needs is built, each in the cluster just before the run (so the run moves
    /// past it and never contains one); then the run is claimed all at once.</summary>
    private ulong AllocateContiguous(ulong count)
    {
        while (true)
        {
            ulong start = Math.Max(_allocationEnd, RoundUp(_fileLength) >> _clusterBits);
            bool ready = true;
            for (ulong c = start; c < start + count && ready; c++)
            {
                ulong tableIndex = c / _refcountBlockEntries;
                if (tableIndex >= (ulong)_refcountTable.Length)
                {
                    GrowRefcountTable(tableIndex);
                    ready = false;
                }
                else if (RefcountBlockOffset(tableIndex) == 0)
                {
                    if (RefcountBlockOffset(start / _refcountBlockEntries) == 0) Claim(start); // a block describing itself
                    else AddRefcountBlock(tableIndex, start);
                    ready = false;
                }
                else if (Refcount(c) != 0 || IsMetadata(c << _clusterBits))
                {
                    _allocationEnd = c + 1;
                    ready = false;
                }
            }
            if (!ready) continue;
            for (ulong c = start; c < start + count; c++) SetRefcount(c, 1);
            _allocationEnd = start + count;
            Barrier();
            return start << _clusterBits;
        }
    }

    /// <summary>A new (empty) refcount block for table entry <paramref name="tableIndex"/>, stored in free
    /// cluster <paramref name="cluster"/>, whose own refcount block exists.</summary>
    private void AddRefcountBlock(ulong tableIndex, ulong cluster)
    {
        if (Refcount(cluster) != 0) throw CorruptError($"cluster 0x{cluster << _clusterBits:x} past the end of the image has a refcount");
        SetRefcount(cluster, 1);
        ulong offset = cluster << _clusterBits;
        byte[] block = new byte[_clusterSize];
        WriteHost(offset, block);
        Barrier(); // its refcount and contents before the table entry that points at it
        _refcountBlockOffsets.Add(offset);
        _refcountCache.Put(offset, block);
        SetRefcountTableEntry(tableIndex, offset);
        _allocationEnd = Math.Max(_allocationEnd, cluster + 1);
    }

    // ---- Resize ----

    /// <summary>Grows the virtual disk (a larger L1 table if needed); shrinking is refused.</summary>
    public void Grow(ulong newLength)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (ReadOnly) throw new DiskImageException($"'{Name}' is open read-only");
            if (_corrupt) throw new IOException($"{Name} has corrupt metadata and was made read-only");
            if (newLength < Length)
                throw new DiskImageException($"'{Name}': shrinking from {Length} to {newLength} bytes is not supported (it would discard the end of the disk)");
            if (newLength == Length) return;
            ulong clusters = newLength / _clusterSize + (newLength % _clusterSize != 0 ? 1UL : 0);
            ulong l1Needed = (clusters >> _l2Bits) + ((clusters & ((1UL << _l2Bits) - 1)) != 0 ? 1UL : 0);
            if (l1Needed * 8 > MaxL1Bytes)
                throw new DiskImageException($"'{Name}': {newLength} bytes is too large for {_clusterSize}-byte clusters (use larger clusters)");
            if (l1Needed > (ulong)_l1.Length) GrowL1((int)l1Needed);

            ulong oldLength = Length;
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(size, newLength);
            WriteHost(HdrSize, size);
            Barrier();
            Length = newLength;

            // The new area must read as zeroes: the rest of a partial last cluster, and whatever a longer
            // backing file would otherwise show through.
            ulong tailEnd = Math.Min(RoundUp(oldLength), newLength);
            if (tailEnd > oldLength && (LookUp(oldLength) != 0 || (_backing != null && _backing.Length > oldLength)))
                WriteInCluster(oldLength, new byte[tailEnd - oldLength]);
            if (_backing != null && _backing.Length > tailEnd)
            {
                ulong end = Math.Min(newLength, RoundUp(_backing.Length));
                if (Version >= 3) ForWholeClusters(tailEnd, end - tailEnd, c => ZeroCluster(c, unmap: true));
                else for (ulong c = tailEnd; c < end; c += _clusterSize) WriteInCluster(c, new byte[Math.Min(_clusterSize, newLength - c)]);
            }
            Barrier();
            FreePending();
        }
    }

    private void GrowL1(int entries)
    {
        ulong bytes = RoundUp((ulong)entries * 8);
        ulong offset = AllocateContiguous(bytes >> _clusterBits);
        byte[] table = new byte[bytes];
        for (int i = 0; i < _l1.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan(i * 8), _l1[i]);
        WriteHost(offset, table);
        Barrier();
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)entries);
        BinaryPrimitives.WriteUInt64BigEndian(header[4..], offset);
        WriteHost(HdrL1Size, header);
        Barrier();
        ulong oldOffset = _l1Offset, oldClusters = RoundUp((ulong)_l1.Length * 8) >> _clusterBits;
        var l1 = new ulong[entries];
        _l1.CopyTo(l1, 0);
        _l1 = l1;
        _l1Offset = offset;
        for (ulong c = 0; c < oldClusters; c++) DecrementRefcount((oldOffset >> _clusterBits) + c);
    }

    // ---- Creation ----

    /// <summary>
    /// Writes a new, empty qcow2 v3 image to <paramref name="path"/> (which must not exist): header (with
    /// the backing file, if any), refcount table, refcount blocks and L1 table, all refcounted.
    /// </summary>
    public static void Create(string path, ulong length, int clusterSize = DefaultClusterSize, string? backingFile = null, string? backingFormat = null)
    {
        if (clusterSize < 1 << MinClusterBits || clusterSize > 1 << MaxClusterBits || (clusterSize & (clusterSize - 1)) != 0)
            throw new DiskImageException($"cluster size {clusterSize} is not a power of two from 512 bytes to 2 MiB");
        int bits = System.Numerics.BitOperations.Log2((uint)clusterSize);
        ulong cs = (ulong)clusterSize;
        ulong clusters = length / cs + (length % cs != 0 ? 1UL : 0);
        ulong l1Size = (clusters >> (bits - 3)) + ((clusters & ((1UL << (bits - 3)) - 1)) != 0 ? 1UL : 0);
        if (l1Size * 8 > MaxL1Bytes) throw new DiskImageException($"{length} bytes is too large for {clusterSize}-byte clusters (use larger clusters)");
        ulong l1Clusters = (l1Size * 8 + cs - 1) / cs;

        byte[] header = new byte[cs];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrVersion), 3);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrClusterBits), (uint)bits);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(HdrSize), length);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrL1Size), (uint)l1Size);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrRefcountOrder), 4);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrHeaderLength), V3HeaderLength);
        int pos = V3HeaderLength;
        if (backingFile != null)
        {
            byte[] name = Encoding.UTF8.GetBytes(backingFile);
            if (name.Length is 0 or > MaxBackingNameLength || name.Contains((byte)0))
                throw new DiskImageException($"backing file name '{backingFile}' must be 1 to {MaxBackingNameLength} bytes");
            if (backingFormat != null)
            {
                byte[] format = Encoding.ASCII.GetBytes(backingFormat);
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(pos), ExtensionBackingFormat);
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(pos + 4), (uint)format.Length);
                format.CopyTo(header, pos + 8);
                pos += 8 + ((format.Length + 7) & ~7);
            }
            pos += 8; // end of extensions
            if ((ulong)(pos + name.Length) > cs)
                throw new DiskImageException($"backing file name '{backingFile}' does not fit in a {clusterSize}-byte header cluster");
            name.CopyTo(header, pos);
            BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(HdrBackingOffset), (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrBackingSize), (uint)name.Length);
        }

        // Layout: header | refcount table | refcount blocks | L1; the blocks count every one of them.
        ulong blockEntries = cs / 2, tableClusters = 1, blocks = 1;
        while (true)
        {
            ulong total = 1 + tableClusters + blocks + l1Clusters;
            ulong needBlocks = (total + blockEntries - 1) / blockEntries;
            ulong needTable = (needBlocks * 8 + cs - 1) / cs;
            if (needBlocks == blocks && needTable == tableClusters) break;
            blocks = needBlocks;
            tableClusters = needTable;
        }
        ulong metadata = 1 + tableClusters + blocks + l1Clusters;
        if (tableClusters * cs > MaxRefcountTableBytes) throw new DiskImageException($"{length} bytes is too large for {clusterSize}-byte clusters");
        ulong l1Offset = (1 + tableClusters + blocks) * cs;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(HdrL1Offset), l1Offset);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(HdrRefcountTableOffset), cs);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(HdrRefcountTableClusters), (uint)tableClusters);

        byte[] table = new byte[tableClusters * cs];
        for (ulong b = 0; b < blocks; b++) BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan((int)b * 8), (1 + tableClusters + b) * cs);
        byte[] refcounts = new byte[blocks * cs];
        for (ulong c = 0; c < metadata; c++) BinaryPrimitives.WriteUInt16BigEndian(refcounts.AsSpan((int)c * 2), 1);

        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            RandomAccess.SetLength(file, (long)(metadata * cs));
            RandomAccess.Write(file, header, 0);
            RandomAccess.Write(file, table, (long)cs);
            RandomAccess.Write(file, refcounts, (long)((1 + tableClusters) * cs));
            RandomAccess.FlushToDisk(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DiskImageException($"cannot create '{path}': {e.Message}", e);
        }
    }

    // ---- Helpers ----

    private ulong RoundUp(ulong value) => (value + _clusterSize - 1) & ~(_clusterSize - 1);

    private void WriteHeader64(int field, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        WriteHost((ulong)field, bytes);
    }

    /// <summary>Corrupt metadata found while running: an I/O error; a writable image also gets its
    /// corrupt bit (v3) and refuses further writes, so the damage cannot spread.</summary>
    private IOException CorruptError(string what)
    {
        if (!ReadOnly && !_corrupt)
        {
            _corrupt = true;
            Corrupt = true;
            if (Version >= 3)
            {
                try
                {
                    Span<byte> bytes = stackalloc byte[8];
                    RandomAccess.Read(_file, bytes, HdrIncompatible);
                    WriteHeader64(HdrIncompatible, BinaryPrimitives.ReadUInt64BigEndian(bytes) | IncompatCorrupt);
                    Barrier();
                }
                catch (IOException) { }
            }
        }
        return new IOException($"{Name}: corrupt qcow2 metadata: {what}" + (ReadOnly ? "" : "; the image is now read-only (repair it with 'qemu-img check -r all')"));
    }

    private static uint BE32(byte[] b, int at) => BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at));

    private static ulong BE64(byte[] b, int at) => BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(at));
}
