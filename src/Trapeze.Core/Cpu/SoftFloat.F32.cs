using System.Runtime.CompilerServices;

namespace Trapeze.Core.Cpu;

// binary32 arithmetic (Unpriv. spec chapter "F"). Finite operands are widened to double (exact), the operation is done
// in double where it is exact or where an error-free transformation yields the exact sign of its error, and the result
// is rounded once to binary32 by RoundToF32. This avoids double rounding: RoundToF32 rounds the exact value, not the
// double approximation (see its comment).
public static partial class SoftFloat
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static double W(uint a) => BitConverter.UInt32BitsToSingle(a);

    [MethodImpl(Hot)]
    public static uint F32Add(uint a, uint b, RoundingMode rm, ref FpFlags flags)
    {
        if ((a & F32ExpMask) == F32ExpMask || (b & F32ExpMask) == F32ExpMask)
            return F32AddSpecial(a, b, ref flags);
        double x = W(a), y = W(b);
        double s = x + y;
        // Fast2Sum with the larger magnitude first: x + y == s + err exactly.
        bool aLarger = (a & ~F32SignBit) >= (b & ~F32SignBit);
        double err = (aLarger ? y : x) - (s - (aLarger ? x : y));
        if (s == 0 && rm == RoundingMode.Rdn)
            return (a | b) & F32SignBit; // exact zero sum: -0 in RDN unless both operands are +0 (IEEE 754 6.3)
        return RoundToF32(s, err, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static uint F32Sub(uint a, uint b, RoundingMode rm, ref FpFlags flags) =>
        F32Add(a, b ^ F32SignBit, rm, ref flags);

    [MethodImpl(Hot)]
    public static uint F32Mul(uint a, uint b, RoundingMode rm, ref FpFlags flags)
    {
        if ((a & F32ExpMask) == F32ExpMask || (b & F32ExpMask) == F32ExpMask)
            return F32MulSpecial(a, b, ref flags);
        // A product of two 24-bit significands has at most 48 bits and binary32 exponents stay far inside double's
        // range, so the double product is exact (including its zero sign).
        return RoundToF32(W(a) * W(b), 0, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static uint F32Div(uint a, uint b, RoundingMode rm, ref FpFlags flags)
    {
        if ((a & F32ExpMask) == F32ExpMask || (b & F32ExpMask) == F32ExpMask || (b << 1) == 0)
            return F32DivSpecial(a, b, ref flags);
        double x = W(a), y = W(b);
        double q = x / y;
        // x - q*y cannot underflow for binary32 inputs, so its sign (times y's) is the sign of x/y - q.
        double rem = Math.FusedMultiplyAdd(-q, y, x);
        double err = rem == 0 ? 0 : (rem > 0) == (y > 0) ? 1 : -1;
        return RoundToF32(q, err, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static uint F32Sqrt(uint a, RoundingMode rm, ref FpFlags flags)
    {
        if ((a & F32ExpMask) == F32ExpMask || (int)a < 0)
        {
            if (IsNaN32(a))
            {
                if (IsSNaN32(a))
                    flags |= FpFlags.Invalid;
                return F32CanonicalNaN;
            }
            if (a == F32SignBit || a == F32Infinity)
                return a; // sqrt(-0) = -0, sqrt(+inf) = +inf
            flags |= FpFlags.Invalid; // negative nonzero, including -inf
            return F32CanonicalNaN;
        }
        double x = W(a);
        double r = Math.Sqrt(x);
        return RoundToF32(r, Math.FusedMultiplyAdd(-r, r, x), rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static uint F32MulAdd(uint a, uint b, uint c, RoundingMode rm, ref FpFlags flags)
    {
        if ((a & F32ExpMask) == F32ExpMask || (b & F32ExpMask) == F32ExpMask || (c & F32ExpMask) == F32ExpMask)
            return F32MulAddSpecial(a, b, c, ref flags);
        double p = W(a) * W(b); // exact, as in F32Mul
        double z = W(c);
        double s = p + z;
        bool pLarger = Math.Abs(p) >= Math.Abs(z);
        double err = (pLarger ? z : p) - (s - (pLarger ? p : z)); // Fast2Sum: p + z == s + err
        if (s == 0 && rm == RoundingMode.Rdn)
            return ((a ^ b) | c) & F32SignBit; // exact zero sum, as in F32Add (the product's sign is a^b)
        return RoundToF32(s, err, rm, ref flags);
    }

    [MethodImpl(Hot)]
    public static uint F32Min(uint a, uint b, ref FpFlags flags)
    {
        bool nanA = IsNaN32(a), nanB = IsNaN32(b);
        if (nanA || nanB)
        {
            if (IsSNaN32(a) || IsSNaN32(b))
                flags |= FpFlags.Invalid;
            return nanA && nanB ? F32CanonicalNaN : nanA ? b : a;
        }
        bool signA = (int)a < 0;
        if (signA != ((int)b < 0))
            return signA ? a : b;
        return signA ^ (a < b) ? a : b;
    }

    [MethodImpl(Hot)]
    public static uint F32Max(uint a, uint b, ref FpFlags flags)
    {
        bool nanA = IsNaN32(a), nanB = IsNaN32(b);
        if (nanA || nanB)
        {
            if (IsSNaN32(a) || IsSNaN32(b))
                flags |= FpFlags.Invalid;
            return nanA && nanB ? F32CanonicalNaN : nanA ? b : a;
        }
        bool signA = (int)a < 0;
        if (signA != ((int)b < 0))
            return signA ? b : a;
        return signA ^ (a > b) ? a : b;
    }

    [MethodImpl(Hot)]
    public static bool F32Eq(uint a, uint b, ref FpFlags flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            if (IsSNaN32(a) || IsSNaN32(b))
                flags |= FpFlags.Invalid;
            return false;
        }
        return a == b || ((a | b) << 1) == 0;
    }

    [MethodImpl(Hot)]
    public static bool F32Lt(uint a, uint b, ref FpFlags flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            flags |= FpFlags.Invalid;
            return false;
        }
        bool signA = (int)a < 0;
        if (signA != ((int)b < 0))
            return signA && ((a | b) << 1) != 0;
        return a != b && (signA ^ (a < b));
    }

    [MethodImpl(Hot)]
    public static bool F32Le(uint a, uint b, ref FpFlags flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            flags |= FpFlags.Invalid;
            return false;
        }
        bool signA = (int)a < 0;
        if (signA != ((int)b < 0))
            return signA || ((a | b) << 1) == 0;
        return a == b || (signA ^ (a < b));
    }

    [MethodImpl(Hot)]
    public static ulong F32Class(uint a)
    {
        bool sign = (int)a < 0;
        int exp = Exp32(a);
        uint frac = a & F32FracMask;
        if (exp == 0xFF)
            return frac == 0 ? (sign ? 1UL << 0 : 1UL << 7) : (frac & F32QuietBit) != 0 ? 1UL << 9 : 1UL << 8;
        if (exp == 0)
            return frac == 0 ? (sign ? 1UL << 3 : 1UL << 4) : (sign ? 1UL << 2 : 1UL << 5);
        return sign ? 1UL << 1 : 1UL << 6;
    }

    // ---- operands that are infinite or NaN ----

    private static uint F32AddSpecial(uint a, uint b, ref FpFlags flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            if (IsSNaN32(a) || IsSNaN32(b))
                flags |= FpFlags.Invalid;
            return F32CanonicalNaN;
        }
        bool infA = (a & F32ExpMask) == F32ExpMask, infB = (b & F32ExpMask) == F32ExpMask;
        if (infA && infB && ((a ^ b) & F32SignBit) != 0)
        {
            flags |= FpFlags.Invalid; // inf - inf
            return F32CanonicalNaN;
        }
        return infA ? a : b;
    }

    private static uint F32MulSpecial(uint a, uint b, ref FpFlags flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            if (IsSNaN32(a) || IsSNaN32(b))
                flags |= FpFlags.Invalid;
            return F32CanonicalNaN;
        }
        if ((a << 1) == 0 || (b << 1) == 0)
        {
            flags |= FpFlags.Invalid; // inf * 0
            return F32CanonicalNaN;
        }
        return ((a ^ b) & F32SignBit) | F32Infinity;
    }

    private static uint F32DivSpecial(uint a, uint b, ref FpFlags flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            if (IsSNaN32(a) || IsSNaN32(b))
                flags |= FpFlags.Invalid;
            return F32CanonicalNaN;
        }
        uint signBit = (a ^ b) & F32SignBit;
        bool infA = (a & F32ExpMask) == F32ExpMask, infB = (b & F32ExpMask) == F32ExpMask;
        if (infA)
        {
            if (infB)
            {
                flags |= FpFlags.Invalid; // inf / inf
                return F32CanonicalNaN;
            }
            return signBit | F32Infinity;
        }
        if (infB)
            return signBit;
        // b is zero
        if ((a << 1) == 0)
        {
            flags |= FpFlags.Invalid; // 0 / 0
            return F32CanonicalNaN;
        }
        flags |= FpFlags.DivByZero;
        return signBit | F32Infinity;
    }

    private static uint F32MulAddSpecial(uint a, uint b, uint c, ref FpFlags flags)
    {
        bool aInf = (a & ~F32SignBit) == F32Infinity, bInf = (b & ~F32SignBit) == F32Infinity;
        bool aZero = (a << 1) == 0, bZero = (b << 1) == 0;
        uint signP = (a ^ b) & F32SignBit;
        if (IsNaN32(a) || IsNaN32(b) || IsNaN32(c))
        {
            // Unpriv. spec: NV for inf * 0 even when the addend is a quiet NaN.
            if (IsSNaN32(a) || IsSNaN32(b) || IsSNaN32(c) || (aInf && bZero) || (aZero && bInf))
                flags |= FpFlags.Invalid;
            return F32CanonicalNaN;
        }
        bool cInf = (c & ~F32SignBit) == F32Infinity;
        if (aInf || bInf)
        {
            if (aZero || bZero || (cInf && (c & F32SignBit) != signP))
            {
                flags |= FpFlags.Invalid;
                return F32CanonicalNaN;
            }
            return signP | F32Infinity;
        }
        return c; // c is infinite and the product finite
    }
}
