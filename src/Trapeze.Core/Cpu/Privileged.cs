using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>Sensitive instructions: CSR access (Zicsr), ECALL/EBREAK, xRET, WFI, SFENCE.VMA, FENCE.I.
/// Each runs with the hart's pc at the instruction and the retired count up to date, and either retires
/// (advancing pc) or raises an exception.</summary>
public sealed unsafe partial class Hart
{
    private void Retire(in DecodedInsn d)
    {
        _state->Retired++;
        _state->Pc += d.Length;
    }

    private void Illegal(in DecodedInsn d) => RaiseException(ExceptionCause.IllegalInstruction, d.Raw);

    internal void ExecuteSystem(in DecodedInsn d)
    {
        HartState* s = _state;
        switch (d.Op)
        {
            case Op.Csrrw or Op.Csrrs or Op.Csrrc or Op.Csrrwi or Op.Csrrsi or Op.Csrrci:
                Stats.CsrAccesses++;
                if (Zicsr(d)) Retire(d); else Illegal(d);
                return;
            case Op.Ecall:
                Stats.Ecalls++;
                if (s->Priv == Privilege.Supervisor && SupervisorEcallHandler is { } handler)
                {
                    _ecallRedirected = false;
                    if (handler(this))
                    {
                        Stats.Hypercalls++;
                        // A handler that moved the hart (StartSupervisor, Park) has set pc already.
                        if (_ecallRedirected) s->Retired++;
                        else Retire(d);
                        return;
                    }
                }
                RaiseException(s->Priv switch
                {
                    Privilege.User => ExceptionCause.EcallFromU,
                    Privilege.Supervisor => ExceptionCause.EcallFromS,
                    _ => ExceptionCause.EcallFromM,
                }, 0);
                return;
            case Op.Ebreak:
                RaiseException(ExceptionCause.Breakpoint, s->Pc);
                return;
            case Op.Mret:
                if (s->Priv != Privilege.Machine) { Illegal(d); return; }
                Mret();
                return;
            case Op.Sret:
                // TSR traps SRET in S-mode (Priv. spec 3.1.6.5); U-mode may never execute it.
                if (s->Priv == Privilege.User || (s->Priv == Privilege.Supervisor && (s->Mstatus & Mstatus.Tsr) != 0))
                { Illegal(d); return; }
                Sret();
                return;
            case Op.Wfi:
                // WFI is illegal in U-mode, and in S-mode when TW is set (Priv. spec 3.1.6.5).
                if (s->Priv == Privilege.User || (s->Priv == Privilege.Supervisor && (s->Mstatus & Mstatus.Tw) != 0))
                { Illegal(d); return; }
                Retire(d);
                if ((Volatile.Read(ref s->Mip) & s->Mie) == 0) s->Wfi = 1;
                return;
            case Op.SfenceVma:
                if (s->Priv == Privilege.User || (s->Priv == Privilege.Supervisor && (s->Mstatus & Mstatus.Tvm) != 0))
                { Illegal(d); return; }
                Stats.SfenceVma++;
                if (d.Rs1 != 0) Mmu.FlushPage(s->X[d.Rs1]);
                else Mmu.FlushAll();
                Retire(d);
                return;
            case Op.FenceI:
                Stats.FenceI++;
                FenceI();
                Retire(d);
                return;
            default:
                Illegal(d);
                return;
        }
    }

    /// <summary>True for CSR instructions on fflags, frm or fcsr: plain state with no side effect beyond
    /// the FS gate, which translated code may run in place instead of leaving for the interpreter (GCC
    /// brackets comparisons with frflags/fsflags, thousands of times a second in FP code).</summary>
    public static bool IsFloatingPointCsr(in DecodedInsn d) =>
        d.Op is Op.Csrrw or Op.Csrrs or Op.Csrrc or Op.Csrrwi or Op.Csrrsi or Op.Csrrci
        && (ushort)d.Imm is Csr.Fflags or Csr.Frm or Csr.Fcsr;

