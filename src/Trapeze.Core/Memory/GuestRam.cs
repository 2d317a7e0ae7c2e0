using System.Runtime.InteropServices;

namespace Trapeze.Core.Memory;

/// <summary>
/// Host memory backing one region of guest-physical memory (DRAM or a ROM). Reserved with mmap so that
/// untouched pages cost nothing, with an inaccessible guard page on each side: a bug that runs off the
/// end faults in the host instead of touching another allocation. This is the one place that owns raw
/// pointers to guest memory; everything else reaches it through <see cref="Bus"/> and <see cref="GuestMemory"/>.
/// </summary>
public sealed unsafe class GuestRam : IDisposable
{
    public const int PageShift = 12;
    public const ulong PageSize = 1UL << PageShift;

    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20, MapNoReserve = 0x4000;

    private byte* _mapping;
    private readonly nuint _mappingLength;

    public ulong Base { get; }
    public ulong Size { get; }
    public bool ReadOnly { get; }
    public string Name { get; }

    /// <summary>Host address of guest-physical <see cref="Base"/>.</summary>
    public byte* Host { get; }

    /// <summary>Per-page flags (<see cref="PageFlags"/>), read by the TLB fill on every write miss.
    /// Changed only under <see cref="_flagLock"/>.</summary>
    internal readonly byte[] Flags;

    /// <summary>Per-page count of writes seen to pages holding decoded code: a decoded block is valid
    /// while the generation it was decoded at is current.</summary>
    public readonly uint[] CodeGeneration;

    private readonly object _flagLock = new();

    /// <summary>Stores that reached a page holding decoded code (self-modifying code, reused pages).</summary>
    public long CodeInvalidations;

