using System.Numerics;
using System.Runtime.CompilerServices;

namespace Trapeze.Core.Cpu;

/// <summary>The <c>frm</c> / instruction <c>rm</c> encodings (Unpriv. spec, "Floating-Point Control and Status
/// Register"). The caller resolves DYN (7) to <c>frm</c> and rejects the reserved encodings 5 and 6.</summary>
public enum RoundingMode : byte
{
    Rne = 0,
    Rtz = 1,
    Rdn = 2,
    Rup = 3,
    Rmm = 4,
}

/// <summary>The accrued exception flags, laid out as in <c>fflags</c> (NV DZ OF UF NX from bit 4 down).</summary>
[Flags]
public enum FpFlags : byte
{
    None = 0,
    Inexact = 1,
    Underflow = 2,
    Overflow = 4,
    DivByZero = 8,
    Invalid = 16,
}

/// <summary>
/// Exact IEEE 754 binary32/binary64 arithmetic with RISC-V semantics (Unpriv. spec chapters "F" and "D"): every
/// rounding mode, the five accrued flags (only ever ORed into <c>flags</c>), the canonical NaN for every NaN result,
/// tininess detected after rounding, saturating <c>fcvt</c> to integers and the 2019 <c>fmin</c>/<c>fmax</c>.
/// <para>Values are raw bit patterns. binary64 operations first try the host's double arithmetic (which is IEEE
/// round-to-nearest-even) and use an error-free transformation to learn the exact sign of the rounding error; that
/// decides the inexact flag and, for the directed modes, the neighbour to pick. Whatever falls outside the ranges in
/// which this is proven exact takes the integer path (unpack, exact UInt64/UInt128 arithmetic with a sticky bit, a
/// single rounding in <see cref="RoundPack64"/>). binary32 operations are computed in double, where they are exact or
/// carry an exact error sign, and then rounded once to binary32.</para>
/// </summary>
public static partial class SoftFloat
{
    public const uint F32CanonicalNaN = 0x7fc00000;
    public const ulong F64CanonicalNaN = 0x7ff8000000000000;

    // The operations are compiled optimized at their first call: translated code and the interpreter call
    // them millions of times a second, and their tier-0 code (which inlines none of the bit helpers below)
    // ran for the first 100 ms or more of every run (the runtime's call-counting delay), several times
    // slower.
    private const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;

    private const ulong F64SignBit = 0x8000_0000_0000_0000;
    private const ulong F64ExpMask = 0x7FF0_0000_0000_0000;
    private const ulong F64FracMask = 0x000F_FFFF_FFFF_FFFF;
    private const ulong F64Implicit = 1UL << 52;
    private const ulong F64QuietBit = 1UL << 51;
    private const ulong F64Infinity = F64ExpMask;
    private const ulong F64MaxFinite = 0x7FEF_FFFF_FFFF_FFFF;

    private const uint F32SignBit = 0x8000_0000;
    private const uint F32ExpMask = 0x7F80_0000;
    private const uint F32FracMask = 0x007F_FFFF;
    private const uint F32Implicit = 1u << 23;
    private const uint F32QuietBit = 1u << 22;
    private const uint F32Infinity = F32ExpMask;
    private const uint F32MaxFinite = 0x7F7F_FFFF;

    // ---- classification on raw bits ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsNaN64(ulong a) => (a & ~F64SignBit) > F64ExpMask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSNaN64(ulong a) => IsNaN64(a) && (a & F64QuietBit) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsNaN32(uint a) => (a & ~F32SignBit) > F32ExpMask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSNaN32(uint a) => IsNaN32(a) && (a & F32QuietBit) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Exp64(ulong a) => (int)(a >> 52) & 0x7FF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Exp32(uint a) => (int)(a >> 23) & 0xFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double D(ulong bits) => BitConverter.UInt64BitsToDouble(bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong B(double value) => BitConverter.DoubleToUInt64Bits(value);

    // ---- shared integer machinery ----

    /// <summary>Shifts right by <paramref name="n"/> (any n >= 0), ORing every bit shifted out into bit 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ShiftRightJam(ulong x, int n)
    {
        if (n == 0)
            return x;
        if (n < 64)
            return (x >> n) | ((x << (64 - n)) != 0 ? 1UL : 0);
        return x != 0 ? 1UL : 0;
    }

    private static UInt128 ShiftRightJam(UInt128 x, int n)
    {
        if (n == 0)
            return x;
        if (n < 128)
            return (x >> n) | ((x << (128 - n)) != UInt128.Zero ? UInt128.One : UInt128.Zero);
        return x != UInt128.Zero ? UInt128.One : UInt128.Zero;
    }

