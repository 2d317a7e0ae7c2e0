using System.Runtime.CompilerServices;
using System.Numerics;

namespace Trapeze.Core.Cpu;

// Conversions (Unpriv. spec "Single-Precision Floating-Point Conversion and Move Instructions" and the D counterpart).
public static partial class SoftFloat
{
    private enum IntKind : byte { I32, U32, I64, U64 }

    /// <summary>fcvt.d.s: exact; a NaN becomes the canonical NaN (NV if it was signalling).</summary>
    [MethodImpl(Hot)]
    public static ulong F32ToF64(uint a, ref FpFlags flags)
    {
        if (IsNaN32(a))
        {
            if (IsSNaN32(a))
                flags |= FpFlags.Invalid;
            return F64CanonicalNaN;
        }
        return B(W(a));
    }

    /// <summary>fcvt.s.d.</summary>
    [MethodImpl(Hot)]
    public static uint F64ToF32(ulong a, RoundingMode rm, ref FpFlags flags)
    {
        if ((a & F64ExpMask) == F64ExpMask)
        {
            if (IsNaN64(a))
            {
                if (IsSNaN64(a))
                    flags |= FpFlags.Invalid;
                return F32CanonicalNaN;
            }
            return ((uint)(a >> 32) & F32SignBit) | F32Infinity;
        }
        return RoundToF32(D(a), 0, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static int F32ToI32(uint a, RoundingMode rm, ref FpFlags flags) => (int)F32ToInt(a, rm, IntKind.I32, ref flags);
    [MethodImpl(Hot)]
    public static uint F32ToU32(uint a, RoundingMode rm, ref FpFlags flags) => (uint)F32ToInt(a, rm, IntKind.U32, ref flags);
    [MethodImpl(Hot)]
    public static long F32ToI64(uint a, RoundingMode rm, ref FpFlags flags) => (long)F32ToInt(a, rm, IntKind.I64, ref flags);
    [MethodImpl(Hot)]
    public static ulong F32ToU64(uint a, RoundingMode rm, ref FpFlags flags) => F32ToInt(a, rm, IntKind.U64, ref flags);
    [MethodImpl(Hot)]
    public static int F64ToI32(ulong a, RoundingMode rm, ref FpFlags flags) => (int)F64ToInt(a, rm, IntKind.I32, ref flags);
    [MethodImpl(Hot)]
    public static uint F64ToU32(ulong a, RoundingMode rm, ref FpFlags flags) => (uint)F64ToInt(a, rm, IntKind.U32, ref flags);
    [MethodImpl(Hot)]
    public static long F64ToI64(ulong a, RoundingMode rm, ref FpFlags flags) => (long)F64ToInt(a, rm, IntKind.I64, ref flags);
    [MethodImpl(Hot)]
    public static ulong F64ToU64(ulong a, RoundingMode rm, ref FpFlags flags) => F64ToInt(a, rm, IntKind.U64, ref flags);

    [MethodImpl(Hot)]
    public static uint I32ToF32(int v, RoundingMode rm, ref FpFlags flags) =>
        IntToF32(v < 0, v < 0 ? 0 - (ulong)(long)v : (ulong)v, rm, ref flags);
    [MethodImpl(Hot)]
    public static uint U32ToF32(uint v, RoundingMode rm, ref FpFlags flags) => IntToF32(false, v, rm, ref flags);
    [MethodImpl(Hot)]
    public static uint I64ToF32(long v, RoundingMode rm, ref FpFlags flags) =>
        IntToF32(v < 0, v < 0 ? 0 - (ulong)v : (ulong)v, rm, ref flags);
    [MethodImpl(Hot)]
    public static uint U64ToF32(ulong v, RoundingMode rm, ref FpFlags flags) => IntToF32(false, v, rm, ref flags);

    // Every 32-bit integer is exact in binary64, and the host conversion of it is exact.
    [MethodImpl(Hot)]
    public static ulong I32ToF64(int v, RoundingMode rm, ref FpFlags flags) => B(v);
    [MethodImpl(Hot)]
    public static ulong U32ToF64(uint v, RoundingMode rm, ref FpFlags flags) => B(v);
    [MethodImpl(Hot)]
    public static ulong I64ToF64(long v, RoundingMode rm, ref FpFlags flags) =>
        IntToF64(v < 0, v < 0 ? 0 - (ulong)v : (ulong)v, rm, ref flags);
    [MethodImpl(Hot)]
    public static ulong U64ToF64(ulong v, RoundingMode rm, ref FpFlags flags) => IntToF64(false, v, rm, ref flags);

    private static ulong F32ToInt(uint a, RoundingMode rm, IntKind kind, ref FpFlags flags)
    {
        bool sign = (int)a < 0;
        int exp = Exp32(a);
        ulong sig = a & F32FracMask;
        if (exp == 0xFF)
            return InvalidConversion(sign && sig == 0, kind, ref flags); // NaN saturates to the maximum
        if (exp == 0)
        {
            if (sig == 0)
                return 0;
            exp = 1;
        }
        else
        {
            sig |= F32Implicit;
        }
        return ToInt(sign, sig, exp - 150, rm, kind, ref flags);
    }

    private static ulong F64ToInt(ulong a, RoundingMode rm, IntKind kind, ref FpFlags flags)
    {
        bool sign = (long)a < 0;
        int exp = Exp64(a);
        ulong sig = a & F64FracMask;
        if (exp == 0x7FF)
            return InvalidConversion(sign && sig == 0, kind, ref flags);
        if (exp == 0)
        {
            if (sig == 0)
                return 0;
            exp = 1;
        }
        else
        {
            sig |= F64Implicit;
        }
        return ToInt(sign, sig, exp - 1075, rm, kind, ref flags);
    }

    /// <summary>Unpriv. spec, table "Domains of float-to-integer conversions and behavior for invalid inputs": NaN and
    /// values too large saturate to the maximum, values too small to the minimum; NV is raised and NX is not ("All
    /// floating-point conversion instructions set the Inexact exception flag if the rounded result differs from the
    /// operand value and the Invalid exception flag is not set").</summary>
    private static ulong InvalidConversion(bool negative, IntKind kind, ref FpFlags flags)
    {
        flags |= FpFlags.Invalid;
        return kind switch
        {
            IntKind.I32 => negative ? unchecked((ulong)int.MinValue) : int.MaxValue,
            IntKind.U32 => negative ? 0 : uint.MaxValue,
            IntKind.I64 => negative ? unchecked((ulong)long.MinValue) : long.MaxValue,
            _ => negative ? 0 : ulong.MaxValue,
        };
    }

    /// <summary>Converts (-1)^sign * sig * 2^k (sig nonzero, below 2^53) to an integer of the given kind.</summary>
    private static ulong ToInt(bool sign, ulong sig, int k, RoundingMode rm, IntKind kind, ref FpFlags flags)
    {
        ulong magnitude;
        bool inexact = false;
        if (k >= 0)
        {
            if (k > BitOperations.LeadingZeroCount(sig))
                return InvalidConversion(sign, kind, ref flags); // at least 2^64 in magnitude
            magnitude = sig << k;
        }
        else
        {
            int s = -k;
            if (s > 62)
            {
                sig = 1; // below 2^53 * 2^-63, far below one half: only "nonzero" matters
                s = 2;
            }
            ulong intPart = sig >> s, frac = sig & ((1UL << s) - 1), half = 1UL << (s - 1);
            inexact = frac != 0;
            bool up = rm switch
            {
                RoundingMode.Rne => frac > half || (frac == half && (intPart & 1) != 0),
                RoundingMode.Rmm => frac >= half,
                RoundingMode.Rdn => sign && inexact,
                RoundingMode.Rup => !sign && inexact,
                _ => false,
            };
            magnitude = intPart + (up ? 1UL : 0);
        }
        ulong limit = kind switch
        {
            IntKind.I32 => sign ? 1UL << 31 : int.MaxValue,
            IntKind.U32 => sign ? 0 : uint.MaxValue,
            IntKind.I64 => sign ? 1UL << 63 : long.MaxValue,
            _ => sign ? 0 : ulong.MaxValue,
        };
        // A negative value that rounds to 0 is valid for the unsigned kinds (e.g. -0.3 RTZ -> 0 with NX only).
        if (magnitude > limit)
            return InvalidConversion(sign, kind, ref flags);
        if (inexact)
            flags |= FpFlags.Inexact;
        return sign ? 0 - magnitude : magnitude;
    }

    private static ulong IntToF64(bool sign, ulong magnitude, RoundingMode rm, ref FpFlags flags)
    {
        if (magnitude == 0)
            return 0;
        int lz = BitOperations.LeadingZeroCount(magnitude);
        ulong sig = lz == 0 ? (magnitude >> 1) | (magnitude & 1) : magnitude << (lz - 1);
        return RoundPack64(sign, 1086 - lz, sig, rm, ref flags);
    }

    private static uint IntToF32(bool sign, ulong magnitude, RoundingMode rm, ref FpFlags flags)
    {
        if (magnitude == 0)
            return 0;
        int lz = BitOperations.LeadingZeroCount(magnitude);
        ulong sig = lz == 0 ? (magnitude >> 1) | (magnitude & 1) : magnitude << (lz - 1);
        return RoundPack32(sign, 190 - lz, sig, rm, ref flags);
    }
}
