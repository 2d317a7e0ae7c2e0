using System.Numerics;
using Trapeze.Core.Cpu;

namespace Trapeze.Core.Tests;

/// <summary>An IEEE 754 binary interchange format described by its precision and exponent width.</summary>
internal sealed class FloatFormat
{
    public static readonly FloatFormat Binary32 = new(24, 8);
    public static readonly FloatFormat Binary64 = new(53, 11);

    public readonly int Precision; // significand bits including the implicit one
    public readonly int Width;
    public readonly int Bias;
    public readonly int Emin;
    public readonly int Emax;
    public readonly int MaxExpField;
    public readonly ulong SignBit;
    public readonly ulong FracMask;
    public readonly ulong Infinity;
    public readonly ulong CanonicalNaN;
    public readonly ulong MaxFinite;

    private FloatFormat(int precision, int expBits)
    {
        Precision = precision;
        Width = precision + expBits;
        Bias = (1 << (expBits - 1)) - 1;
        Emin = 1 - Bias;
        Emax = Bias;
        MaxExpField = (1 << expBits) - 1;
        SignBit = 1UL << (Width - 1);
        FracMask = (1UL << (precision - 1)) - 1;
        Infinity = (ulong)MaxExpField << (precision - 1);
        CanonicalNaN = Infinity | (1UL << (precision - 2));
        MaxFinite = Infinity - 1;
    }

    /// <summary>Exponent of the least significant bit of a subnormal (2^-149, 2^-1074).</summary>
    public int MinK => Emin - (Precision - 1);
}

internal enum FloatRefKind { Zero, Finite, Infinity, QuietNaN, SignallingNaN }

/// <summary>A decoded operand: a finite one is (-1)^Sign * M * 2^K (M = 0 for zeros).</summary>
internal readonly record struct FloatRefValue(FloatRefKind Kind, bool Sign, BigInteger M, int K)
{
    public bool IsNaN => Kind is FloatRefKind.QuietNaN or FloatRefKind.SignallingNaN;
    public bool IsSignalling => Kind == FloatRefKind.SignallingNaN;
    public bool IsInf => Kind == FloatRefKind.Infinity;
    public bool IsZero => Kind == FloatRefKind.Zero;
    public BigInteger Signed => Sign ? -M : M;

    public static FloatRefValue Decode(ulong bits, FloatFormat f)
    {
        bool sign = (bits & f.SignBit) != 0;
        int exp = (int)((bits >> (f.Precision - 1)) & (ulong)f.MaxExpField);
        ulong frac = bits & f.FracMask;
        if (exp == f.MaxExpField)
        {
            if (frac == 0)
                return new FloatRefValue(FloatRefKind.Infinity, sign, 0, 0);
            bool quiet = (frac >> (f.Precision - 2)) != 0;
            return new FloatRefValue(quiet ? FloatRefKind.QuietNaN : FloatRefKind.SignallingNaN, sign, 0, 0);
        }
        if (exp == 0)
            return new FloatRefValue(frac == 0 ? FloatRefKind.Zero : FloatRefKind.Finite, sign, frac, f.MinK);
        return new FloatRefValue(FloatRefKind.Finite, sign, frac | (1UL << (f.Precision - 1)), exp - f.Bias - (f.Precision - 1));
    }
}

/// <summary>The magnitude of an exact real result, queried by scaling.</summary>
internal abstract class FloatExactMagnitude
{
    /// <summary>floor(log2 |v|).</summary>
    public abstract int FloorLog2();

    /// <summary>m = floor(|v| / 2^q) and where the rest lies: 0 none, 1 below half, 2 exactly half, 3 above half.</summary>
    public abstract (BigInteger M, int Remainder) Scale(int q);

    protected static int RestOf(BigInteger remainder, BigInteger divisor)
    {
        if (remainder.IsZero)
            return 0;
        int c = (remainder * 2).CompareTo(divisor);
        return c < 0 ? 1 : c == 0 ? 2 : 3;
    }
}

