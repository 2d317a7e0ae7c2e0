namespace Trapeze.Core.Cpu;

/// <summary>What a remote fence asks of a hart (SBI RFENCE): the effects of FENCE.I and/or SFENCE.VMA.</summary>
[Flags]
public enum RemoteFence
{
    None = 0,
    /// <summary>FENCE.I: later fetches see every store made before the request.</summary>
    InstructionFetch = 1,
    /// <summary>SFENCE.VMA over a range of virtual addresses (all ASIDs: a superset is always correct).</summary>
    Translations = 2,
    /// <summary>Empty the write TLB (a dirty-log collection): the next store to each page makes a new entry,
    /// which marks the page dirty in the new bitmap.</summary>
    WriteTlb = 4,
}

/// <summary>
/// What other threads may ask of a hart, acted on by the hart's own thread — its TLB, decoded blocks and
/// registers belong to that thread alone:
/// <list type="bullet">
/// <item>Remote fences: posted with <see cref="PostFence"/>, carried out at the target's next poll point
///   (block boundary), while it sleeps in WFI, while it is parked, or while it waits for its own fences; the
///   poster waits with <see cref="WaitForFence"/>.</item>
/// <item>Parking (HSM STOPPED): a parked hart's thread sleeps and executes nothing until
///   <see cref="TryUnpark"/> hands it a start routine, which runs on the hart's thread.</item>
/// <item>Supervisor software interrupts raised by the monitor (SBI IPI).</item>
/// </list>
/// </summary>
public sealed unsafe partial class Hart
{
    /// <summary>A range of more pages than this is flushed as a whole.</summary>
    private const ulong MaxPagesFlushedOneByOne = 64;

    private readonly object _fenceLock = new();
    private readonly List<Hart> _fenceWaiters = new(4);
    private volatile bool _fencePending;
    private RemoteFence _fenceKinds;
    private bool _fenceAll;
    private ulong _fenceStart, _fenceEnd;
    private long _fencePosted, _fenceDone;

    private volatile bool _parked;
    private Action<Hart>? _startRoutine;
    private bool _ecallRedirected;

    /// <summary>True while the hart executes nothing (stopped in the HSM sense) until <see cref="TryUnpark"/>.</summary>
    public bool IsParked => _parked;

    /// <summary>Sets SSIP and wakes the hart (an IPI from the monitor's SBI). Any thread.</summary>
    public void RaiseSupervisorSoftwareInterrupt()
    {
        SetMip(Interrupt.Ssip, true);
        _wake.Set();
    }

    // ------------------------------------------------------------------ remote fences

    /// <summary>
    /// Asks this hart to carry out <paramref name="kind"/> before it executes further. For
    /// <see cref="RemoteFence.Translations"/>, [start, start + size) is the range; <paramref name="all"/> covers
    /// the whole address space. Requests that arrive before the hart gets to them are merged (a union, which is
    /// never less than asked). Returns a ticket for <see cref="WaitForFence"/>; <paramref name="waiter"/> is woken
    /// when the request is done. Any thread.
    /// </summary>
    public long PostFence(RemoteFence kind, bool all, ulong start, ulong size, Hart? waiter)
    {
        long ticket;
        lock (_fenceLock)
        {
            if ((kind & RemoteFence.Translations) != 0)
            {
                ulong end = size > ulong.MaxValue - start ? ulong.MaxValue : start + size;
                if ((_fenceKinds & RemoteFence.Translations) == 0)
                {
                    _fenceAll = all;
                    _fenceStart = start;
                    _fenceEnd = end;
                }
                else
                {
                    _fenceAll |= all;
                    _fenceStart = Math.Min(_fenceStart, start);
                    _fenceEnd = Math.Max(_fenceEnd, end);
                }
            }
            _fenceKinds |= kind;
            ticket = ++_fencePosted;
            if (waiter != null && !_fenceWaiters.Contains(waiter)) _fenceWaiters.Add(waiter);
            _fencePending = true;
        }
        // Poll at the next block boundary rather than up to PollInterval blocks later (a lost race with the
        // hart's own countdown only delays the poll to its normal time).
        Volatile.Write(ref _pollCountdown, 0);
        _wake.Set();
        return ticket;
    }

    /// <summary>True once this hart has carried out every fence posted up to <paramref name="ticket"/>.</summary>
    public bool FenceDone(long ticket) => Volatile.Read(ref _fenceDone) >= ticket;

    /// <summary>
    /// On this hart's own thread: waits until <paramref name="target"/> has carried out the fence of
    /// <paramref name="ticket"/>. Meanwhile this hart carries out fences posted to it, so two harts fencing each
    /// other cannot deadlock; a target asleep in WFI or parked acts on the request where it sleeps. Returns
    /// false if this hart was asked to stop first (the machine is powering off or resetting).
    /// </summary>
    public bool WaitForFence(Hart target, long ticket)
    {
        var spin = new SpinWait();
        while (!target.FenceDone(ticket))
        {
            if (_stopRequested) return false;
            ServiceRequests();
            // Spin briefly (the target is usually running and polls within microseconds), then sleep until
            // the target wakes this hart on completion; the timeout only bounds a missed wake-up.
            if (!spin.NextSpinWillYield) spin.SpinOnce(-1);
            else _wake.WaitOne(1);
        }
        return true;
    }