    /// <summary>Brings a finite nonzero significand to the form 1.f: for a subnormal the leading one is moved to the
    /// implicit-bit position and the exponent becomes 1 - shift (possibly negative).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalize64(ref int exp, ref ulong sig)
    {
        if (exp == 0)
        {
            int shift = BitOperations.LeadingZeroCount(sig) - 11;
            sig <<= shift;
            exp = 1 - shift;
        }
        else
        {
            sig |= F64Implicit;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalize32(ref int exp, ref uint sig)
    {
        if (exp == 0)
        {
            int shift = BitOperations.LeadingZeroCount(sig) - 8;
            sig <<= shift;
            exp = 1 - shift;
        }
        else
        {
            sig |= F32Implicit;
        }
    }

    /// <summary>The amount added below the kept bits before truncating: half an ulp for the nearest modes, an ulp
    /// minus one unit for rounding away from zero, nothing for rounding toward zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RoundIncrement(bool sign, RoundingMode rm, ulong mask) => rm switch
    {
        RoundingMode.Rtz => 0,
        RoundingMode.Rdn => sign ? mask : 0,
        RoundingMode.Rup => sign ? 0 : mask,
        _ => (mask >> 1) + 1, // Rne, Rmm (differ only in the tie fix-up below)
    };

    /// <summary>
    /// Rounds (-1)^sign * sig * 2^(exp - 1023 - 62) to binary64. <paramref name="sig"/> must have bit 62 as its
    /// leading one (bit 63 clear); bit 0 may be a sticky bit standing for any nonzero bits further down. The 10 bits
    /// below the 53 kept ones are the rounding bits.
    /// </summary>
    private static ulong RoundPack64(bool sign, int exp, ulong sig, RoundingMode rm, ref FpFlags flags)
    {
        const ulong Mask = 0x3FF, Half = 0x200;
        ulong inc = RoundIncrement(sign, rm, Mask);
        ulong signBit = sign ? F64SignBit : 0;
        if ((uint)(exp - 1) >= 2045)
        {
            if (exp <= 0)
            {
                // Unpriv. spec, F chapter, "Subnormal Arithmetic": tininess is detected after rounding,
                // i.e. the value is tiny if rounding it to 53 bits with an unbounded exponent stays below 2^-1022.
                // With exp == 0 the value lies in [2^-1023, 2^-1022) and leaves that range only if rounding carries.
                bool tiny = exp < 0 || sig + inc < (1UL << 63);
                sig = ShiftRightJam(sig, 1 - exp);
                ulong bits = sig & Mask;
                if (bits != 0)
                    flags |= tiny ? FpFlags.Inexact | FpFlags.Underflow : FpFlags.Inexact;
                sig = (sig + inc) >> 10;
                if (bits == Half && rm == RoundingMode.Rne)
                    sig &= ~1UL;
                // A carry into bit 52 makes the smallest normal number, which the addition encodes correctly.
                return signBit | sig;
            }
            if (exp > 2046 || sig + inc >= (1UL << 63))
            {
                flags |= FpFlags.Overflow | FpFlags.Inexact;
                return signBit | (inc == 0 ? F64MaxFinite : F64Infinity);
            }
        }
        ulong roundBits = sig & Mask;
        if (roundBits != 0)
            flags |= FpFlags.Inexact;
        sig = (sig + inc) >> 10;
        if (roundBits == Half && rm == RoundingMode.Rne)
            sig &= ~1UL;
        // sig includes the implicit bit (or is 2^53 after a carry), so adding it to (exp - 1) << 52 yields the field.
        return signBit + ((ulong)(exp - 1) << 52) + sig;
    }

    /// <summary>Rounds (-1)^sign * sig * 2^(exp - 127 - 62) to binary32; as <see cref="RoundPack64"/> with 39 rounding
    /// bits below the 24 kept ones.</summary>
    private static uint RoundPack32(bool sign, int exp, ulong sig, RoundingMode rm, ref FpFlags flags)
    {
        const ulong Mask = (1UL << 39) - 1, Half = 1UL << 38;
        ulong inc = RoundIncrement(sign, rm, Mask);
        uint signBit = sign ? F32SignBit : 0;
        if ((uint)(exp - 1) >= 253)
        {
            if (exp <= 0)
            {
                bool tiny = exp < 0 || sig + inc < (1UL << 63); // tininess after rounding, as in RoundPack64
                sig = ShiftRightJam(sig, 1 - exp);
                ulong bits = sig & Mask;
                if (bits != 0)
                    flags |= tiny ? FpFlags.Inexact | FpFlags.Underflow : FpFlags.Inexact;
                sig = (sig + inc) >> 39;
                if (bits == Half && rm == RoundingMode.Rne)
                    sig &= ~1UL;
                return signBit | (uint)sig;
            }
            if (exp > 254 || sig + inc >= (1UL << 63))
            {
                flags |= FpFlags.Overflow | FpFlags.Inexact;
                return signBit | (inc == 0 ? F32MaxFinite : F32Infinity);
            }
        }
        ulong roundBits = sig & Mask;
        if (roundBits != 0)
            flags |= FpFlags.Inexact;
        sig = (sig + inc) >> 39;
        if (roundBits == Half && rm == RoundingMode.Rne)
            sig &= ~1UL;
        return signBit + ((uint)(exp - 1) << 23) + (uint)sig;
    }

    /// <summary>
    /// Directed rounding from a round-to-nearest host result. <paramref name="r"/> is RN(t) for the exact result t,
    /// finite, nonzero and at least 2^-1021 in magnitude; <paramref name="err"/> has the sign of t - r (nonzero). No
    /// binary64 value lies strictly between t and r, so the answer is r or its neighbour on err's side. For Rmm,
    /// <paramref name="err"/> must be exactly t - r (true for the add and multiply residuals) so that ties are seen.
    /// </summary>
    private static ulong StepDirected64(ulong r, double err, RoundingMode rm, ref FpFlags flags)
    {
        // In sign-magnitude encoding r + 1 moves away from zero and r - 1 toward it.
        bool away = (err > 0) == ((long)r >= 0);
        ulong result = rm switch
        {
            RoundingMode.Rtz => away ? r : r - 1,
            RoundingMode.Rdn => err < 0 ? (away ? r + 1 : r - 1) : r,
            RoundingMode.Rup => err > 0 ? (away ? r + 1 : r - 1) : r,
            RoundingMode.Rmm => away && Math.Abs(D(r + 1) - D(r)) == 2 * Math.Abs(err) ? r + 1 : r,
            _ => r,
        };
        if ((result & ~F64SignBit) == F64Infinity)
            flags |= FpFlags.Overflow; // stepped from the largest finite value: overflow (Inexact is already set)
        return result;
    }

    /// <summary>
    /// Rounds t = v + e to binary32, where v is a finite double and e an error of unknown size but with the sign of
    /// <paramref name="err"/> (zero when v is exact) and small enough that no double lies strictly between v and t,
    /// which holds whenever v = RN(t). Every binary32 value and every midpoint between two of them is a double, so
    /// the result, inexactness and tininess of t are those of v nudged by one sticky unit toward t.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint RoundToF32(double v, double err, RoundingMode rm, ref FpFlags flags)
    {
        ulong bits = B(v);
        if (rm == RoundingMode.Rne
            && (uint)(Exp64(bits) - 897) <= 253 // |v| in [2^-126, 2^128): the result is normal, or overflows
            && (err == 0 || (bits & 0x1FFF_FFFF) != 0x1000_0000)) // v is no midpoint, or ties-to-even is right
        {
            float f = (float)v; // the host conversion rounds to nearest-even
            uint fb = BitConverter.SingleToUInt32Bits(f);
            if ((fb & F32ExpMask) != F32ExpMask)
            {
                if (err != 0 || (double)f != v)
                    flags |= FpFlags.Inexact;
                return fb;
            }
        }
        return RoundToF32Slow(bits, err, rm, ref flags);
    }

    private static uint RoundToF32Slow(ulong bits, double err, RoundingMode rm, ref FpFlags flags)
    {
        bool sign = (long)bits < 0;
        int exp = Exp64(bits);
        ulong sig = bits & F64FracMask;
        if (exp == 0 && sig == 0)
            return sign ? F32SignBit : 0;
        Normalize64(ref exp, ref sig);
        sig <<= 10;
        if (err != 0)
        {
            if ((err > 0) != sign)
            {
                sig |= 1; // t is slightly farther from zero than v
            }
            else
            {
                sig -= 1; // t is slightly closer to zero: the odd value below sig stands for it
                if (sig < (1UL << 62))
                {
                    sig = (sig << 1) | 1;
                    exp--;
                }
            }
        }
        return RoundPack32(sign, exp - 896, sig, rm, ref flags);
    }

    /// <summary>Knuth's TwoSum: s + t == p + q exactly, s = RN(p + q), for any finite p, q without overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double TwoSum(double p, double q, out double t)
    {
        double s = p + q;
        double qq = s - p;
        double pp = s - qq;
        t = (p - pp) + (q - qq);
        return s;
    }
}
