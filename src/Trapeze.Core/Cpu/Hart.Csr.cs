using Trapeze.Core.Mmu;

namespace Trapeze.Core.Cpu;

/// <summary>CSR access (Priv. spec chapters 2, 3, 4; Zicntr). Returning false means the access raises
/// an illegal-instruction exception.</summary>
public sealed unsafe partial class Hart
{
    public const ulong MenvcfgFiom = 1, MenvcfgStce = 1UL << 63;
    private const ulong MedelegWritable = 0xb3ff; // all but ecall-from-M (11) and the reserved 10 and 14
    private const ulong CountinhibitCy = 1, CountinhibitIr = 4;

    /// <summary>Privilege and read-only checks from the CSR number itself (Priv. spec 2.1), plus the
    /// per-CSR gates (TVM, FS, counter enables, STCE).</summary>
    public bool CsrAccessible(ushort csr, bool write)
    {
        HartState* s = _state;
        if ((int)s->Priv < ((csr >> 8) & 3)) return false;
        if (write && (csr >> 10) == 3) return false;
        switch (csr)
        {
            case Csr.Satp:
                return !(s->Priv == Privilege.Supervisor && (s->Mstatus & Mstatus.Tvm) != 0);
            case Csr.Fflags or Csr.Frm or Csr.Fcsr:
                return (s->Mstatus & Mstatus.FsMask) != 0;
            case Csr.Stimecmp:
                // Sstc: below M, stimecmp needs both menvcfg.STCE and mcounteren.TM.
                return s->Priv == Privilege.Machine || ((s->Menvcfg & MenvcfgStce) != 0 && (s->Mcounteren & 2) != 0);
            case >= Csr.Cycle and <= Csr.HpmCounter31:
            {
                int bit = csr - Csr.Cycle;
                if (s->Priv < Privilege.Machine && ((s->Mcounteren >> bit) & 1) == 0) return false;
                if (s->Priv == Privilege.User && ((s->Scounteren >> bit) & 1) == 0) return false;
                return true;
            }
        }
        return true;
    }

    private ulong Minstret => (_state->Mcountinhibit & CountinhibitIr) != 0 ? _state->MinstretOffset : _state->Retired + _state->MinstretOffset;
    private ulong Mcycle => (_state->Mcountinhibit & CountinhibitCy) != 0 ? _state->McycleOffset : _state->Retired + _state->McycleOffset;

    private ulong MstatusValue()
    {
        ulong v = _state->Mstatus | Mstatus.Xlen64;
        return (v & Mstatus.FsMask) == Mstatus.FsDirty ? v | Mstatus.Sd : v & ~Mstatus.Sd;
    }

    /// <summary>Reads a CSR. <paramref name="forModify"/>: the value a CSRRS/CSRRC modifies, which for mip's
    /// SEIP is the software-writable bit alone (Priv. spec 3.1.9).</summary>
    public bool CsrRead(ushort csr, out ulong v, bool forModify = false)
    {
        HartState* s = _state;
        v = 0;
        switch (csr)
        {
            case Csr.Fflags: v = s->Fflags; return true;
            case Csr.Frm: v = s->Frm; return true;
            case Csr.Fcsr: v = (ulong)s->Frm << 5 | s->Fflags; return true;
            case Csr.Cycle: v = Mcycle; return true;
            case Csr.Time: v = Clock.Now; return true;
            case Csr.Instret: v = Minstret; return true;
            case > Csr.Instret and <= Csr.HpmCounter31: return true; // Zihpm counters read as zero

            case Csr.Sstatus: v = MstatusValue() & Mstatus.SstatusView; return true;
            case Csr.Sie: v = s->Mie & s->Mideleg; return true;
            case Csr.Sip: v = MipValue(forModify) & s->Mideleg; return true;
            case Csr.Stvec: v = s->Stvec; return true;
            case Csr.Scounteren: v = s->Scounteren; return true;
            case Csr.Senvcfg: v = s->Senvcfg; return true;
            case Csr.Sscratch: v = s->Sscratch; return true;
            case Csr.Sepc: v = s->Sepc; return true;
            case Csr.Scause: v = s->Scause; return true;
            case Csr.Stval: v = s->Stval; return true;
            case Csr.Stimecmp: v = s->Stimecmp; return true;
            case Csr.Satp: v = s->Satp; return true;

            case Csr.Mvendorid or Csr.Marchid or Csr.Mimpid or Csr.Mconfigptr: return true;
            case Csr.Mhartid: v = (ulong)HartId; return true;
            case Csr.Mstatus: v = MstatusValue(); return true;
            case Csr.Misa: v = MisaValue; return true;
            case Csr.Medeleg: v = s->Medeleg; return true;
            case Csr.Mideleg: v = s->Mideleg; return true;
            case Csr.Mie: v = s->Mie; return true;
            case Csr.Mip: v = MipValue(forModify); return true;
            case Csr.Mtvec: v = s->Mtvec; return true;
            case Csr.Mcounteren: v = s->Mcounteren; return true;
            case Csr.Menvcfg: v = s->Menvcfg; return true;
            case Csr.Mcountinhibit: v = s->Mcountinhibit; return true;
            case >= Csr.Mhpmevent3 and <= Csr.Mhpmevent31: return true;
            case Csr.Mscratch: v = s->Mscratch; return true;
            case Csr.Mepc: v = s->Mepc; return true;
            case Csr.Mcause: v = s->Mcause; return true;
            case Csr.Mtval: v = s->Mtval; return true;
            case Csr.Mcycle: v = Mcycle; return true;
            case Csr.Minstret: v = Minstret; return true;
            case >= Csr.Mhpmcounter3 and <= Csr.Mhpmcounter31: return true;
            case >= Csr.Pmpcfg0 and <= Csr.Pmpcfg15:
            {
                int n = csr - Csr.Pmpcfg0;
                if ((n & 1) != 0) return false; // RV64 has only the even pmpcfg registers
                if (n < 4)
                    for (int i = 0; i < 8; i++) v |= (ulong)s->PmpCfg[n * 4 + i] << (8 * i);
                return true;
            }
            case >= Csr.Pmpaddr0 and <= Csr.Pmpaddr63:
            {
                int n = csr - Csr.Pmpaddr0;
                if (n < Pmp.Entries) v = s->PmpAddr[n];
                return true;
            }
        }
        return false;
    }

