using System.Numerics;
using Trapeze.Core.Cpu;

namespace Trapeze.Machine.Sbi;

/// <summary>The extensions that act on other harts: IPI, RFENCE and HSM.</summary>
public sealed unsafe partial class BuiltinSbi
{
    /// <summary>
    /// Decodes a hart list (SBI spec v2.0, "Hart list parameter"): bit i of <paramref name="mask"/> names hart
    /// <paramref name="maskBase"/> + i; a base of -1 means every hart. Any named hart that does not exist makes
    /// the whole call SBI_ERR_INVALID_PARAM (nothing is done). The result is a set of hart ids as bits.
    /// </summary>
    public bool TryDecodeHartMask(ulong mask, ulong maskBase, out ulong harts)
    {
        ulong all = _harts.Length == 64 ? ulong.MaxValue : (1UL << _harts.Length) - 1;
        if (maskBase == ulong.MaxValue)
        {
            harts = all;
            return true;
        }
        harts = 0;
        if (mask == 0) return true;
        // The highest hart named must exist; then so do all the others.
        int top = 63 - BitOperations.LeadingZeroCount(mask);
        if (maskBase >= (ulong)_harts.Length || (ulong)top >= (ulong)_harts.Length - maskBase) return false;
        harts = mask << (int)maskBase;
        return true;
    }

    /// <summary>Harts that take part in IPIs and fences: every hart but those stopped or about to start (a
    /// starting hart begins with no translations and no stale code anyway; OpenSBI skips them too).</summary>
    private bool IsRunning(int hartId) =>
        (HsmState)Volatile.Read(ref _hsm[hartId]) is not (HsmState.Stopped or HsmState.StartPending);

    // ------------------------------------------------------------------ IPI (EID "sPI")

    /// <summary>send_ipi: SSIP on each target (a supervisor software interrupt), waking it if asleep.</summary>
    private SbiRet Ipi(ulong fid, ulong mask, ulong maskBase)
    {
        if (fid != 0) return NotSupported();
        Statistics.Count(SbiCall.IpiSendIpi);
        if (!TryDecodeHartMask(mask, maskBase, out ulong targets)) return SbiRet.Fail(SbiError.InvalidParam);
        for (; targets != 0; targets &= targets - 1)
        {
            int id = BitOperations.TrailingZeroCount(targets);
            if (IsRunning(id)) _harts[id].RaiseSupervisorSoftwareInterrupt();
        }
        return SbiRet.Ok();
    }

    // ------------------------------------------------------------------ RFENCE (EID "RFNC")

    private SbiRet Rfence(Hart caller, ulong fid, ulong mask, ulong maskBase, ulong start, ulong size)
    {
        RemoteFence kind;
        switch (fid)
        {
            case 0: Statistics.Count(SbiCall.RfenceRemoteFenceI); kind = RemoteFence.InstructionFetch; break;
            case 1: Statistics.Count(SbiCall.RfenceRemoteSfenceVma); kind = RemoteFence.Translations; break;
            case 2: Statistics.Count(SbiCall.RfenceRemoteSfenceVmaAsid); kind = RemoteFence.Translations; break;
            // 3..6 are the HFENCE functions: there is no H extension.
            default: return NotSupported();
        }
        if (!TryDecodeHartMask(mask, maskBase, out ulong targets)) return SbiRet.Fail(SbiError.InvalidParam);
        bool all = false;
        if (kind == RemoteFence.Translations)
        {
            // The whole address space when start and size are both 0, or size is 2^XLEN - 1 (SBI spec v2.0).
            all = (start == 0 && size == 0) || size == ulong.MaxValue;
            if (!all && size > ulong.MaxValue - start) return SbiRet.Fail(SbiError.InvalidAddress);
        }
        RemoteFenceOn(caller, targets, kind, all, start, size);
        return SbiRet.Ok();
    }

    /// <summary>
    /// Makes each target carry out the fence before this returns. A target's TLB and decoded blocks belong to
    /// its thread, so the request is posted and the target acts on it at its next block boundary (or where it
    /// sleeps, in WFI or stopped); the caller waits for all of them. Waiting is required: the caller may reuse a
    /// page as soon as the call returns (Linux frees page tables and pages after a remote sfence.vma), so a target
    /// still holding the old translation could write freed memory. The caller carries out fences posted to it
    /// while it waits, so harts fencing each other never deadlock.
    /// </summary>
    private void RemoteFenceOn(Hart caller, ulong targets, RemoteFence kind, bool all, ulong start, ulong size)
    {
        Span<long> tickets = stackalloc long[_harts.Length];
        ulong posted = 0;
        for (ulong t = targets; t != 0; t &= t - 1)
        {
            int id = BitOperations.TrailingZeroCount(t);
            if (id == caller.HartId || !IsRunning(id)) continue;
            tickets[id] = _harts[id].PostFence(kind, all, start, size, caller);
            posted |= 1UL << id;
        }
        if ((targets & (1UL << caller.HartId)) != 0) caller.ExecuteFence(kind, all, start, size);
        for (; posted != 0; posted &= posted - 1)
        {
            int id = BitOperations.TrailingZeroCount(posted);
            if (!caller.WaitForFence(_harts[id], tickets[id])) return; // the machine is stopping
        }
    }