/// <summary>|v| = num / den * 2^k with num, den > 0.</summary>
internal sealed class RationalMagnitude(BigInteger num, BigInteger den, int k) : FloatExactMagnitude
{
    public override int FloorLog2()
    {
        int e = (int)(num.GetBitLength() - den.GetBitLength());
        bool atLeast = e >= 0 ? num >= den << e : num << -e >= den;
        return (atLeast ? e : e - 1) + k;
    }

    public override (BigInteger M, int Remainder) Scale(int q)
    {
        int s = k - q;
        BigInteger n = s >= 0 ? num << s : num;
        BigInteger d = s >= 0 ? den : den << -s;
        BigInteger m = BigInteger.DivRem(n, d, out BigInteger r);
        return (m, RestOf(r, d));
    }
}

/// <summary>|v| = sqrt(n * 2^k) with n > 0.</summary>
internal sealed class SqrtMagnitude(BigInteger n, int k) : FloatExactMagnitude
{
    public override int FloorLog2() => (int)Math.Floor(((int)n.GetBitLength() - 1 + k) / 2.0);

    public override (BigInteger M, int Remainder) Scale(int q)
    {
        // |v| / 2^q = sqrt(n * 2^j), j = k - 2q.
        int j = k - 2 * q;
        BigInteger x = n;
        if (j >= 0)
        {
            x <<= j;
            BigInteger m0 = SoftFloatReference.ISqrt(x);
            if (m0 * m0 == x)
                return (m0, 0);
            // compare sqrt(x) with m0 + 1/2: 4x against (2 m0 + 1)^2
            int c0 = (4 * x).CompareTo((2 * m0 + 1) * (2 * m0 + 1));
            return (m0, c0 < 0 ? 1 : c0 == 0 ? 2 : 3);
        }
        if ((j & 1) != 0)
        {
            x <<= 1;
            j--;
        }
        int h = -j / 2; // sqrt(x) / 2^h
        BigInteger root = SoftFloatReference.ISqrt(x);
        BigInteger m = root >> h;
        BigInteger low = m << h;
        if (low * low == x)
            return (m, 0);
        BigInteger mid = (2 * m + 1) << h; // 2 * (m + 1/2) * 2^h
        int c = (4 * x).CompareTo(mid * mid);
        return (m, c < 0 ? 1 : c == 0 ? 2 : 3);
    }
}

