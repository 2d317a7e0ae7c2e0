using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;

namespace Trapeze.Core.Mmu;

/// <summary>
/// Address translation and memory access for one hart: separate read, write and fetch TLBs of host
/// addends (fast path inline, slow path cold), the Sv39/Sv48/Sv57 page walker with hardware A/D updates,
/// and PMP. Failing accesses record the exception in <see cref="HartState.PendingCause"/> /
/// <see cref="HartState.PendingTval"/> and return false — traps are values, not .NET exceptions.
/// </summary>
public sealed unsafe partial class SoftMmu
{
    public const int TlbBits = 8;
    public const int TlbSize = 1 << TlbBits;
    public const ulong PageMask = ~0xfffUL;

    private readonly HartState* _s;
    private readonly Bus _bus;
    // The three TLBs live in native memory, addressed from the hart state, so that translated code can
    // run the hit path inline.
    private readonly TlbEntry* _read;
    private readonly TlbEntry* _write;
    private readonly TlbEntry* _fetch;
    private int _watchGeneration;
    private int _idle;

    /// <summary>Translation context for loads/stores; part of every TLB tag.</summary>
    public ulong DataCtx => _s->DataCtx;

    /// <summary>Translation context for fetches.</summary>
    public ulong FetchCtx => _s->FetchCtx;

    /// <summary>Statistics: TLB misses that needed a page walk, and device (MMIO) accesses (also counted
    /// per device in <see cref="MmioRegion.Accesses"/>).</summary>
    public long PageWalks, MmioAccesses;

    /// <summary>Lockstep: records (or replays) this hart's RAM writes and device accesses while set.</summary>
    public AccessLog? Log { get; set; }

    /// <summary>Lockstep: every store takes the slow path (where <see cref="Log"/> sees it). Set once,
    /// before the hart runs; the TLBs must be flushed after.</summary>
    public bool NoFastWrites { get; set; }

    public SoftMmu(HartState* state, Bus bus)
    {
        _s = state;
        _bus = bus;
        _read = Allocate();
        _write = Allocate();
        _fetch = Allocate();
        state->ReadTlb = _read;
        state->WriteTlb = _write;
        state->FetchTlb = _fetch;
        FlushAll();
        UpdateContext();
        bus.RegisterMmu(this);
    }

    /// <summary>The <see cref="Bus.WatchGeneration"/> this hart's write TLB is in sync with: it holds no
    /// fast entry for a page that was watched or held code at that generation.</summary>
    public int SyncedGeneration => Volatile.Read(ref _watchGeneration);

    public Bus Bus => _bus;

    /// <summary>True while the hart sleeps (WFI, parked) with an empty write TLB: it cannot store through an
    /// entry older than a page's marking, so it counts as in sync at every generation and FENCE.I on another
    /// hart need not empty its cache on its account.</summary>
    public bool Idle => Volatile.Read(ref _idle) != 0;

    /// <summary>Before the hart's thread sleeps: empties the write TLB and declares the hart idle.</summary>
    public void EnterIdle()
    {
        if (_idle != 0) return;
        for (int i = 0; i < TlbSize; i++) _write[i].Tag = TlbEntry.Empty;
        Volatile.Write(ref _idle, 1);
    }

    /// <summary>When the hart wakes. The flag is cleared with a full fence before the generation is read, so a
    /// hart marking a page meanwhile either sees this one busy or is seen by it (the empty write TLB then
    /// refills from the page flags as they are now).</summary>
    public void LeaveIdle()
    {
        if (_idle == 0) return;
        Interlocked.Exchange(ref _idle, 0);
        Volatile.Write(ref _watchGeneration, Volatile.Read(ref _bus.WatchGeneration));
    }

    // ------------------------------------------------------------------ context and flushing

    /// <summary>Recomputes the translation contexts after a change of privilege, satp or mstatus.</summary>
    public void UpdateContext()
    {
        Privilege p = _s->Priv;
        Privilege dp = p;
        if (p == Privilege.Machine && (_s->Mstatus & Mstatus.Mprv) != 0)
            dp = (Privilege)((_s->Mstatus >> Mstatus.MppShift) & 3);
        _s->FetchCtx = Context(p, data: false);
        _s->DataCtx = Context(dp, data: true);
    }