    // ------------------------------------------------------------------ HSM (EID "HSM")

    private SbiRet Hsm(Hart hart, ulong fid, ulong a0, ulong a1, ulong a2)
    {
        switch (fid)
        {
            case 0: Statistics.Count(SbiCall.HsmHartStart); return HartStart(a0, a1, a2);
            case 1: Statistics.Count(SbiCall.HsmHartStop); return HartStop(hart);
            case 2:
                Statistics.Count(SbiCall.HsmHartGetStatus);
                return a0 < (ulong)_harts.Length ? SbiRet.Ok((ulong)StateOf((int)a0)) : SbiRet.Fail(SbiError.InvalidParam);
            case 3: Statistics.Count(SbiCall.HsmHartSuspend); return HartSuspend(hart, a0, a1, a2);
            default: return NotSupported();
        }
    }

    /// <summary>An address a hart can start executing at in S-mode: in RAM or ROM (PMP grants everything) and
    /// aligned for instructions (IALIGN = 16 with C).</summary>
    private bool IsExecutable(ulong address) => (address & 1) == 0 && _memory.Bus.FindMemory(address) != null;

    /// <summary>hart_start: STOPPED -> START_PENDING here; the target's own thread, woken, enters S-mode at
    /// <paramref name="startAddress"/> (a0 = hartid, a1 = <paramref name="opaque"/>, satp = 0, SIE = 0) and
    /// becomes STARTED. Asynchronous, as the spec allows.</summary>
    private SbiRet HartStart(ulong hartId, ulong startAddress, ulong opaque)
    {
        if (hartId >= (ulong)_harts.Length) return SbiRet.Fail(SbiError.InvalidParam);
        if (!IsExecutable(startAddress)) return SbiRet.Fail(SbiError.InvalidAddress);
        int id = (int)hartId;
        if (Interlocked.CompareExchange(ref _hsm[id], (int)HsmState.StartPending, (int)HsmState.Stopped) != (int)HsmState.Stopped)
            return SbiRet.Fail(SbiError.AlreadyAvailable);
        bool handed = _harts[id].TryUnpark(h =>
        {
            h.StartSupervisor(startAddress, opaque);
            Volatile.Write(ref _hsm[h.HartId], (int)HsmState.Started);
        });
        if (handed) return SbiRet.Ok();
        Volatile.Write(ref _hsm[id], (int)HsmState.Stopped);
        return SbiRet.Fail(SbiError.Failed);
    }

    /// <summary>hart_stop: the calling hart parks (its thread sleeps) and is STOPPED. The hart is parked before
    /// it is reported STOPPED, so a hart_start that sees STOPPED always finds it parked.</summary>
    private SbiRet HartStop(Hart hart)
    {
        int id = hart.HartId;
        Volatile.Write(ref _hsm[id], (int)HsmState.StopPending);
        hart.Park();
        Volatile.Write(ref _hsm[id], (int)HsmState.Stopped);
        return SbiRet.NoReturn;
    }

    /// <summary>
    /// hart_suspend, default types only (platform-specific and reserved types are invalid parameters). The
    /// hart sleeps as in WFI — woken by an interrupt pending and enabled in sie, carrying out fences meanwhile.
    /// Retentive: the call then returns SBI_SUCCESS. Non-retentive: the hart resumes at
    /// <paramref name="resumeAddress"/> as after hart_start.
    /// </summary>
    private SbiRet HartSuspend(Hart hart, ulong type, ulong resumeAddress, ulong opaque)
    {
        if (type is not (SbiSuspend.DefaultRetentive or SbiSuspend.DefaultNonRetentive)) return SbiRet.Fail(SbiError.InvalidParam);
        bool retentive = type == SbiSuspend.DefaultRetentive;
        if (!retentive && !IsExecutable(resumeAddress)) return SbiRet.Fail(SbiError.InvalidAddress);
        int id = hart.HartId;
        Volatile.Write(ref _hsm[id], (int)HsmState.Suspended);
        // A stop request (a pause, a power-off) also ends the sleep. For the caller that is a wake-up like any
        // other, so a hart is never left inside this call across a pause or a snapshot.
        hart.SleepUntilInterrupt();
        Volatile.Write(ref _hsm[id], (int)HsmState.Started);
        if (retentive) return SbiRet.Ok();
        hart.StartSupervisor(resumeAddress, opaque);
        return SbiRet.NoReturn;
    }
}