/// <summary>
/// The slow, independent model the library is checked against: exact rational arithmetic on BigInteger, one rounding
/// by the textbook definition (round the exact value at the precision its exponent allows), flags by IEEE 754 with
/// tininess after rounding, RISC-V NaN and conversion conventions. Results are (bits, flags).
/// </summary>
internal static class SoftFloatReference
{
    public static BigInteger ISqrt(BigInteger x)
    {
        if (x.IsZero)
            return 0;
        BigInteger r = BigInteger.One << (int)((x.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger next = (r + x / r) >> 1;
            if (next >= r)
                break;
            r = next;
        }
        while (r * r > x)
            r--;
        while ((r + 1) * (r + 1) <= x)
            r++;
        return r;
    }

    private static BigInteger RoundInteger(BigInteger m, int rest, bool sign, RoundingMode rm)
    {
        bool up = rm switch
        {
            RoundingMode.Rne => rest == 3 || (rest == 2 && !m.IsEven),
            RoundingMode.Rmm => rest >= 2,
            RoundingMode.Rtz => false,
            RoundingMode.Rdn => sign && rest != 0,
            RoundingMode.Rup => !sign && rest != 0,
            _ => throw new ArgumentOutOfRangeException(nameof(rm)),
        };
        return up ? m + 1 : m;
    }

    private static bool OverflowsToInfinity(bool sign, RoundingMode rm) => rm switch
    {
        RoundingMode.Rtz => false,
        RoundingMode.Rdn => sign,
        RoundingMode.Rup => !sign,
        _ => true,
    };

    public static ulong Zero(FloatFormat f, bool sign) => sign ? f.SignBit : 0;

    /// <summary>Rounds the nonzero exact value (-1)^sign * |v| to format f.</summary>
    public static (ulong Bits, FpFlags Flags) Round(FloatFormat f, bool sign, FloatExactMagnitude v, RoundingMode rm)
    {
        int p = f.Precision;
        int e = v.FloorLog2();
        ulong signBit = sign ? f.SignBit : 0;

        // Rounded with an unbounded exponent range: decides overflow and tininess.
        (BigInteger mu, int restU) = v.Scale(e - (p - 1));
        BigInteger ru = RoundInteger(mu, restU, sign, rm);
        int eu = ru == BigInteger.One << p ? e + 1 : e;
        if (eu > f.Emax)
        {
            FpFlags of = FpFlags.Overflow | FpFlags.Inexact;
            return (signBit | (OverflowsToInfinity(sign, rm) ? f.Infinity : f.MaxFinite), of);
        }
        bool tiny = eu < f.Emin;

        int q = Math.Max(e, f.Emin) - (p - 1);
        (BigInteger m, int rest) = v.Scale(q);
        BigInteger r = RoundInteger(m, rest, sign, rm);
        FpFlags flags = FpFlags.None;
        if (rest != 0)
            flags |= tiny ? FpFlags.Inexact | FpFlags.Underflow : FpFlags.Inexact;
        if (r == BigInteger.One << p)
        {
            r >>= 1;
            q++;
        }
        if (r.IsZero)
            return (signBit, flags);
        if (r >= BigInteger.One << (p - 1))
        {
            int field = q + (p - 1) + f.Bias;
            return (signBit | ((ulong)field << (p - 1)) | ((ulong)r & f.FracMask), flags);
        }
        return (signBit | (ulong)r, flags); // subnormal: q is the minimum exponent
    }

    private static (ulong, FpFlags) NaN(FloatFormat f, bool invalid) => (f.CanonicalNaN, invalid ? FpFlags.Invalid : FpFlags.None);

    /// <summary>Rounds the exact integer s * 2^k; an exact zero takes the sign given.</summary>
    private static (ulong, FpFlags) RoundSum(FloatFormat f, BigInteger s, int k, bool zeroSign, RoundingMode rm) =>
        s.IsZero ? (Zero(f, zeroSign), FpFlags.None) : Round(f, s.Sign < 0, new RationalMagnitude(BigInteger.Abs(s), 1, k), rm);

    public static (ulong, FpFlags) Add(FloatFormat f, ulong a, ulong b, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        if (x.IsNaN || y.IsNaN)
            return NaN(f, x.IsSignalling || y.IsSignalling);
        if (x.IsInf && y.IsInf)
            return x.Sign == y.Sign ? (a, FpFlags.None) : NaN(f, true);
        if (x.IsInf)
            return (a, FpFlags.None);
        if (y.IsInf)
            return (b, FpFlags.None);
        int k = Math.Min(x.K, y.K);
        BigInteger s = (x.Signed << (x.K - k)) + (y.Signed << (y.K - k));
        // IEEE 754 6.3: an exact zero sum is -0 in RDN and +0 otherwise, unless both addends are zeros of one sign.
        bool zeroSign = x.IsZero && y.IsZero && x.Sign == y.Sign ? x.Sign : rm == RoundingMode.Rdn;
        return RoundSum(f, s, k, zeroSign, rm);
    }

    public static (ulong, FpFlags) Sub(FloatFormat f, ulong a, ulong b, RoundingMode rm) => Add(f, a, b ^ f.SignBit, rm);

    public static (ulong, FpFlags) Mul(FloatFormat f, ulong a, ulong b, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        bool sign = x.Sign ^ y.Sign;
        if (x.IsNaN || y.IsNaN)
            return NaN(f, x.IsSignalling || y.IsSignalling);
        if (x.IsInf || y.IsInf)
            return x.IsZero || y.IsZero ? NaN(f, true) : ((sign ? f.SignBit : 0) | f.Infinity, FpFlags.None);
        if (x.IsZero || y.IsZero)
            return (Zero(f, sign), FpFlags.None);
        return Round(f, sign, new RationalMagnitude(x.M * y.M, 1, x.K + y.K), rm);
    }

    public static (ulong, FpFlags) Div(FloatFormat f, ulong a, ulong b, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        bool sign = x.Sign ^ y.Sign;
        ulong inf = (sign ? f.SignBit : 0) | f.Infinity;
        if (x.IsNaN || y.IsNaN)
            return NaN(f, x.IsSignalling || y.IsSignalling);
        if (x.IsInf)
            return y.IsInf ? NaN(f, true) : (inf, FpFlags.None);
        if (y.IsInf)
            return (Zero(f, sign), FpFlags.None);
        if (y.IsZero)
            return x.IsZero ? NaN(f, true) : (inf, FpFlags.DivByZero);
        if (x.IsZero)
            return (Zero(f, sign), FpFlags.None);
        return Round(f, sign, new RationalMagnitude(x.M, y.M, x.K - y.K), rm);
    }

    public static (ulong, FpFlags) Sqrt(FloatFormat f, ulong a, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f);
        if (x.IsNaN)
            return NaN(f, x.IsSignalling);
        if (x.IsZero)
            return (a, FpFlags.None);
        if (x.Sign)
            return NaN(f, true);
        if (x.IsInf)
            return (a, FpFlags.None);
        return Round(f, false, new SqrtMagnitude(x.M, x.K), rm);
    }