    /// <summary>A CSR instruction run from translated code; false with an illegal-instruction exception
    /// pending when the access is not allowed.</summary>
    public static bool ExecuteCsr(Hart h, HartState* s, in DecodedInsn d)
    {
        if (h.Zicsr(d)) return true;
        s->PendingCause = (byte)ExceptionCause.IllegalInstruction;
        s->PendingTval = d.Raw;
        return false;
    }

    private bool Zicsr(in DecodedInsn d)
    {
        HartState* s = _state;
        ushort csr = (ushort)d.Imm;
        bool immediate = d.Op >= Op.Csrrwi;
        ulong src = immediate ? d.Rs1 : s->X[d.Rs1];
        bool swap = d.Op is Op.Csrrw or Op.Csrrwi;
        // CSRRS/CSRRC with x0 (or uimm 0) do not write, so they may read read-only CSRs (Unpriv. spec 9.1).
        bool write = swap || d.Rs1 != 0;
        if (!CsrAccessible(csr, write)) return false;
        if (!CsrRead(csr, out ulong old)) return false;
        if (write)
        {
            // CSRRS/CSRRC modify mip's software-writable SEIP, not the value ORed with the PLIC line.
            ulong basis = old;
            if (!swap && csr is Csr.Mip or Csr.Sip) CsrRead(csr, out basis, forModify: true);
            ulong value = d.Op switch
            {
                Op.Csrrw or Op.Csrrwi => src,
                Op.Csrrs or Op.Csrrsi => basis | src,
                _ => basis & ~src,
            };
            if (!CsrWrite(csr, value)) return false;
        }
        s->X[d.Rd] = old;
        return true;
    }

    /// <summary>
    /// FENCE.I (Unpriv. spec chapter 5): stores that happened before must be visible to this hart's fetches.
    /// Stores to code pages already made their blocks stale; the only ones that may not have are stores
    /// through another hart's write TLB entry made before the page held code — unless every hart has
    /// synchronised its write TLB since the last page was marked, or sleeps with it empty, the cache is emptied.
    /// </summary>
    private void FenceI()
    {
        Mmu.SyncWatches();
        int g = Volatile.Read(ref Bus.WatchGeneration);
        foreach (var mmu in Bus.Mmus)
        {
            if (g - mmu.SyncedGeneration > 0 && !mmu.Idle)
            {
                Blocks.Clear();
                Stats.BlockCacheFlushes++;
                return;
            }
        }
    }

    /// <summary>MRET (Priv. spec 3.3.2).</summary>
    private void Mret()
    {
        HartState* s = _state;
        ulong st = s->Mstatus;
        var to = (Privilege)((st >> Mstatus.MppShift) & 3);
        st = (st & ~Mstatus.Mie) | ((st & Mstatus.Mpie) != 0 ? Mstatus.Mie : 0);
        st |= Mstatus.Mpie;
        st &= ~Mstatus.MppMask; // MPP = U, the least-privileged mode
        if (to != Privilege.Machine) st &= ~Mstatus.Mprv;
        s->Mstatus = st;
        s->Priv = to;
        s->Pc = s->Mepc;
        s->Retired++;
        Mmu.UpdateContext();
    }

    /// <summary>SRET (Priv. spec 3.3.2, 4.1.1).</summary>
    private void Sret()
    {
        HartState* s = _state;
        ulong st = s->Mstatus;
        var to = (st & Mstatus.Spp) != 0 ? Privilege.Supervisor : Privilege.User;
        st = (st & ~Mstatus.Sie) | ((st & Mstatus.Spie) != 0 ? Mstatus.Sie : 0);
        st |= Mstatus.Spie;
        st &= ~Mstatus.Spp;
        st &= ~Mstatus.Mprv; // SRET never returns to M-mode
        s->Mstatus = st;
        s->Priv = to;
        s->Pc = s->Sepc;
        s->Retired++;
        Mmu.UpdateContext();
    }
}