    private ulong MipValue(bool forModify)
    {
        ulong v = Volatile.Read(ref _state->Mip);
        if (forModify) v = (v & ~Interrupt.Seip) | (_seipSoftware ? Interrupt.Seip : 0);
        return v;
    }

    public bool CsrWrite(ushort csr, ulong v)
    {
        HartState* s = _state;
        switch (csr)
        {
            case Csr.Fflags: s->Fflags = (byte)(v & 0x1f); SetFsDirty(); return true;
            case Csr.Frm: s->Frm = (byte)(v & 7); SetFsDirty(); return true;
            case Csr.Fcsr: s->Fflags = (byte)(v & 0x1f); s->Frm = (byte)((v >> 5) & 7); SetFsDirty(); return true;

            case Csr.Sstatus:
                WriteMstatus((s->Mstatus & ~Mstatus.WritableS) | (v & Mstatus.WritableS));
                return true;
            case Csr.Sie:
                s->Mie = (s->Mie & ~s->Mideleg) | (v & s->Mideleg & Interrupt.All);
                return true;
            case Csr.Sip:
                // Only SSIP is writable through sip (Priv. spec 4.1.3), and only when delegated.
                WriteMip(Interrupt.Ssip & s->Mideleg, v);
                return true;
            case Csr.Stvec: s->Stvec = LegalTvec(v, s->Stvec); return true;
            case Csr.Scounteren: s->Scounteren = v & 0xffffffff; return true;
            case Csr.Senvcfg: s->Senvcfg = v & MenvcfgFiom; return true;
            case Csr.Sscratch: s->Sscratch = v; return true;
            case Csr.Sepc: s->Sepc = v & ~1UL; return true;
            case Csr.Scause: s->Scause = v; return true;
            case Csr.Stval: s->Stval = v; return true;
            case Csr.Stimecmp:
                s->Stimecmp = v;
                UpdateTimers();
                return true;
            case Csr.Satp:
            {
                ulong mode = v >> 60;
                // WARL: a write with an unsupported mode has no effect at all (Priv. spec 4.1.11).
                if (mode is not (SoftMmu.SatpModeBare or SoftMmu.SatpModeSv39 or SoftMmu.SatpModeSv48 or SoftMmu.SatpModeSv57))
                    return true;
                s->Satp = v & ((0xfUL << 60) | (0xffffUL << 44) | ((1UL << 44) - 1));
                Mmu.UpdateContext();
                return true;
            }

            case Csr.Mstatus:
                WriteMstatus(v);
                return true;
            case Csr.Misa: return true; // read-only (WARL)
            case Csr.Medeleg: s->Medeleg = v & MedelegWritable; return true;
            case Csr.Mideleg: s->Mideleg = v & Interrupt.Delegable; return true;
            case Csr.Mie: s->Mie = v & Interrupt.All; return true;
            case Csr.Mip:
            {
                ulong mask = Interrupt.Ssip | Interrupt.Seip;
                if ((s->Menvcfg & MenvcfgStce) == 0) mask |= Interrupt.Stip; // with Sstc, STIP follows stimecmp
                _seipSoftware = (v & Interrupt.Seip) != 0;
                WriteMip(mask, (v & ~Interrupt.Seip) | (_seipSoftware || _seipLine ? Interrupt.Seip : 0));
                return true;
            }
            case Csr.Mtvec: s->Mtvec = LegalTvec(v, s->Mtvec); return true;
            case Csr.Mcounteren: s->Mcounteren = v & 0xffffffff; return true;
            case Csr.Menvcfg:
                s->Menvcfg = v & (MenvcfgFiom | MenvcfgStce);
                UpdateTimers();
                return true;
            case Csr.Mcountinhibit:
            {
                ulong cycle = Mcycle, instret = Minstret;
                s->Mcountinhibit = v & 0xfffffffd; // TM is read-only zero
                // An inhibited counter keeps its frozen value in the offset field.
                s->McycleOffset = (s->Mcountinhibit & CountinhibitCy) != 0 ? cycle : cycle - s->Retired;
                s->MinstretOffset = (s->Mcountinhibit & CountinhibitIr) != 0 ? instret : instret - s->Retired;
                return true;
            }
            case >= Csr.Mhpmevent3 and <= Csr.Mhpmevent31: return true;
            case Csr.Mscratch: s->Mscratch = v; return true;
            case Csr.Mepc: s->Mepc = v & ~1UL; return true;
            case Csr.Mcause: s->Mcause = v; return true;
            case Csr.Mtval: s->Mtval = v; return true;
            case Csr.Mcycle:
                s->McycleOffset = (s->Mcountinhibit & CountinhibitCy) != 0 ? v : v - s->Retired;
                return true;
            case Csr.Minstret:
                s->MinstretOffset = (s->Mcountinhibit & CountinhibitIr) != 0 ? v : v - s->Retired;
                return true;
            case >= Csr.Mhpmcounter3 and <= Csr.Mhpmcounter31: return true;
            case >= Csr.Pmpcfg0 and <= Csr.Pmpcfg15:
            {
                int n = csr - Csr.Pmpcfg0;
                if ((n & 1) != 0) return false;
                if (n < 4)
                    for (int i = 0; i < 8; i++) WritePmpCfg(n * 4 + i, (byte)(v >> (8 * i)));
                Mmu.FlushAll();
                return true;
            }
            case >= Csr.Pmpaddr0 and <= Csr.Pmpaddr63:
            {
                int n = csr - Csr.Pmpaddr0;
                if (n >= Pmp.Entries) return true;
                // Locked entries, and the address below a locked TOR entry, ignore writes (Priv. spec 3.7.1.1).
                if ((s->PmpCfg[n] & Pmp.L) != 0) return true;
                if (n + 1 < Pmp.Entries && (s->PmpCfg[n + 1] & Pmp.L) != 0
                    && ((s->PmpCfg[n + 1] & Pmp.AMask) >> 3) == Pmp.ATor) return true;
                s->PmpAddr[n] = v & Pmp.AddrMask;
                Mmu.FlushAll();
                return true;
            }
        }
        return false;
    }