    /// <summary>Carries out the fences posted to this hart. Its own thread only.</summary>
    private void ServiceRequests()
    {
        if (!_fencePending) return;
        RemoteFence kinds;
        bool all;
        ulong start, end;
        long posted;
        lock (_fenceLock)
        {
            kinds = _fenceKinds;
            all = _fenceAll;
            start = _fenceStart;
            end = _fenceEnd;
            posted = _fencePosted;
            _fenceKinds = RemoteFence.None;
            _fencePending = false;
        }
        ExecuteFence(kinds, all, start, end - start);
        Stats.RemoteFences++;
        lock (_fenceLock)
        {
            Volatile.Write(ref _fenceDone, posted);
            foreach (var w in _fenceWaiters) w._wake.Set();
            _fenceWaiters.Clear();
        }
    }

    /// <summary>Carries out a fence on this hart now. Its own thread only (the SBI uses it for the calling hart).</summary>
    public void ExecuteFence(RemoteFence kind, bool all, ulong start, ulong size)
    {
        if ((kind & RemoteFence.Translations) != 0)
        {
            if (all || size > ulong.MaxValue - start) Mmu.FlushAll();
            else if (size != 0)
            {
                ulong pages = ((start + size - 1) >> 12) - (start >> 12) + 1;
                if (pages > MaxPagesFlushedOneByOne) Mmu.FlushAll();
                else for (ulong i = 0; i < pages; i++) Mmu.FlushPage((start & ~0xfffUL) + (i << 12));
            }
        }
        if ((kind & RemoteFence.InstructionFetch) != 0) FenceI();
        if ((kind & RemoteFence.WriteTlb) != 0) Mmu.FlushWrites();
    }

    // ------------------------------------------------------------------ executing or not

    private int _executing;

    /// <summary>
    /// True while a thread is inside <see cref="Run"/> or <see cref="Step"/>. A hart not executing stores
    /// nothing, and acts on posted fences before it executes again: a thread waiting for a fence it posted
    /// may count such a hart as done (see <see cref="FenceDoneOrNotExecuting"/>).
    /// </summary>
    public bool IsExecuting => Volatile.Read(ref _executing) != 0;

    /// <summary>
    /// For a thread that is not a hart, waiting for a fence it posted: true once this hart carried it out,
    /// or while the hart is not executing (it carries the fence out before its next instruction).
    /// </summary>
    public bool FenceDoneOrNotExecuting(long ticket)
    {
        if (FenceDone(ticket)) return true;
        // Pairs with the full fence in BeginExecuting: either this thread sees the hart executing, or the hart
        // sees the fence pending when it starts (each side writes its flag, fences, then reads the other's).
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _executing) == 0 || FenceDone(ticket);
    }

    private void BeginExecuting()
    {
        Interlocked.Exchange(ref _executing, 1);
        ServiceRequests();
    }

    /// <summary>Everything this hart stored happens before another thread sees it not executing.</summary>
    private void EndExecuting() => Volatile.Write(ref _executing, 0);

    // ------------------------------------------------------------------ parking (HSM)

    /// <summary>
    /// Stops executing: the hart's thread sleeps (carrying out fences) until <see cref="TryUnpark"/>. Called on
    /// the hart's own thread (an SBI hart_stop) or before its thread runs (secondary harts at power-on).
    /// </summary>
    public void Park()
    {
        _parked = true;
        // Stalls like WFI so that the run slice ends right after the current instruction.
        _state->Wfi = 1;
        _ecallRedirected = true;
    }

    /// <summary>
    /// Hands a parked hart the routine that starts it (sets pc, registers, privilege); the routine runs on the
    /// hart's own thread before it executes anything. Returns false when the hart is not parked or already has
    /// a start pending. Any thread.
    /// </summary>
    public bool TryUnpark(Action<Hart> start)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (!_parked) return false;
        if (Interlocked.CompareExchange(ref _startRoutine, start, null) != null) return false;
        _wake.Set();
        return true;
    }

    /// <summary>Sleeps while parked; returns when started or asked to stop.</summary>
    private void WaitWhileParked()
    {
        while (!_stopRequested)
        {
            ServiceRequests();
            if (TryApplyStart()) return;
            Mmu.EnterIdle();
            _wake.WaitOne();
        }
    }

    private bool TryApplyStart()
    {
        var start = Interlocked.Exchange(ref _startRoutine, null);
        if (start == null) return false;
        Mmu.LeaveIdle();
        _parked = false;
        _state->Wfi = 0;
        start(this);
        return true;
    }

    /// <summary>
    /// Enters S-mode at <paramref name="pc"/> with a0 = hartid, a1 = <paramref name="a1"/>, satp = 0 and
    /// sstatus.SIE = 0, as the SBI's hart_start and non-retentive resume specify (and as firmware enters a
    /// kernel), with no stale translations or decoded code. The hart's own thread, or before it runs. When
    /// called from an ECALL handler, the ECALL retires without advancing pc over it.
    /// </summary>
    public void StartSupervisor(ulong pc, ulong a1)
    {
        HartState* s = _state;
        s->Priv = Privilege.Supervisor;
        s->Pc = pc;
        s->X[10] = (ulong)HartId;
        s->X[11] = a1;
        s->Satp = 0;
        s->Mstatus &= ~Mstatus.Sie;
        s->Wfi = 0;
        s->ReservationValid = 0;
        Mmu.FlushAll();
        Mmu.UpdateContext();
        FenceI();
        _ecallRedirected = true;
    }

    /// <summary>
    /// On the hart's own thread (an SBI suspend): sleeps as WFI does until an interrupt enabled in mie is
    /// pending or the hart is asked to stop, carrying out fences meanwhile. Returns false on a stop request.
    /// </summary>
    public bool SleepUntilInterrupt()
    {
        _state->Wfi = 1;
        WaitForInterrupt();
        return !_stopRequested;
    }
}
