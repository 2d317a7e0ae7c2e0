using System.Runtime.InteropServices;
using Trapeze.Core.Memory;
using Trapeze.Core.Mmu;

namespace Trapeze.Core.Cpu;

/// <summary>
/// One RISC-V hart: its architectural state (in native memory, fixed address), its MMU, and the loop that
/// runs it on one host thread. Devices reach it only through <see cref="IHartPins"/>.
/// </summary>
public sealed unsafe partial class Hart : IHartPins, IDisposable
{
    /// <summary>misa: MXL = 64, extensions I M A F D C S U (Priv. spec 3.1.1). Read-only.</summary>
    public const ulong MisaValue = (2UL << 62) | (1UL << 0) | (1UL << 2) | (1UL << 3) | (1UL << 5) | (1UL << 8)
                                   | (1UL << 12) | (1UL << 18) | (1UL << 20);

    /// <summary>The ISA string the device tree advertises: exactly what is implemented.</summary>
    public const string IsaString = "rv64imafdc_zicntr_zicsr_zifencei_zihpm_sstc";

    /// <summary>Blocks executed between polls of the clock and of stop requests.</summary>
    private const int PollInterval = 128;

    private HartState* _state;
    private readonly AutoResetEvent _wake = new(false);
    private ulong _mtimecmp = ulong.MaxValue;
    private volatile bool _seipLine;
    private volatile bool _stopRequested;
    private int _pollCountdown;

    public Hart(int hartId, Bus bus, MachineClock clock)
    {
        HartId = hartId;
        Bus = bus;
        Clock = clock;
        _state = (HartState*)NativeMemory.AlignedAlloc((nuint)sizeof(HartState), 64);
        *_state = default;
        Mmu = new SoftMmu(_state, bus);
        Blocks = new BlockCache();
    }

    public int HartId { get; }
    public Bus Bus { get; }
    public MachineClock Clock { get; }
    public HartState* State => _state;
    public SoftMmu Mmu { get; }
    public BlockCache Blocks { get; }
    public HartStatistics Stats { get; } = new();

    /// <summary>Answers ECALLs from S-mode in the monitor (built-in SBI): returns true when handled, with
    /// the return values already in a0/a1. Null: ECALL traps to the guest's M-mode as usual.</summary>
    public Func<Hart, bool>? SupervisorEcallHandler { get; set; }

    /// <summary>Called when an exception is about to be taken (diagnostics); may be null.</summary>
    public Action<Hart, ExceptionCause, ulong>? OnException { get; set; }

    /// <summary>Called when an interrupt is about to be taken (diagnostics); may be null.</summary>
    public Action<Hart, int>? OnInterrupt { get; set; }

    public bool StopRequested => _stopRequested;

    /// <summary>Puts the hart in its reset state (Priv. spec 3.4): M-mode, MIE = MPRV = 0, pc = reset vector.</summary>
    public void Reset(ulong resetVector)
    {
        Mmu.TlbEntry* read = _state->ReadTlb, write = _state->WriteTlb, fetch = _state->FetchTlb;
        *_state = default;
        _state->ReadTlb = read;
        _state->WriteTlb = write;
        _state->FetchTlb = fetch;
        _state->Priv = Privilege.Machine;
        _state->Pc = resetVector;
        _state->Mstatus = Mstatus.Xlen64;
        _mtimecmp = ulong.MaxValue;
        _stopRequested = false;
        _parked = false;
        DropDerivedState();
    }

    /// <summary>Forgets everything derived from the previous architectural state: a pending HSM start,
    /// fences other harts posted, TLB entries, decoded blocks and their translations.</summary>
    private void DropDerivedState()
    {
        _startRoutine = null;
        lock (_fenceLock)
        {
            _fenceKinds = RemoteFence.None;
            _fencePending = false;
            _fenceDone = _fencePosted;
            _fenceWaiters.Clear();
        }
        Mmu.LeaveIdle();
        Mmu.FlushAll();
        Mmu.UpdateContext();
        Blocks.Clear();
    }