    public GuestRam(string name, ulong baseAddress, ulong size, bool readOnly = false)
    {
        if (size == 0 || (size & (PageSize - 1)) != 0)
            throw new ArgumentException($"{name}: size 0x{size:x} is not a positive multiple of the page size");
        if (baseAddress + size < baseAddress)
            throw new ArgumentException($"{name}: region wraps the address space");
        Name = name; Base = baseAddress; Size = size; ReadOnly = readOnly;
        _mappingLength = (nuint)(size + 2 * PageSize);
        void* p = mmap(null, _mappingLength, ProtNone, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (p == (void*)-1)
            throw new OutOfMemoryException($"{name}: cannot reserve {size >> 20} MiB of host memory (errno {Marshal.GetLastPInvokeError()})");
        _mapping = (byte*)p;
        Host = _mapping + PageSize;
        if (mprotect(Host, (nuint)size, ProtRead | ProtWrite) != 0)
        {
            munmap(_mapping, _mappingLength);
            throw new OutOfMemoryException($"{name}: cannot map {size >> 20} MiB of host memory");
        }
        Flags = new byte[size >> PageShift];
        CodeGeneration = new uint[size >> PageShift];
    }

    /// <summary>Page index of an address inside the region.</summary>
    public ulong PageOf(ulong pa) => (pa - Base) >> PageShift;

    public bool HasFlag(ulong page, PageFlags flag) => (Volatile.Read(ref Flags[page]) & (byte)flag) != 0;

    public void SetFlag(ulong page, PageFlags flag, bool on)
    {
        lock (_flagLock)
        {
            if (on) Flags[page] |= (byte)flag;
            else Flags[page] &= (byte)~flag;
        }
    }

    /// <summary>Marks a page as holding decoded code; returns false when it already was.</summary>
    public bool MarkCode(ulong page)
    {
        lock (_flagLock)
        {
            if ((Flags[page] & (byte)PageFlags.Code) != 0) return false;
            Flags[page] |= (byte)PageFlags.Code;
            return true;
        }
    }

    /// <summary>Records a write to [pa, pa+length) inside the region by something other than a hart (DMA, a
    /// loader): code decoded from those pages is stale, and the pages are dirty. Called once the bytes are in
    /// memory, so that a collection that misses the mark happens after the data landed and copies it.</summary>
    public void NoteWrite(ulong pa, ulong length)
    {
        if (length == 0) return;
        ulong first = PageOf(pa), last = PageOf(pa + length - 1);
        for (ulong p = first; p <= last; p++)
            if (HasFlag(p, PageFlags.Code)) InvalidateCode(p);
        if (_dirtyLogging)
        {
            // The writer is not a hart, so no TLB flush orders its data before a collection: a full fence
            // puts the data before the mark, so a mark that lands in an already taken bitmap word is one
            // whose data the collector will read.
            Interlocked.MemoryBarrier();
            for (ulong p = first; p <= last; p++) MarkDirtyPage(p);
        }
    }

    // ------------------------------------------------------------------ dirty logging

    // One bit per page written since the last TakeDirty while logging is on (DESIGN.md "Memory": incremental
    // snapshots and live migration). Allocated at the first start: a machine never logged pays nothing.
    private ulong[] _dirty = [];
    private volatile bool _dirtyLogging;

    /// <summary>Pages in the region.</summary>
    public ulong PageCount => Size >> PageShift;

    /// <summary>Words of a dirty bitmap of the region (one bit per page, page n at bit n % 64 of word n / 64).</summary>
    public int DirtyBitmapWords => checked((int)((PageCount + 63) / 64));

    /// <summary>True while writes are recorded in the dirty bitmap.</summary>
    public bool DirtyLogging => _dirtyLogging;

    /// <summary>
    /// Starts recording written pages, with an empty bitmap. Alone this is not enough: a hart may hold write
    /// TLB entries made before, through which it stores without marking. <see cref="DirtyLog.Start"/> also
    /// empties those; use it when harts run.
    /// </summary>
    public void StartDirtyLog()
    {
        lock (_flagLock)
        {
            if (_dirty.Length == 0) _dirty = new ulong[DirtyBitmapWords];
            else for (int i = 0; i < _dirty.Length; i++) Volatile.Write(ref _dirty[i], 0);
            _dirtyLogging = true;
        }
        Interlocked.MemoryBarrier();
    }

    /// <summary>Stops recording. Write TLB entries may stay: with logging off they need no mark.</summary>
    public void StopDirtyLog() => _dirtyLogging = false;

    /// <summary>Marks one page dirty (no-op while logging is off). Hart stores call it when a write TLB entry
    /// is made for the page (before any store through the entry) and after slow-path stores.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void MarkDirtyPage(ulong page)
    {
        if (!_dirtyLogging) return;
        ref ulong word = ref _dirty[page >> 6];
        ulong bit = 1UL << (int)(page & 63);
        // Most marks find the bit already set: reading first keeps the cache line shared between harts.
        if ((Volatile.Read(ref word) & bit) == 0) Interlocked.Or(ref word, bit);
    }

    /// <summary>True when the page is marked in the current bitmap (tests, diagnostics).</summary>
    public bool IsDirty(ulong page) => _dirty.Length != 0 && (Volatile.Read(ref _dirty[page >> 6]) & (1UL << (int)(page & 63))) != 0;

    /// <summary>
    /// Moves the bitmap into <paramref name="bitmap"/> (<see cref="DirtyBitmapWords"/> words) and clears it,
    /// word by word atomically: a mark is either taken now or left for the next call, never lost. Returns the
    /// number of dirty pages. Harts may still store through write TLB entries made before the call;
    /// <see cref="DirtyLog.Collect"/> waits those out before the pages are read.
    /// </summary>
    public long TakeDirty(Span<ulong> bitmap)
    {
        if (bitmap.Length < DirtyBitmapWords) throw new ArgumentException($"{Name}: a dirty bitmap needs {DirtyBitmapWords} words", nameof(bitmap));
        if (_dirty.Length == 0) { bitmap[..DirtyBitmapWords].Clear(); return 0; }
        long count = 0;
        for (int i = 0; i < _dirty.Length; i++)
        {
            // Skipping clean words without a locked operation keeps a mostly clean bitmap cheap to take.
            ulong w = Volatile.Read(ref _dirty[i]) == 0 ? 0 : Interlocked.Exchange(ref _dirty[i], 0);
            bitmap[i] = w;
            count += System.Numerics.BitOperations.PopCount(w);
        }
        return count;
    }

    /// <summary>Makes blocks decoded from a page stale and stops tracking writes to it until code is
    /// decoded from it again.</summary>
    public void InvalidateCode(ulong page)
    {
        Interlocked.Increment(ref CodeInvalidations);
        Interlocked.Increment(ref CodeGeneration[page]);
        SetFlag(page, PageFlags.Code, false);
    }

    public bool Contains(ulong pa) => pa - Base < Size;

    /// <summary>True when [pa, pa+len) lies inside this region (overflow-safe).</summary>
    public bool Contains(ulong pa, ulong len) => pa - Base < Size && len <= Size - (pa - Base);

    public Span<byte> AsSpan(ulong offset, int length)
    {
        if (offset > Size || (ulong)length > Size - offset) throw new ArgumentOutOfRangeException(nameof(offset));
        return new Span<byte>(Host + offset, length);
    }

    /// <summary>Zeroes the whole region, returning the pages to the host (reset).</summary>
    public void Clear()
    {
        const int MadvDontneed = 4;
        if (madvise(Host, (nuint)Size, MadvDontneed) != 0)
            new Span<byte>(Host, checked((int)Math.Min(Size, int.MaxValue))).Clear();
        lock (_flagLock) Array.Clear(Flags);
        for (int i = 0; i < CodeGeneration.Length; i++) Interlocked.Increment(ref CodeGeneration[i]);
        // A reset while logging (during a migration) changes every page.
        if (_dirtyLogging)
        {
            Interlocked.MemoryBarrier();
            for (int i = 0; i < _dirty.Length; i++) Interlocked.Exchange(ref _dirty[i], ~0UL);
            if ((PageCount & 63) != 0) Interlocked.And(ref _dirty[^1], (1UL << (int)(PageCount & 63)) - 1);
        }
    }

    public void Dispose()
    {
        if (_mapping == null) return;
        munmap(_mapping, _mappingLength);
        _mapping = null;
    }

    [DllImport("libc", SetLastError = true)] private static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc", SetLastError = true)] private static extern int mprotect(void* addr, nuint length, int prot);
    [DllImport("libc", SetLastError = true)] private static extern int munmap(void* addr, nuint length);
    [DllImport("libc", SetLastError = true)] private static extern int madvise(void* addr, nuint length, int advice);
}

/// <summary>Per-page flags of guest RAM.</summary>
[Flags]
public enum PageFlags : byte
{
    None = 0,
    /// <summary>Writes to the page are reported to <see cref="Bus.WriteWatch"/> (HTIF tohost, translated code).</summary>
    WriteWatched = 1,
    /// <summary>Code was decoded from the page: stores to it go through the slow path, which makes the
    /// decoded blocks stale (self-modifying code, reused pages).</summary>
    Code = 2,
}
