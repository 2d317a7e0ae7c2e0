using Trapeze.Core.Cpu;

namespace Trapeze.Core.Memory;

/// <summary>
/// Page-granular dirty logging of one RAM region while its harts run (DESIGN.md "Memory": incremental
/// snapshots and live migration). Pages are marked by every writer: a hart when it makes a fast write TLB
/// entry for the page and after each slow-path store (watched and code pages, misaligned stores, AMOs and
/// LR/SC, page-table A/D updates), devices and loaders through <see cref="GuestMemory"/>.
/// <para>
/// Fast stores do not look at the bitmap, so a hart's write TLB must hold no entry for a page that is not
/// marked in the current bitmap. <see cref="Collect"/> keeps that true: it takes the bitmap, then asks every
/// hart to empty its write TLB and waits until each has (or is not executing). A store through an entry made
/// before the collection either happens before the hart acknowledges — its page was marked when the entry
/// was made, so it is in the collected set, and the caller reads the page after the acknowledgement — or
/// needs a new entry, which marks the page in the next bitmap. The opposite order (flush, then take) would
/// lose a store through an entry made between the two, after its mark was taken.
/// </para>
/// </summary>
public sealed class DirtyLog
{
    private readonly IReadOnlyList<Hart> _harts;

    public DirtyLog(GuestRam ram, IReadOnlyList<Hart> harts)
    {
        Ram = ram;
        _harts = harts;
    }

    public GuestRam Ram { get; }

    /// <summary>Collections so far (each one a TLB flush on every hart).</summary>
    public long Collections { get; private set; }

    public bool IsActive => Ram.DirtyLogging;

    /// <summary>A new bitmap of the right size for <see cref="Collect"/>.</summary>
    public ulong[] NewBitmap() => new ulong[Ram.DirtyBitmapWords];

    /// <summary>
    /// Starts logging with an empty bitmap. Returns once no hart holds a write entry made before: from then
    /// on every page written is marked, so a full copy made after this returns plus the collected pages of
    /// each later round reproduce the region.
    /// </summary>
    public void Start()
    {
        Ram.StartDirtyLog();
        FlushWriteTlbs();
    }

    /// <summary>Stops logging (the bitmap is dropped at the next start).</summary>
    public void Stop() => Ram.StopDirtyLog();

    /// <summary>
    /// Moves the pages written since the start or the previous collection into <paramref name="bitmap"/>
    /// (<see cref="GuestRam.DirtyBitmapWords"/> words) and returns their count. When it returns, every store
    /// to those pages made before the call is in memory: read them after, not before.
    /// </summary>
    public long Collect(Span<ulong> bitmap)
    {
        if (!Ram.DirtyLogging) throw new InvalidOperationException($"{Ram.Name}: dirty logging is not started");
        long count = Ram.TakeDirty(bitmap);
        FlushWriteTlbs();
        Collections++;
        return count;
    }

    /// <summary>Asks every hart to empty its write TLB and waits until each has done so or is not executing
    /// (it then does so before its next instruction). Never called on a hart's own thread.</summary>
    private void FlushWriteTlbs()
    {
        Span<long> tickets = _harts.Count <= 64 ? stackalloc long[_harts.Count] : new long[_harts.Count];
        for (int i = 0; i < _harts.Count; i++)
            tickets[i] = _harts[i].PostFence(RemoteFence.WriteTlb, all: false, 0, 0, waiter: null);
        var spin = new SpinWait();
        for (int i = 0; i < _harts.Count; i++)
        {
            // A running hart polls within microseconds; a sleeping one is woken by the post.
            while (!_harts[i].FenceDoneOrNotExecuting(tickets[i]))
            {
                if (!spin.NextSpinWillYield) spin.SpinOnce(-1);
                else Thread.Sleep(1);
            }
        }
    }
}

/// <summary>Walks the set bits of a dirty bitmap.</summary>
public static class DirtyBitmap
{
    /// <summary>Calls <paramref name="page"/> with the index of each set bit below <paramref name="pages"/>, in order.</summary>
    public static void ForEach(ReadOnlySpan<ulong> bitmap, ulong pages, Action<ulong> page)
    {
        for (int i = 0; i < bitmap.Length; i++)
        {
            ulong w = bitmap[i];
            while (w != 0)
            {
                ulong p = (ulong)i * 64 + (ulong)System.Numerics.BitOperations.TrailingZeroCount(w);
                if (p >= pages) return;
                page(p);
                w &= w - 1;
            }
        }
    }

    public static long Count(ReadOnlySpan<ulong> bitmap)
    {
        long n = 0;
        foreach (ulong w in bitmap) n += System.Numerics.BitOperations.PopCount(w);
        return n;
    }
}