    /// <summary>Asks the hart's thread to return from <see cref="Run"/> (power-off, pause, reset).</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        _wake.Set();
    }

    public void ClearStop() => _stopRequested = false;

    /// <summary>Runs the hart on the calling thread until <see cref="RequestStop"/>.</summary>
    public void Run()
    {
        BeginExecuting();
        try
        {
            while (!_stopRequested)
            {
                if (_parked) WaitWhileParked();
                else if (_state->Wfi != 0) WaitForInterrupt();
                else ExecuteSlice();
            }
        }
        finally
        {
            EndExecuting();
        }
    }

    // ------------------------------------------------------------------ interrupt pins (any thread)

    public void SetMachineSoftwareInterrupt(bool level) { SetMip(Interrupt.Msip, level); _wake.Set(); }

    public void SetMachineTimerCompare(ulong mtimecmp)
    {
        Volatile.Write(ref _mtimecmp, mtimecmp);
        SetMip(Interrupt.Mtip, Clock.Now >= mtimecmp);
        _wake.Set();
    }

    public void SetMachineExternalInterrupt(bool level) { SetMip(Interrupt.Meip, level); _wake.Set(); }

    public void SetSupervisorExternalInterrupt(bool level)
    {
        _seipLine = level;
        SetMip(Interrupt.Seip, level || _seipSoftware);
        _wake.Set();
    }

    private volatile bool _seipSoftware;

    private void SetMip(ulong bit, bool level)
    {
        if (level) Interlocked.Or(ref _state->Mip, bit);
        else Interlocked.And(ref _state->Mip, ~bit);
    }

    /// <summary>Sets mip bits from the hart itself (CSR writes), atomically against device threads.</summary>
    private void WriteMip(ulong mask, ulong value)
    {
        ulong old = Volatile.Read(ref _state->Mip);
        while (true)
        {
            ulong seen = Interlocked.CompareExchange(ref _state->Mip, (old & ~mask) | (value & mask), old);
            if (seen == old) return;
            old = seen;
        }
    }

    /// <summary>Re-evaluates the timer interrupts against the clock: MTIP from mtimecmp, and STIP from
    /// stimecmp when Sstc is enabled by menvcfg.STCE.</summary>
    private void UpdateTimers()
    {
        ulong now = Clock.Now;
        SetMip(Interrupt.Mtip, now >= Volatile.Read(ref _mtimecmp));
        if ((_state->Menvcfg & MenvcfgStce) != 0) SetMip(Interrupt.Stip, now >= _state->Stimecmp);
    }

    /// <summary>Checks the clock, watch changes and stop requests. Returns true to leave the run slice.</summary>
    private bool Poll()
    {
        UpdateTimers();
        Mmu.SyncWatches();
        ServiceRequests();
        return _stopRequested;
    }

    /// <summary>WFI (Priv. spec 3.3.3): sleep until an interrupt is pending and enabled in mie, regardless of
    /// the global enables, or a timer deadline passes. The thread blocks; it never spins. Only enabled timers
    /// set the deadline: a masked one already due (OpenSBI leaves mtimecmp in the past, MTIE clear, once it
    /// has handed a timer interrupt to S-mode) would otherwise make every sleep zero-length. Fences posted by
    /// other harts are carried out meanwhile.</summary>
    private void WaitForInterrupt()
    {
        Stats.WfiSleeps++;
        while (!_stopRequested)
        {
            ServiceRequests();
            UpdateTimers();
            if ((Volatile.Read(ref _state->Mip) & _state->Mie) != 0) break;
            ulong deadline = (_state->Mie & Interrupt.Mtip) != 0 ? Volatile.Read(ref _mtimecmp) : ulong.MaxValue;
            if ((_state->Menvcfg & MenvcfgStce) != 0 && (_state->Mie & Interrupt.Stip) != 0)
                deadline = Math.Min(deadline, _state->Stimecmp);
            TimeSpan wait = Clock.Until(deadline);
            if (wait > TimeSpan.FromMilliseconds(250)) wait = TimeSpan.FromMilliseconds(250);
            if (wait > TimeSpan.Zero)
            {
                Mmu.EnterIdle();
                _wake.WaitOne(wait);
            }
        }
        Mmu.LeaveIdle();
        _state->Wfi = 0;
    }

    // ------------------------------------------------------------------ traps

    /// <summary>Takes the highest-priority pending and enabled interrupt, if any (Priv. spec 3.1.9).</summary>
    private bool TakePendingInterrupt()
    {
        HartState* s = _state;
        ulong pending = Volatile.Read(ref s->Mip) & s->Mie;
        if (pending == 0) return false;
        ulong toM = pending & ~s->Mideleg;
        ulong toS = pending & s->Mideleg;
        bool mEnabled = s->Priv < Privilege.Machine || (s->Mstatus & Mstatus.Mie) != 0;
        bool sEnabled = s->Priv < Privilege.Supervisor || (s->Priv == Privilege.Supervisor && (s->Mstatus & Mstatus.Sie) != 0);
        ulong candidates = mEnabled && toM != 0 ? toM : sEnabled ? toS : 0;
        if (candidates == 0) return false;
        foreach (byte irq in Interrupt.PriorityOrder)
        {
            if ((candidates & (1UL << irq)) == 0) continue;
            Stats.Interrupts++;
            OnInterrupt?.Invoke(this, irq);
            EnterTrap(irq, isInterrupt: true, tval: 0);
            return true;
        }
        return false;
    }

    /// <summary>Raises a synchronous exception at the current pc.</summary>
    public void RaiseException(ExceptionCause cause, ulong tval)
    {
        Stats.Exceptions++;
        if (cause is ExceptionCause.InstructionPageFault or ExceptionCause.LoadPageFault or ExceptionCause.StorePageFault)
            Stats.PageFaults++;
        OnException?.Invoke(this, cause, tval);
        EnterTrap((int)cause, isInterrupt: false, tval);
    }

    /// <summary>Trap entry (Priv. spec 3.1.6.1, 3.1.7, 4.1.1): delegated traps from S/U go to S-mode.</summary>
    private void EnterTrap(int cause, bool isInterrupt, ulong tval)
    {
        HartState* s = _state;
        ulong deleg = isInterrupt ? s->Mideleg : s->Medeleg;
        Privilege from = s->Priv;
        ulong causeValue = (ulong)(uint)cause | (isInterrupt ? 1UL << 63 : 0);
        if (from <= Privilege.Supervisor && ((deleg >> cause) & 1) != 0)
        {
            s->Scause = causeValue;
            s->Sepc = s->Pc;
            s->Stval = tval;
            ulong st = s->Mstatus;
            st = (st & ~Mstatus.Spie) | ((st & Mstatus.Sie) != 0 ? Mstatus.Spie : 0);
            st &= ~Mstatus.Sie;
            st = (st & ~Mstatus.Spp) | (from == Privilege.Supervisor ? Mstatus.Spp : 0);
            s->Mstatus = st;
            s->Priv = Privilege.Supervisor;
            s->Pc = TrapVector(s->Stvec, cause, isInterrupt);
        }
        else
        {
            s->Mcause = causeValue;
            s->Mepc = s->Pc;
            s->Mtval = tval;
            ulong st = s->Mstatus;
            st = (st & ~Mstatus.Mpie) | ((st & Mstatus.Mie) != 0 ? Mstatus.Mpie : 0);
            st &= ~Mstatus.Mie;
            st = (st & ~Mstatus.MppMask) | ((ulong)from << Mstatus.MppShift);
            s->Mstatus = st;
            s->Priv = Privilege.Machine;
            s->Pc = TrapVector(s->Mtvec, cause, isInterrupt);
        }
        s->Wfi = 0;
        Mmu.UpdateContext();
    }

    private static ulong TrapVector(ulong tvec, int cause, bool isInterrupt)
    {
        ulong b = tvec & ~3UL;
        return (tvec & 3) == 1 && isInterrupt ? b + 4 * (ulong)cause : b;
    }

    public void Dispose()
    {
        if (_state != null)
        {
            Mmu.Free();
            NativeMemory.AlignedFree(_state);
            _state = null;
        }
        _wake.Dispose();
    }
}

/// <summary>Per-hart counters: what left the fast path and why (a user-facing feature, see --stats).</summary>
public sealed class HartStatistics
{
    public long Blocks, BlocksDecoded, Exceptions, Interrupts, PageFaults, Ecalls, CsrAccesses, WfiSleeps,
        FenceI, SfenceVma, BlockCacheFlushes, RegionRuns, TranslatedInstructions;

    /// <summary>Region runs entered straight from the previous region's exit (chaining), without the
    /// dispatcher's lookup.</summary>
    public long ChainedRuns;

    /// <summary>Region runs that left at a TLB miss (a first translation; see CompiledRegion.LeavesAtMiss).</summary>
    public long TlbMissExits;

    /// <summary>ECALLs answered by the monitor (built-in SBI): hypercall exits.</summary>
    public long Hypercalls;

    /// <summary>Fence requests from other harts carried out (SBI RFENCE).</summary>
    public long RemoteFences;
}