    private ulong Context(Privilege p, bool data)
    {
        ulong c = 1UL << 40 | (ulong)p << 20;
        ulong satp = _s->Satp;
        ulong mode = satp >> 60;
        if (p != Privilege.Machine && mode != 0)
        {
            c |= 1UL << 24 | mode << 25 | ((satp >> 44) & 0xffff);
            if (data)
            {
                if ((_s->Mstatus & Mstatus.Sum) != 0) c |= 1UL << 22;
                if ((_s->Mstatus & Mstatus.Mxr) != 0) c |= 1UL << 23;
            }
        }
        return c;
    }

    public void FlushAll()
    {
        Fill(_read); Fill(_write); Fill(_fetch);
        _watchGeneration = Volatile.Read(ref _bus.WatchGeneration);
        static void Fill(TlbEntry* t)
        {
            for (int i = 0; i < TlbSize; i++) t[i].Tag = TlbEntry.Empty;
        }
    }

    /// <summary>SFENCE.VMA with an address: drops that page's entries in every context (Priv. spec 4.2.1).
    /// The TLB is direct-mapped, so each table has at most one slot for the page.</summary>
    public void FlushPage(ulong va)
    {
        ulong tag = va & PageMask;
        FlushSlot(ref Slot(_read, va), tag);
        FlushSlot(ref Slot(_write, va), tag);
        FlushSlot(ref Slot(_fetch, va), tag);
        static void FlushSlot(ref TlbEntry e, ulong tag)
        {
            if ((e.Tag & ~TlbEntry.SlowOnly) == tag) e.Tag = TlbEntry.Empty;
        }
    }

    /// <summary>
    /// Drops write entries made before a page became write-watched or started holding code (called at poll
    /// points and by FENCE.I). A fast entry for a page that now holds code may have been used to store to
    /// it after the code was decoded, so that page's decoded blocks are conservatively made stale.
    /// </summary>
    public void SyncWatches()
    {
        int g = Volatile.Read(ref _bus.WatchGeneration);
        if (g == _watchGeneration) return;
        DropWriteEntries();
        Volatile.Write(ref _watchGeneration, g);
    }

    /// <summary>
    /// Empties the write TLB (a dirty-log collection: the next store to each page makes a new entry, which
    /// marks the page dirty again). Does what <see cref="SyncWatches"/> does on the way, so it also counts as
    /// a sync. The hart's own thread only.
    /// </summary>
    public void FlushWrites()
    {
        int g = Volatile.Read(ref _bus.WatchGeneration);
        DropWriteEntries();
        Volatile.Write(ref _watchGeneration, g);
    }

    private void DropWriteEntries()
    {
        for (int i = 0; i < TlbSize; i++)
        {
            ref TlbEntry e = ref _write[i];
            if (e.Tag == TlbEntry.Empty) continue;
            if ((e.Tag & TlbEntry.SlowOnly) == 0 && _bus.FindMemory(e.PhysPage) is { } m && m.HasFlag(m.PageOf(e.PhysPage), PageFlags.Code))
                m.InvalidateCode(m.PageOf(e.PhysPage));
            e.Tag = TlbEntry.Empty;
        }
    }

    /// <summary>Marks the RAM page at <paramref name="pa"/> as holding code (called before its bytes are
    /// decoded). Every hart's write TLB must then stop storing to it directly: this hart's at once, the
    /// others' at their next sync.</summary>
    public void MarkCode(GuestRam m, ulong pa)
    {
        ulong page = m.PageOf(pa);
        if (!m.MarkCode(page)) return;
        int synced = _watchGeneration;
        int g = Interlocked.Increment(ref _bus.WatchGeneration);
        ulong physPage = pa & PageMask;
        for (int i = 0; i < TlbSize; i++)
            if (_write[i].PhysPage == physPage) _write[i].Tag = TlbEntry.Empty;
        if (synced == g - 1) Volatile.Write(ref _watchGeneration, g);
    }