    private void WritePmpCfg(int i, byte cfg)
    {
        HartState* s = _state;
        if ((s->PmpCfg[i] & Pmp.L) != 0) return;
        cfg &= 0x9f; // bits 6:5 are reserved
        if ((cfg & Pmp.R) == 0 && (cfg & Pmp.W) != 0) cfg &= unchecked((byte)~Pmp.W); // R=0,W=1 is reserved
        s->PmpCfg[i] = cfg;
    }

    private static ulong LegalTvec(ulong v, ulong old)
    {
        ulong mode = v & 3;
        if (mode >= 2) return old; // reserved modes: keep the legal value
        return v;
    }

    private void WriteMstatus(ulong v)
    {
        HartState* s = _state;
        ulong st = (s->Mstatus & ~Mstatus.WritableM) | (v & Mstatus.WritableM);
        // MPP is WARL over {U, S, M}: the reserved value 2 keeps the previous mode.
        if (((st >> Mstatus.MppShift) & 3) == 2) st = (st & ~Mstatus.MppMask) | (s->Mstatus & Mstatus.MppMask);
        st |= Mstatus.Xlen64;
        st = (st & Mstatus.FsMask) == Mstatus.FsDirty ? st | Mstatus.Sd : st & ~Mstatus.Sd;
        s->Mstatus = st;
        Mmu.UpdateContext();
    }

    /// <summary>Any write to an FP register or fcsr makes FS dirty (Priv. spec 3.1.6.6).</summary>
    public void SetFsDirty() => _state->Mstatus |= Mstatus.FsDirty | Mstatus.Sd;
}