    public static (ulong, FpFlags) MulAdd(FloatFormat f, ulong a, ulong b, ulong c, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f), z = FloatRefValue.Decode(c, f);
        bool invalidProduct = (x.IsInf && y.IsZero) || (x.IsZero && y.IsInf);
        if (x.IsNaN || y.IsNaN || z.IsNaN)
            return NaN(f, x.IsSignalling || y.IsSignalling || z.IsSignalling || invalidProduct);
        if (invalidProduct)
            return NaN(f, true);
        bool signP = x.Sign ^ y.Sign;
        if (x.IsInf || y.IsInf)
        {
            if (z.IsInf && z.Sign != signP)
                return NaN(f, true);
            return ((signP ? f.SignBit : 0) | f.Infinity, FpFlags.None);
        }
        if (z.IsInf)
            return (c, FpFlags.None);
        int kp = x.K + y.K;
        int k = Math.Min(kp, z.K);
        BigInteger product = x.M * y.M * (signP ? -1 : 1);
        BigInteger s = (product << (kp - k)) + (z.Signed << (z.K - k));
        bool productZero = x.IsZero || y.IsZero;
        bool zeroSign = productZero && z.IsZero && signP == z.Sign ? signP : rm == RoundingMode.Rdn;
        return RoundSum(f, s, k, zeroSign, rm);
    }

    /// <summary>Compares two non-NaN values numerically (-0 == +0).</summary>
    private static int Compare(FloatRefValue x, FloatRefValue y)
    {
        int Rank(FloatRefValue v) => v.IsInf ? (v.Sign ? -1 : 1) : 0;
        int rx = Rank(x), ry = Rank(y);
        if (rx != 0 || ry != 0)
            return rx.CompareTo(ry) != 0 ? rx.CompareTo(ry) : 0;
        int k = Math.Min(x.K, y.K);
        return (x.Signed << (x.K - k)).CompareTo(y.Signed << (y.K - k));
    }

    public static (bool, FpFlags) Eq(FloatFormat f, ulong a, ulong b)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        if (x.IsNaN || y.IsNaN)
            return (false, x.IsSignalling || y.IsSignalling ? FpFlags.Invalid : FpFlags.None);
        return (Compare(x, y) == 0, FpFlags.None);
    }

    public static (bool, FpFlags) Lt(FloatFormat f, ulong a, ulong b)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        if (x.IsNaN || y.IsNaN)
            return (false, FpFlags.Invalid);
        return (Compare(x, y) < 0, FpFlags.None);
    }

    public static (bool, FpFlags) Le(FloatFormat f, ulong a, ulong b)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        if (x.IsNaN || y.IsNaN)
            return (false, FpFlags.Invalid);
        return (Compare(x, y) <= 0, FpFlags.None);
    }

    public static (ulong, FpFlags) MinMax(FloatFormat f, ulong a, ulong b, bool max)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f), y = FloatRefValue.Decode(b, f);
        FpFlags flags = x.IsSignalling || y.IsSignalling ? FpFlags.Invalid : FpFlags.None;
        if (x.IsNaN && y.IsNaN)
            return (f.CanonicalNaN, flags);
        if (x.IsNaN)
            return (b, flags);
        if (y.IsNaN)
            return (a, flags);
        int c = Compare(x, y);
        if (c == 0 && x.IsZero && y.IsZero && x.Sign != y.Sign)
            c = x.Sign ? -1 : 1; // -0 < +0 for fmin/fmax (Unpriv. spec 2.2+)
        bool pickA = max ? c >= 0 : c <= 0;
        return (pickA ? a : b, flags);
    }

    public static ulong Class(FloatFormat f, ulong a)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f);
        bool subnormal = x.Kind == FloatRefKind.Finite && ((a >> (f.Precision - 1)) & (ulong)f.MaxExpField) == 0;
        int bit = x.Kind switch
        {
            FloatRefKind.Infinity => x.Sign ? 0 : 7,
            FloatRefKind.Zero => x.Sign ? 3 : 4,
            FloatRefKind.SignallingNaN => 8,
            FloatRefKind.QuietNaN => 9,
            _ => subnormal ? (x.Sign ? 2 : 5) : (x.Sign ? 1 : 6),
        };
        return 1UL << bit;
    }

    public static (ulong, FpFlags) Convert(FloatFormat from, FloatFormat to, ulong a, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, from);
        if (x.IsNaN)
            return NaN(to, x.IsSignalling);
        if (x.IsInf)
            return ((x.Sign ? to.SignBit : 0) | to.Infinity, FpFlags.None);
        if (x.IsZero)
            return (Zero(to, x.Sign), FpFlags.None);
        return Round(to, x.Sign, new RationalMagnitude(x.M, 1, x.K), rm);
    }

    /// <summary>Float to integer with RISC-V saturation; the result is the integer's two's complement bits
    /// (for 32-bit targets zero-extended from 32 bits).</summary>
    public static (ulong, FpFlags) ToInt(FloatFormat f, ulong a, int bits, bool signed, RoundingMode rm)
    {
        FloatRefValue x = FloatRefValue.Decode(a, f);
        BigInteger min = signed ? -(BigInteger.One << (bits - 1)) : 0;
        BigInteger max = signed ? (BigInteger.One << (bits - 1)) - 1 : (BigInteger.One << bits) - 1;
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong Encode(BigInteger v) => (ulong)(v & mask);
        if (x.IsNaN)
            return (Encode(max), FpFlags.Invalid);
        if (x.IsInf)
            return (Encode(x.Sign ? min : max), FpFlags.Invalid);
        if (x.IsZero)
            return (0, FpFlags.None);
        BigInteger m;
        int rest;
        if (x.K >= 0)
        {
            m = x.M << x.K;
            rest = 0;
        }
        else
        {
            BigInteger d = BigInteger.One << -x.K;
            m = BigInteger.DivRem(x.M, d, out BigInteger r);
            rest = r.IsZero ? 0 : (r * 2).CompareTo(d) switch { < 0 => 1, 0 => 2, _ => 3 };
        }
        BigInteger rounded = RoundInteger(m, rest, x.Sign, rm);
        BigInteger value = x.Sign ? -rounded : rounded;
        if (value < min)
            return (Encode(min), FpFlags.Invalid);
        if (value > max)
            return (Encode(max), FpFlags.Invalid);
        return (Encode(value), rest != 0 ? FpFlags.Inexact : FpFlags.None);
    }

    public static (ulong, FpFlags) FromInt(FloatFormat f, BigInteger v, RoundingMode rm) =>
        v.IsZero ? (0, FpFlags.None) : Round(f, v.Sign < 0, new RationalMagnitude(BigInteger.Abs(v), 1, 0), rm);
}
