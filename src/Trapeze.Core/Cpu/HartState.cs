using System.Runtime.InteropServices;

namespace Trapeze.Core.Cpu;

/// <summary>
/// The architectural state of one hart as one plain struct with fixed offsets (STYLE rule 3): translated
/// code addresses it by offset, snapshots copy it, tests compare it whole. It lives in native memory
/// (see <see cref="Hart"/>) so its address never moves.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct HartState
{
    /// <summary>x0..x31, then a sink register that absorbs writes to x0 (see DecodedInsn.SinkRegister).</summary>
    public fixed ulong X[33];
    /// <summary>f0..f31 as raw 64-bit values (singles NaN-boxed).</summary>
    public fixed ulong F[32];
    public ulong Pc;
    /// <summary>Instructions retired since reset (the basis of minstret and mcycle).</summary>
    public ulong Retired;
    public Privilege Priv;
    public byte Fflags;     // accrued exceptions (FpFlags)
    public byte Frm;        // dynamic rounding mode
    public byte Wfi;        // 1 while stalled in WFI

    // Machine-level CSRs
    public ulong Mstatus;
    public ulong Medeleg, Mideleg;
    public ulong Mie;
    /// <summary>Pending interrupts. Written by devices on other threads: change only with Interlocked.</summary>
    public ulong Mip;
    public ulong Mtvec, Mscratch, Mepc, Mcause, Mtval;
    public ulong Mcounteren, Mcountinhibit, Menvcfg;
    public ulong McycleOffset, MinstretOffset;

    // Supervisor-level CSRs
    public ulong Stvec, Sscratch, Sepc, Scause, Stval, Scounteren, Senvcfg, Satp, Stimecmp;

    // PMP (Priv. spec 3.7): 16 entries
    public fixed byte PmpCfg[16];
    public fixed ulong PmpAddr[16];

    // LR/SC reservation (guest-physical address; value loaded by LR)
    public ulong ReservationAddress;
    public ulong ReservationValue;
    public byte ReservationValid;

    // The exception a memory helper reported and the interpreter is about to raise
    public ulong PendingTval;
    public byte PendingCause;

    // ---- Derived state, not architectural (not part of snapshots): what translated code reads to run
    // the TLB fast path without calling into the MMU object.

    /// <summary>Translation context of loads and stores (see SoftMmu.UpdateContext).</summary>
    public ulong DataCtx;
    /// <summary>Translation context of instruction fetches.</summary>
    public ulong FetchCtx;
    public Mmu.TlbEntry* ReadTlb;
    public Mmu.TlbEntry* WriteTlb;
    public Mmu.TlbEntry* FetchTlb;
    /// <summary>The value a translated code's out-of-line load returned.</summary>
    public ulong JitValue;
}
