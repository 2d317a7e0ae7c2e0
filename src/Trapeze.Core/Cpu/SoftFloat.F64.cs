using System.Numerics;
using System.Runtime.CompilerServices;

namespace Trapeze.Core.Cpu;

// binary64 arithmetic (Unpriv. spec chapter "D"). Each operation tries the host first and proves the host result
// exact, or learns the exact sign of its error, with an error-free transformation; the rest goes to the integer path.
public static partial class SoftFloat
{
    // Exponent fields in [FastExpLo, 2046] (|x| >= 2^-959) keep every residual computed below far from the subnormal
    // range: a product or quotient residual is a multiple of ulp(x) * ulp(y) >= 2^-1064 and so never rounds to zero.
    private const int FastExpLo = 64;

    [MethodImpl(Hot)]
    public static ulong F64Add(ulong a, ulong b, RoundingMode rm, ref FpFlags flags)
    {
        double x = D(a), y = D(b);
        double s = x + y;
        ulong sb = B(s);
        if ((sb & F64ExpMask) != F64ExpMask) // s finite implies x and y finite
        {
            // Fast2Sum with the larger magnitude first: x + y == s + err exactly (it cannot overflow once s is finite).
            bool aLarger = (a & ~F64SignBit) >= (b & ~F64SignBit);
            double big = aLarger ? x : y, small = aLarger ? y : x;
            double err = small - (s - big);
            if (err == 0)
            {
                // An exact zero sum of operands that are not both +0 is -0 in RDN (IEEE 754 6.3); the host gave +0.
                if (rm == RoundingMode.Rdn && (sb << 1) == 0)
                    return (a | b) & F64SignBit;
                return sb;
            }
            // An inexact sum is at least 2^53 units of 2^-1074, so s is normal and stepping stays normal.
            flags |= FpFlags.Inexact;
            return rm == RoundingMode.Rne ? sb : StepDirected64(sb, err, rm, ref flags);
        }
        return F64AddSlow(a, b, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static ulong F64Sub(ulong a, ulong b, RoundingMode rm, ref FpFlags flags) =>
        F64Add(a, b ^ F64SignBit, rm, ref flags);

    [MethodImpl(Hot)]
    public static ulong F64Mul(ulong a, ulong b, RoundingMode rm, ref FpFlags flags)
    {
        double x = D(a), y = D(b);
        double p = x * y;
        ulong pb = B(p);
        if ((uint)(Exp64(pb) - FastExpLo) <= 2046 - FastExpLo) // p finite (so x, y finite) and |p| >= 2^-959
        {
            // x*y - p is exactly representable here (its bits span at most 53 places above 2^-1074).
            double err = Math.FusedMultiplyAdd(x, y, -p);
            if (err == 0)
                return pb;
            flags |= FpFlags.Inexact;
            return rm == RoundingMode.Rne ? pb : StepDirected64(pb, err, rm, ref flags);
        }
        return F64MulSlow(a, b, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static ulong F64Div(ulong a, ulong b, RoundingMode rm, ref FpFlags flags)
    {
        double x = D(a), y = D(b);
        double q = x / y;
        ulong qb = B(q);
        if ((uint)(Exp64(qb) - FastExpLo) <= 2046 - FastExpLo && (uint)(Exp64(a) - FastExpLo) <= 2046 - FastExpLo)
        {
            // x - q*y has the sign of (x/y - q) * y and does not underflow to zero for these exponents.
            double rem = Math.FusedMultiplyAdd(-q, y, x);
            if (rem == 0)
                return qb;
            flags |= FpFlags.Inexact;
            // A quotient of two binary64 values is never a midpoint (its odd part would need 54 bits), so Rmm == Rne.
            if (rm is RoundingMode.Rne or RoundingMode.Rmm)
                return qb;
            return StepDirected64(qb, (rem > 0) == (y > 0) ? 1.0 : -1.0, rm, ref flags);
        }
        return F64DivSlow(a, b, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static ulong F64Sqrt(ulong a, RoundingMode rm, ref FpFlags flags)
    {
        if ((long)a > 0 && (uint)(Exp64(a) - FastExpLo) <= 2046 - FastExpLo)
        {
            double x = D(a);
            double r = Math.Sqrt(x);
            double rem = Math.FusedMultiplyAdd(-r, r, x); // sign of sqrt(x) - r
            ulong rb = B(r);
            if (rem == 0)
                return rb;
            flags |= FpFlags.Inexact;
            // A square root is never a midpoint (the square of a 54-bit odd number has more than 53 bits).
            if (rm is RoundingMode.Rne or RoundingMode.Rmm)
                return rb;
            return StepDirected64(rb, rem, rm, ref flags);
        }
        return F64SqrtSlow(a, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static ulong F64MulAdd(ulong a, ulong b, ulong c, RoundingMode rm, ref FpFlags flags)
    {
        int ea = Exp64(a), eb = Exp64(b), ec = Exp64(c);
        // Boldo & Muller's ErrFma (IEEE TC 2011) gives the exact error of an FMA when nothing under- or overflows.
        // The bounds keep x*y's error (Fast2Mult) exact and every intermediate below 2^903, far from overflow; the
        // result must be at least 2^-900, so every quantity lies on the 2^-1074 grid well above the subnormal range.
        // Rmm would need the exact error to see ties; it takes the integer path.
        if ((uint)(ea - 1) < 2046 && (uint)(eb - 1) < 2046 && (uint)(ea + eb - 1146) <= 1800
            && ((uint)(ec - 123) <= 1800 || (c << 1) == 0) && rm != RoundingMode.Rmm)
        {
            double x = D(a), y = D(b), z = D(c);
            double r = Math.FusedMultiplyAdd(x, y, z);
            ulong rb = B(r);
            if ((uint)(Exp64(rb) - 123) <= 2046 - 123)
            {
                double u1 = x * y;
                double u2 = Math.FusedMultiplyAdd(x, y, -u1); // x*y == u1 + u2
                double a1 = TwoSum(z, u2, out double a2);
                double b1 = TwoSum(u1, a1, out double b2);
                double g = (b1 - r) + b2; // exact (ErrFma theorem)
                double err = g + a2; // x*y + z - r == g + a2; RN keeps its sign
                if (err == 0)
                    return rb;
                flags |= FpFlags.Inexact;
                return rm == RoundingMode.Rne ? rb : StepDirected64(rb, err, rm, ref flags);
            }
        }
        return F64MulAddSlow(a, b, c, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static ulong F64Min(ulong a, ulong b, ref FpFlags flags)
    {
        bool nanA = IsNaN64(a), nanB = IsNaN64(b);
        if (nanA || nanB)
        {
            // Unpriv. spec "Single-Precision Floating-Point Computational Instructions" (2.2+): a NaN operand yields the
            // other operand, two NaNs the canonical NaN; a signalling NaN raises NV either way.
            if (IsSNaN64(a) || IsSNaN64(b))
                flags |= FpFlags.Invalid;
            return nanA && nanB ? F64CanonicalNaN : nanA ? b : a;
        }
        bool signA = (long)a < 0;
        if (signA != ((long)b < 0))
            return signA ? a : b; // also orders -0 below +0
        return signA ^ (a < b) ? a : b;
    }

    [MethodImpl(Hot)]
    public static ulong F64Max(ulong a, ulong b, ref FpFlags flags)
    {
        bool nanA = IsNaN64(a), nanB = IsNaN64(b);
        if (nanA || nanB)
        {
            if (IsSNaN64(a) || IsSNaN64(b))
                flags |= FpFlags.Invalid;
            return nanA && nanB ? F64CanonicalNaN : nanA ? b : a;
        }
        bool signA = (long)a < 0;
        if (signA != ((long)b < 0))
            return signA ? b : a;
        return signA ^ (a > b) ? a : b;
    }

    /// <summary>feq: a quiet comparison, NV only for a signalling NaN.</summary>
    [MethodImpl(Hot)]
    public static bool F64Eq(ulong a, ulong b, ref FpFlags flags)
    {
        if (IsNaN64(a) || IsNaN64(b))
        {
            if (IsSNaN64(a) || IsSNaN64(b))
                flags |= FpFlags.Invalid;
            return false;
        }
        return a == b || ((a | b) << 1) == 0;
    }

    /// <summary>flt: a signalling comparison, NV for any NaN.</summary>
    [MethodImpl(Hot)]
    public static bool F64Lt(ulong a, ulong b, ref FpFlags flags)
    {
        if (IsNaN64(a) || IsNaN64(b))
        {
            flags |= FpFlags.Invalid;
            return false;
        }
        bool signA = (long)a < 0;
        if (signA != ((long)b < 0))
            return signA && ((a | b) << 1) != 0;
        return a != b && (signA ^ (a < b));
    }

    /// <summary>fle: a signalling comparison, NV for any NaN.</summary>
    [MethodImpl(Hot)]
    public static bool F64Le(ulong a, ulong b, ref FpFlags flags)
    {
        if (IsNaN64(a) || IsNaN64(b))
        {
            flags |= FpFlags.Invalid;
            return false;
        }
        bool signA = (long)a < 0;
        if (signA != ((long)b < 0))
            return signA || ((a | b) << 1) == 0;
        return a == b || (signA ^ (a < b));
    }

    /// <summary>fclass.d: one of the ten bits of the Unpriv. spec's "Format of result of FCLASS instruction".</summary>
    [MethodImpl(Hot)]
    public static ulong F64Class(ulong a)
    {
        bool sign = (long)a < 0;
        int exp = Exp64(a);
        ulong frac = a & F64FracMask;
        if (exp == 0x7FF)
            return frac == 0 ? (sign ? 1UL << 0 : 1UL << 7) : (frac & F64QuietBit) != 0 ? 1UL << 9 : 1UL << 8;
        if (exp == 0)
            return frac == 0 ? (sign ? 1UL << 3 : 1UL << 4) : (sign ? 1UL << 2 : 1UL << 5);
        return sign ? 1UL << 1 : 1UL << 6;
    }

    // ---- integer paths ----

    private static ulong F64AddSlow(ulong a, ulong b, RoundingMode rm, ref FpFlags flags)
    {
        int expA = Exp64(a), expB = Exp64(b);
        if (expA == 0x7FF || expB == 0x7FF)
        {
            if (IsNaN64(a) || IsNaN64(b))
            {
                if (IsSNaN64(a) || IsSNaN64(b))
                    flags |= FpFlags.Invalid;
                return F64CanonicalNaN;
            }
            if (expA == expB && ((a ^ b) & F64SignBit) != 0)
            {
                flags |= FpFlags.Invalid; // inf - inf
                return F64CanonicalNaN;
            }
            return expA == 0x7FF ? a : b;
        }
        if ((a << 1) == 0)
        {
            if ((b << 1) == 0)
                return ((a ^ b) & F64SignBit) == 0 ? a : rm == RoundingMode.Rdn ? F64SignBit : 0;
            return b;
        }
        if ((b << 1) == 0)
            return a;
        // Order by magnitude so that a magnitude subtraction never goes negative and the sign is a's.
        if ((a & ~F64SignBit) < (b & ~F64SignBit))
        {
            (a, b) = (b, a);
            (expA, expB) = (expB, expA);
        }
        ulong sigA = a & F64FracMask, sigB = b & F64FracMask;
        if (expA == 0) expA = 1; else sigA |= F64Implicit;
        if (expB == 0) expB = 1; else sigB |= F64Implicit;
        // 9 guard bits: an exponent gap of 0 or 1 loses nothing, so deep cancellation is exact; a larger gap
        // cancels at most one bit and the sticky bit stays far below the rounding position.
        sigA <<= 9;
        sigB = ShiftRightJam(sigB << 9, expA - expB);
        ulong sig = ((a ^ b) & F64SignBit) == 0 ? sigA + sigB : sigA - sigB;
        if (sig == 0)
            return rm == RoundingMode.Rdn ? F64SignBit : 0;
        int lz = BitOperations.LeadingZeroCount(sig) - 1;
        return RoundPack64((long)a < 0, expA + 1 - lz, sig << lz, rm, ref flags);
    }

    private static ulong F64MulSlow(ulong a, ulong b, RoundingMode rm, ref FpFlags flags)
    {
        bool sign = ((a ^ b) & F64SignBit) != 0;
        int expA = Exp64(a), expB = Exp64(b);
        if (expA == 0x7FF || expB == 0x7FF)
        {
            if (IsNaN64(a) || IsNaN64(b))
            {
                if (IsSNaN64(a) || IsSNaN64(b))
                    flags |= FpFlags.Invalid;
                return F64CanonicalNaN;
            }
            if ((a << 1) == 0 || (b << 1) == 0)
            {
                flags |= FpFlags.Invalid; // inf * 0
                return F64CanonicalNaN;
            }
            return (sign ? F64SignBit : 0) | F64Infinity;
        }
        if ((a << 1) == 0 || (b << 1) == 0)
            return sign ? F64SignBit : 0;
        ulong sigA = a & F64FracMask, sigB = b & F64FracMask;
        Normalize64(ref expA, ref sigA);
        Normalize64(ref expB, ref sigB);
        return MulCore64(sign, expA, sigA, expB, sigB, rm, ref flags);
    }

    /// <summary>Rounds the product of two normalized significands (leading one at bit 52).</summary>
    private static ulong MulCore64(bool sign, int expA, ulong sigA, int expB, ulong sigB, RoundingMode rm, ref FpFlags flags)
    {
        // (sigA << 10) * (sigB << 11) lies in [2^125, 2^127): its high word has the leading one at bit 61 or 62.
        ulong hi = Math.BigMul(sigA << 10, sigB << 11, out ulong lo);
        hi |= lo != 0 ? 1UL : 0;
        int exp = expA + expB - 1022;
        if (hi < (1UL << 62))
        {
            hi <<= 1;
            exp--;
        }
        return RoundPack64(sign, exp, hi, rm, ref flags);
    }

    private static ulong F64DivSlow(ulong a, ulong b, RoundingMode rm, ref FpFlags flags)
    {
        bool sign = ((a ^ b) & F64SignBit) != 0;
        ulong signBit = sign ? F64SignBit : 0;
        int expA = Exp64(a), expB = Exp64(b);
        if (IsNaN64(a) || IsNaN64(b))
        {
            if (IsSNaN64(a) || IsSNaN64(b))
                flags |= FpFlags.Invalid;
            return F64CanonicalNaN;
        }
        if (expA == 0x7FF)
        {
            if (expB == 0x7FF)
            {
                flags |= FpFlags.Invalid; // inf / inf
                return F64CanonicalNaN;
            }
            return signBit | F64Infinity;
        }
        if (expB == 0x7FF)
            return signBit;
        if ((b << 1) == 0)
        {
            if ((a << 1) == 0)
            {
                flags |= FpFlags.Invalid; // 0 / 0
                return F64CanonicalNaN;
            }
            flags |= FpFlags.DivByZero;
            return signBit | F64Infinity;
        }
        if ((a << 1) == 0)
            return signBit;
        ulong sigA = a & F64FracMask, sigB = b & F64FracMask;
        Normalize64(ref expA, ref sigA);
        Normalize64(ref expB, ref sigB);
        // The quotient of the scaled dividend lands in [2^62, 2^63); the remainder becomes the sticky bit.
        UInt128 num;
        int exp;
        if (sigA < sigB)
        {
            num = (UInt128)sigA << 63;
            exp = expA - expB + 1022;
        }
        else
        {
            num = (UInt128)sigA << 62;
            exp = expA - expB + 1023;
        }
        UInt128 q = num / sigB;
        bool exact = q * sigB == num;
        return RoundPack64(sign, exp, (ulong)q | (exact ? 0UL : 1UL), rm, ref flags);
    }

    private static ulong F64SqrtSlow(ulong a, RoundingMode rm, ref FpFlags flags)
    {
        int exp = Exp64(a);
        if (IsNaN64(a))
        {
            if (IsSNaN64(a))
                flags |= FpFlags.Invalid;
            return F64CanonicalNaN;
        }
        if ((a << 1) == 0)
            return a; // sqrt(-0) = -0
        if ((long)a < 0)
        {
            flags |= FpFlags.Invalid;
            return F64CanonicalNaN;
        }
        if (exp == 0x7FF)
            return a;
        ulong sig = a & F64FracMask;
        Normalize64(ref exp, ref sig);
        int e = exp - 1023;
        // sqrt(sig * 2^(e-52)) = sqrt(n) * 2^((e - 52 - shift) / 2) with an even exponent and n in [2^124, 2^126).
        UInt128 n = (UInt128)sig << (72 + (e & 1));
        ulong r = ISqrt(n);
        bool exact = (UInt128)r * r == n;
        return RoundPack64(false, 1023 + (e >> 1), r | (exact ? 0UL : 1UL), rm, ref flags);
    }

    /// <summary>floor(sqrt(n)) for n below 2^126.</summary>
    private static ulong ISqrt(UInt128 n)
    {
        ulong r = (ulong)Math.Sqrt((double)n); // within about 2^10 of the root
        Int128 diff = (Int128)n - (Int128)((UInt128)r * r);
        r = (ulong)((long)r + (long)Math.Round((double)diff / (2.0 * r))); // one Newton step: within a few units
        while ((UInt128)r * r > n)
            r--;
        while ((UInt128)(r + 1) * (r + 1) <= n)
            r++;
        return r;
    }

    private static ulong F64MulAddSlow(ulong a, ulong b, ulong c, RoundingMode rm, ref FpFlags flags)
    {
        bool signP = ((a ^ b) & F64SignBit) != 0;
        bool aInf = (a & ~F64SignBit) == F64Infinity, bInf = (b & ~F64SignBit) == F64Infinity;
        bool aZero = (a << 1) == 0, bZero = (b << 1) == 0;
        if (IsNaN64(a) || IsNaN64(b) || IsNaN64(c))
        {
            // Unpriv. spec, "Single-Precision Floating-Point Computational Instructions": the fused multiply-adds
            // set NV for inf * 0 even when the addend is a quiet NaN.
            if (IsSNaN64(a) || IsSNaN64(b) || IsSNaN64(c) || (aInf && bZero) || (aZero && bInf))
                flags |= FpFlags.Invalid;
            return F64CanonicalNaN;
        }
        bool cInf = (c & ~F64SignBit) == F64Infinity;
        if (aInf || bInf)
        {
            if (aZero || bZero || (cInf && ((long)c < 0) != signP))
            {
                flags |= FpFlags.Invalid;
                return F64CanonicalNaN;
            }
            return (signP ? F64SignBit : 0) | F64Infinity;
        }
        if (cInf)
            return c;
        bool cZero = (c << 1) == 0;
        if (aZero || bZero)
        {
            // An exact zero product: the sum is c, or a zero signed by the exact-zero-sum rule.
            if (!cZero)
                return c;
            return ((long)c < 0) == signP ? c : rm == RoundingMode.Rdn ? F64SignBit : 0;
        }
        int expA = Exp64(a), expB = Exp64(b), expC = Exp64(c);
        ulong sigA = a & F64FracMask, sigB = b & F64FracMask, sigC = c & F64FracMask;
        Normalize64(ref expA, ref sigA);
        Normalize64(ref expB, ref sigB);
        if (cZero)
            return MulCore64(signP, expA, sigA, expB, sigB, rm, ref flags); // x*y + 0 rounds like x*y (sign of x*y)
        Normalize64(ref expC, ref sigC);

        // Both terms as 128-bit integers with the leading one at bit 125: value = m * 2^(e - 1023 - 125).
        UInt128 p = (UInt128)sigA * sigB; // leading one at bit 104 or 105
        int expP;
        if ((p >> 105) != UInt128.Zero)
        {
            p <<= 20;
            expP = expA + expB - 1022;
        }
        else
        {
            p <<= 21;
            expP = expA + expB - 1023;
        }
        UInt128 m = (UInt128)sigC << 73;
        bool signC = (long)c < 0;

        UInt128 big, small;
        bool signBig;
        int exp;
        if (expP > expC || (expP == expC && p >= m))
        {
            big = p; small = ShiftRightJam(m, expP - expC); signBig = signP; exp = expP;
        }
        else
        {
            big = m; small = ShiftRightJam(p, expC - expP); signBig = signC; exp = expC;
        }
        // The product spans 106 bits starting at bit 20, c 53 bits starting at bit 73: a shift small enough to cause
        // deep cancellation (at most 20 resp. 73 places) loses nothing; a larger one cancels at most one bit.
        UInt128 sum = signP == signC ? big + small : big - small;
        if (sum == UInt128.Zero)
            return rm == RoundingMode.Rdn ? F64SignBit : 0;
        int msb = 127 - (int)UInt128.LeadingZeroCount(sum);
        sum <<= 126 - msb;
        ulong sig = (ulong)(sum >> 64) | ((ulong)sum != 0 ? 1UL : 0);
        return RoundPack64(signBig, exp + msb - 125, sig, rm, ref flags);
    }
}