    /// <summary>What must follow a store to guest RAM that bypassed the fast path: stale code, watches.</summary>
    internal void AfterRamWrite(GuestRam m, ulong pa, int size)
    {
        ulong page = m.PageOf(pa);
        // After the data: a collection that takes the bitmap before this mark runs after the store landed
        // (the hart finishes the instruction before it acknowledges the collection's TLB flush).
        m.MarkDirtyPage(page);
        byte f = Volatile.Read(ref m.Flags[page]);
        if (f == 0) return;
        if ((f & (byte)PageFlags.Code) != 0) m.InvalidateCode(page);
        if ((f & (byte)PageFlags.WriteWatched) != 0)
        {
            // The watcher (HTIF) reacts by changing memory: a lockstep run that did this cannot be replayed.
            if (Log != null) Log.WroteWatchedPage = true;
            _bus.WriteWatch?.Invoke(pa, size);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref TlbEntry Slot(TlbEntry* tlb, ulong va) => ref tlb[(va >> 12) & (TlbSize - 1)];

    private static TlbEntry* Allocate() =>
        (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(TlbSize * sizeof(TlbEntry)), 64);

    /// <summary>Frees the TLBs (the hart is being disposed).</summary>
    public void Free()
    {
        NativeMemory.AlignedFree(_read);
        NativeMemory.AlignedFree(_write);
        NativeMemory.AlignedFree(_fetch);
    }

    // ------------------------------------------------------------------ fast paths

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Load8(ulong va, out ulong v)
    {
        ref TlbEntry e = ref Slot(_read, va);
        if (e.Tag == (va & PageMask) && e.Ctx == DataCtx) { v = *(byte*)(e.Addend + (nint)va); return true; }
        return LoadSlow(va, 1, out v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Load16(ulong va, out ulong v)
    {
        ref TlbEntry e = ref Slot(_read, va);
        if (e.Tag == (va & (PageMask | 1)) && e.Ctx == DataCtx) { v = *(ushort*)(e.Addend + (nint)va); return true; }
        return LoadSlow(va, 2, out v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Load32(ulong va, out ulong v)
    {
        ref TlbEntry e = ref Slot(_read, va);
        if (e.Tag == (va & (PageMask | 3)) && e.Ctx == DataCtx) { v = *(uint*)(e.Addend + (nint)va); return true; }
        return LoadSlow(va, 4, out v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Load64(ulong va, out ulong v)
    {
        ref TlbEntry e = ref Slot(_read, va);
        if (e.Tag == (va & (PageMask | 7)) && e.Ctx == DataCtx) { v = *(ulong*)(e.Addend + (nint)va); return true; }
        return LoadSlow(va, 8, out v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Store8(ulong va, ulong v)
    {
        ref TlbEntry e = ref Slot(_write, va);
        if (e.Tag == (va & PageMask) && e.Ctx == DataCtx) { *(byte*)(e.Addend + (nint)va) = (byte)v; return true; }
        return StoreSlow(va, 1, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Store16(ulong va, ulong v)
    {
        ref TlbEntry e = ref Slot(_write, va);
        if (e.Tag == (va & (PageMask | 1)) && e.Ctx == DataCtx) { *(ushort*)(e.Addend + (nint)va) = (ushort)v; return true; }
        return StoreSlow(va, 2, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Store32(ulong va, ulong v)
    {
        ref TlbEntry e = ref Slot(_write, va);
        if (e.Tag == (va & (PageMask | 3)) && e.Ctx == DataCtx) { *(uint*)(e.Addend + (nint)va) = (uint)v; return true; }
        return StoreSlow(va, 4, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Store64(ulong va, ulong v)
    {
        ref TlbEntry e = ref Slot(_write, va);
        if (e.Tag == (va & (PageMask | 7)) && e.Ctx == DataCtx) { *(ulong*)(e.Addend + (nint)va) = v; return true; }
        return StoreSlow(va, 8, v);
    }

    /// <summary>Translates an instruction fetch at <paramref name="pc"/> to the host address of its page and
    /// the guest-physical address. Fails (with the exception recorded) for faults and for code outside RAM/ROM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TranslateFetch(ulong pc, out byte* host, out ulong pa)
    {
        ref TlbEntry e = ref Slot(_fetch, pc);
        if (e.Tag == (pc & PageMask) && e.Ctx == FetchCtx)
        {
            host = (byte*)(e.Addend + (nint)pc);
            pa = e.PhysPage | (pc & 0xfff);
            return true;
        }
        return TranslateFetchSlow(pc, out host, out pa);
    }

    /// <summary>True when the whole 4 KiB page of <paramref name="pc"/> is in the fetch TLB (fetches from it
    /// need no per-instruction PMP check).</summary>
    public bool FetchPageCached(ulong pc)
    {
        ref TlbEntry e = ref Slot(_fetch, pc);
        return e.Tag == (pc & PageMask) && e.Ctx == FetchCtx;
    }

    // ------------------------------------------------------------------ slow paths

    private bool Fail(ExceptionCause cause, ulong tval)
    {
        _s->PendingCause = (byte)cause;
        _s->PendingTval = tval;
        return false;
    }

    private static ExceptionCause AccessFault(AccessType t) => t switch
    {
        AccessType.Read => ExceptionCause.LoadAccessFault,
        AccessType.Write => ExceptionCause.StoreAccessFault,
        _ => ExceptionCause.InstructionAccessFault,
    };

    private static ExceptionCause PageFault(AccessType t) => t switch
    {
        AccessType.Read => ExceptionCause.LoadPageFault,
        AccessType.Write => ExceptionCause.StorePageFault,
        _ => ExceptionCause.InstructionPageFault,
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TranslateFetchSlow(ulong pc, out byte* host, out ulong pa)
    {
        host = null;
        if (!Translate(pc, 2, AccessType.Fetch, out pa)) return false;
        var m = _bus.FindMemory(pa);
        if (m == null) return Fail(ExceptionCause.InstructionAccessFault, pc);
        host = m.Host + (pa - m.Base);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool LoadSlow(ulong va, int size, out ulong v)
    {
        v = 0;
        if ((va & (ulong)(size - 1)) != 0) return LoadMisaligned(va, size, out v);
        if (!Translate(va, size, AccessType.Read, out ulong pa)) return false;
        return ReadPhysical(pa, size, va, out v);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool StoreSlow(ulong va, int size, ulong v)
    {
        if ((va & (ulong)(size - 1)) != 0) return StoreMisaligned(va, size, v);
        if (!Translate(va, size, AccessType.Write, out ulong pa)) return false;
        return WritePhysical(pa, size, va, v);
    }

    /// <summary>Misaligned loads are performed, not trapped (as QEMU does). The access is split where it
    /// crosses a page; each part is translated and checked by PMP over all of its bytes before any byte is
    /// read, so a fault leaves nothing half done. The faulting address reported is the access's own.</summary>
    private bool LoadMisaligned(ulong va, int size, out ulong v)
    {
        v = 0;
        if (!TranslateSplit(va, size, AccessType.Read, out ulong pa0, out ulong pa1, out int first)) return false;
        for (int i = 0; i < size; i++)
        {
            ulong pa = i < first ? pa0 + (ulong)i : pa1 + (ulong)(i - first);
            if (!ReadPhysical(pa, 1, va, out ulong b)) return false;
            v |= b << (8 * i);
        }
        return true;
    }

    private bool StoreMisaligned(ulong va, int size, ulong v)
    {
        if (!TranslateSplit(va, size, AccessType.Write, out ulong pa0, out ulong pa1, out int first)) return false;
        for (int i = 0; i < size; i++)
        {
            ulong pa = i < first ? pa0 + (ulong)i : pa1 + (ulong)(i - first);
            if (!WritePhysical(pa, 1, va, v >> (8 * i))) return false;
        }
        return true;
    }

    /// <summary>Translates an access that may cross a page: <paramref name="first"/> bytes at
    /// <paramref name="pa0"/>, the rest at <paramref name="pa1"/>.</summary>
    private bool TranslateSplit(ulong va, int size, AccessType type, out ulong pa0, out ulong pa1, out int first)
    {
        pa1 = 0;
        ulong toPageEnd = 0x1000 - (va & 0xfff);
        first = (int)Math.Min((ulong)size, toPageEnd);
        if (!Translate(va, first, type, out pa0)) { _s->PendingTval = va; return false; }
        if (first < size && !Translate(va + (ulong)first, size - first, type, out pa1)) { _s->PendingTval = va; return false; }
        return true;
    }

    /// <summary>Reads guest-physical memory or a device; <paramref name="va"/> is reported on a fault.</summary>
    public bool ReadPhysical(ulong pa, int size, ulong va, out ulong v)
    {
        var m = _bus.FindMemory(pa);
        if (m != null && m.Contains(pa, (ulong)size))
        {
            byte* p = m.Host + (pa - m.Base);
            v = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            return true;
        }
        var dev = _bus.FindDevice(pa, size);
        if (dev != null)
        {
            bool accepted;
            if (Log is { Replay: true } replay) replay.ReplayRead(pa, size, out v, out accepted); // counted in the recorded run
            else
            {
                MmioAccesses++;
                Interlocked.Increment(ref dev.Accesses);
                accepted = dev.Device.Read(pa - dev.Base, size, out v);
                Log?.RecordMmio(pa, size, write: false, v, accepted);
            }
            if (accepted) return true;
        }
        v = 0;
        return Fail(ExceptionCause.LoadAccessFault, va);
    }

    public bool WritePhysical(ulong pa, int size, ulong va, ulong v)
    {
        var m = _bus.FindMemory(pa);
        if (m != null && m.Contains(pa, (ulong)size) && !m.ReadOnly)
        {
            byte* p = m.Host + (pa - m.Base);
            Log?.BeforeRamWrite(p, pa, size);
            switch (size)
            {
                case 1: *p = (byte)v; break;
                case 2: *(ushort*)p = (ushort)v; break;
                case 4: *(uint*)p = (uint)v; break;
                default: *(ulong*)p = v; break;
            }
            AfterRamWrite(m, pa, size);
            return true;
        }
        var dev = _bus.FindDevice(pa, size);
        if (dev != null)
        {
            bool accepted;
            if (Log is { Replay: true } replay) replay.ReplayWrite(pa, size, v, out accepted); // counted in the recorded run
            else
            {
                MmioAccesses++;
                Interlocked.Increment(ref dev.Accesses);
                accepted = dev.Device.Write(pa - dev.Base, size, v);
                Log?.RecordMmio(pa, size, write: true, v, accepted);
            }
            if (accepted) return true;
        }
        return Fail(ExceptionCause.StoreAccessFault, va);
    }

    /// <summary>
    /// Translates <paramref name="va"/> for an access of <paramref name="size"/> bytes (naturally aligned, so
    /// within one page), checks PMP, and fills the TLB when the whole page may be cached.
    /// </summary>
    public bool Translate(ulong va, int size, AccessType type, out ulong pa)
    {
        TlbEntry* tlb = type switch { AccessType.Read => _read, AccessType.Write => _write, _ => _fetch };
        ulong ctx = type == AccessType.Fetch ? FetchCtx : DataCtx;
        ref TlbEntry e = ref Slot(tlb, va);
        if ((e.Tag & ~TlbEntry.SlowOnly) == (va & PageMask) && e.Ctx == ctx)
        {
            // Translated before, but the page must take this path (device, watched page, PMP on part of it).
            pa = e.PhysPage | (va & 0xfff);
            Privilege p0 = EffectivePrivilege(type);
            if (!Pmp.Check(_s, pa, (ulong)size, type, p0)) return Fail(AccessFault(type), va);
            return true;
        }

        Privilege priv = EffectivePrivilege(type);
        ulong mode = _s->Satp >> 60;
        bool dirtyOk = true;
        if (priv == Privilege.Machine || mode == 0)
        {
            pa = va;
            // Physical addresses are 56 bits wide; anything above does not exist.
            if ((va >> 56) != 0) return Fail(AccessFault(type), va);
        }
        else
        {
            PageWalks++;
            if (!Walk(va, type, priv, (int)mode, out pa, out dirtyOk)) return false;
        }

        if (!Pmp.Check(_s, pa, (ulong)size, type, priv)) return Fail(AccessFault(type), va);

        // Fill the TLB. RAM pages the whole of which PMP allows get a host addend; other pages keep only
        // the translation, so later accesses skip the walk but still come here.
        ulong page = pa & PageMask;
        var m = _bus.FindMemory(page);
        bool fast = m != null && m.Contains(page, 1UL << 12) && Pmp.CheckPage(_s, page, type, priv);
        if (fast && type == AccessType.Write)
        {
            fast = !m!.ReadOnly && dirtyOk && Volatile.Read(ref m.Flags[m.PageOf(page)]) == 0 && !NoFastWrites;
            // Dirty logging: a fast write entry exists only for a page already marked in the current bitmap
            // (stores through it do not look at the bitmap). Marked before the entry is usable; a collection
            // that takes the mark first also flushes the entry and waits for that before reading the page.
            if (fast) m.MarkDirtyPage(m.PageOf(page));
        }
        if (type != AccessType.Write || dirtyOk)
        {
            Log?.BeforeTlbFill(ref e);
            e.Ctx = ctx;
            e.PhysPage = page;
            if (fast)
            {
                e.Tag = va & PageMask;
                e.Addend = (nint)(m!.Host + (page - m.Base)) - (nint)(va & PageMask);
            }
            else
            {
                e.Tag = (va & PageMask) | TlbEntry.SlowOnly;
                e.Addend = 0;
            }
        }
        return true;
    }

    private Privilege EffectivePrivilege(AccessType type)
    {
        Privilege p = _s->Priv;
        if (type != AccessType.Fetch && p == Privilege.Machine && (_s->Mstatus & Mstatus.Mprv) != 0)
            p = (Privilege)((_s->Mstatus >> Mstatus.MppShift) & 3);
        return p;
    }
}
