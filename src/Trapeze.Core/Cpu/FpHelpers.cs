using System.Runtime.CompilerServices;

namespace Trapeze.Core.Cpu;

/// <summary>Register-file and fcsr plumbing shared by the F and D extensions (NaN boxing, rounding-mode
/// resolution, flag accrual, the FS gate).</summary>
public static unsafe class FpHelpers
{
    public const uint F32Sign = 0x8000_0000;
    public const ulong F64Sign = 0x8000_0000_0000_0000;
    private const ulong BoxMask = 0xffff_ffff_0000_0000;

    /// <summary>An FP instruction with mstatus.FS = Off is illegal (Priv. spec 3.1.6.6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Enabled(HartState* s) => (s->Mstatus & Mstatus.FsMask) != 0;

    /// <summary>Resolves the instruction's rm field; DYN (7) takes frm. Reserved values (5, 6, or frm
    /// holding one of 5..7 under DYN) make the instruction illegal (Unpriv. spec 11.2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Rounding(HartState* s, byte rm, out RoundingMode mode)
    {
        int r = rm == 7 ? s->Frm : rm;
        mode = (RoundingMode)r;
        return r <= 4;
    }

    /// <summary>Reads a single from a 64-bit register: anything not NaN-boxed reads as the canonical NaN
    /// (Unpriv. spec 12.2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadS(HartState* s, int r)
    {
        ulong v = s->F[r];
        return (v & BoxMask) == BoxMask ? (uint)v : SoftFloat.F32CanonicalNaN;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteS(HartState* s, int r, uint v)
    {
        s->F[r] = BoxMask | v;
        s->Mstatus |= Mstatus.FsDirty | Mstatus.Sd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteD(HartState* s, int r, ulong v)
    {
        s->F[r] = v;
        s->Mstatus |= Mstatus.FsDirty | Mstatus.Sd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accrue(HartState* s, FpFlags flags)
    {
        if (flags == 0) return;
        s->Fflags |= (byte)flags;
        s->Mstatus |= Mstatus.FsDirty | Mstatus.Sd;
    }

    public static bool Illegal(HartState* s, uint raw)
    {
        s->PendingCause = (byte)ExceptionCause.IllegalInstruction;
        s->PendingTval = raw;
        return false;
    }
}
