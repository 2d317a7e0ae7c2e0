using System.Numerics;

namespace Trapeze.Devices.Storage;

/// <summary>
/// A writable disk whose writes can be followed, for copying the disk while its machine runs (live
/// migration's pre-copy of disks, as QEMU's dirty bitmaps): while tracking is on, every write, discard and
/// write-zeroes marks the fixed-size blocks it touched in a bitmap, which the copier takes and clears.
/// <para>When tracking is off a write costs one volatile read more. A block is marked after the inner write
/// returns (or fails), so a copier that read the block before the write completed always finds it marked
/// later and reads it again.</para>
/// </summary>
public sealed class DirtyTrackingDiskImage(IDiskImage inner) : IDiskImage
{
    private volatile DiskDirtyBitmap? _dirty;

    public IDiskImage Inner => inner;

    public string Name => inner.Name;

    public ulong Length => inner.Length;

    public bool ReadOnly => inner.ReadOnly;

    /// <summary>True while <see cref="StartTracking"/> is in effect.</summary>
    public bool Tracking => _dirty != null;

    /// <summary>Starts marking writes in blocks of <paramref name="blockSize"/> bytes (a power of two) and
    /// returns the bitmap, empty: what was written before this call is not marked.</summary>
    public DiskDirtyBitmap StartTracking(int blockSize)
    {
        var map = new DiskDirtyBitmap(inner.Length, blockSize);
        if (Interlocked.CompareExchange(ref _dirty, map, null) != null)
            throw new InvalidOperationException($"{Name}: writes are tracked already");
        return map;
    }

    public void StopTracking() => _dirty = null;

    public void Read(ulong offset, Span<byte> buffer) => inner.Read(offset, buffer);

    /// <summary>True when the range is known to read as zeroes without reading it (unallocated qcow2 clusters);
    /// false when it may hold data (always, for a raw image: its holes are not looked for).</summary>
    public bool KnownZero(ulong offset, ulong length) => inner is Qcow2Image q && q.ReadsAsZeroes(offset, length);

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        try { inner.Write(offset, data); }
        finally { _dirty?.Mark(offset, (ulong)data.Length); }
    }

    public void Flush() => inner.Flush();

    public void Discard(ulong offset, ulong length)
    {
        try { inner.Discard(offset, length); }
        finally { _dirty?.Mark(offset, length); }
    }

    public void WriteZeroes(ulong offset, ulong length, bool mayUnmap)
    {
        try { inner.WriteZeroes(offset, length, mayUnmap); }
        finally { _dirty?.Mark(offset, length); }
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>The blocks of a disk written since they were last taken; marked from any thread, taken by one.</summary>
public sealed class DiskDirtyBitmap
{
    private readonly ulong[] _words;
    private readonly int _shift;

    public DiskDirtyBitmap(ulong diskLength, int blockSize)
    {
        if (blockSize < 512 || !BitOperations.IsPow2(blockSize)) throw new ArgumentException("block size must be a power of two, at least 512", nameof(blockSize));
        BlockSize = blockSize;
        _shift = BitOperations.Log2((uint)blockSize);
        BlockCount = (diskLength + (ulong)blockSize - 1) >> _shift;
        _words = new ulong[(BlockCount + 63) / 64];
    }

    public int BlockSize { get; }

    public ulong BlockCount { get; }

    /// <summary>Words of a bitmap that <see cref="Take"/> fills.</summary>
    public int Words => _words.Length;

    public void Mark(ulong offset, ulong length)
    {
        if (length == 0 || offset >= BlockCount << _shift) return;
        ulong first = offset >> _shift;
        ulong last = Math.Min(BlockCount - 1, (offset + length - 1) >> _shift);
        for (ulong b = first; b <= last; b++)
        {
            ref ulong w = ref _words[b >> 6];
            ulong bit = 1UL << (int)(b & 63);
            // Most writes hit blocks marked already: a plain read saves the interlocked operation.
            if ((Volatile.Read(ref w) & bit) == 0) Interlocked.Or(ref w, bit);
        }
    }

    /// <summary>ORs the marked blocks into <paramref name="into"/> (<see cref="Words"/> long), clears them here,
    /// and returns how many blocks <paramref name="into"/> now holds.</summary>
    public long Take(ulong[] into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (into.Length != _words.Length) throw new ArgumentException("bitmap of another size", nameof(into));
        long n = 0;
        for (int i = 0; i < _words.Length; i++)
        {
            if (Volatile.Read(ref _words[i]) != 0) into[i] |= Interlocked.Exchange(ref _words[i], 0);
            n += BitOperations.PopCount(into[i]);
        }
        return n;
    }
}
