using System.Globalization;
using System.Text;
using Trapeze.Core.Cpu;

namespace Trapeze.Core.Tests;

internal delegate ulong SoftFloatUnaryOp(ulong a, RoundingMode rm, ref FpFlags flags);
internal delegate ulong SoftFloatBinaryOp(ulong a, ulong b, RoundingMode rm, ref FpFlags flags);
internal delegate ulong SoftFloatTernaryOp(ulong a, ulong b, ulong c, RoundingMode rm, ref FpFlags flags);

/// <summary>Random operands biased toward the values where floating-point implementations break: zeros, infinities,
/// quiet and signalling NaNs, subnormals, the ends of the exponent range, significands of all ones or few bits
/// (which make exact results and ties likely), and operands derived from each other (cancellation, alignment right at
/// the rounding position, huge exponent gaps).</summary>
internal sealed class FloatOperandGenerator(FloatFormat format, int seed)
{
    private readonly FloatFormat f = format;
    private readonly Random rng = new(seed);

    public Random Random => rng;

    private ulong Mask => f.Width == 64 ? ulong.MaxValue : (1UL << f.Width) - 1;

    private ulong Bits64() => (ulong)rng.NextInt64() ^ ((ulong)rng.Next(2) << 63);

    public ulong Fraction()
    {
        int t = rng.Next(f.Precision - 1);
        return rng.Next(7) switch
        {
            0 => Bits64() & f.FracMask & (f.FracMask << t), // few significant bits
            1 => f.FracMask >> t, // trailing ones
            2 => 1UL << t,
            3 => f.FracMask ^ (1UL << t),
            4 => (f.FracMask << t) & f.FracMask, // leading ones
            5 => 0,
            _ => Bits64() & f.FracMask,
        };
    }

    private ulong Pack(bool sign, int expField, ulong frac) =>
        (sign ? f.SignBit : 0) | ((ulong)expField << (f.Precision - 1)) | (frac & f.FracMask);

    public ulong Next()
    {
        bool sign = rng.Next(2) == 0;
        int maxE = f.MaxExpField;
        int p = f.Precision;
        switch (rng.Next(24))
        {
            case 0:
            {
                ulong[] specials =
                [
                    0, f.Infinity, f.CanonicalNaN, f.CanonicalNaN | 1, f.Infinity | f.FracMask,
                    f.Infinity | 1, f.Infinity | (1UL << (p - 3)), f.Infinity | (f.FracMask >> 1),
                ];
                return (sign ? f.SignBit : 0) | specials[rng.Next(specials.Length)];
            }
            case 1:
            {
                ulong one = (ulong)f.Bias << (p - 1);
                ulong[] edges =
                [
                    1, 2, f.FracMask, f.FracMask - 1, 1UL << (p - 1), (1UL << (p - 1)) + 1, f.MaxFinite,
                    f.MaxFinite - 1, one, one + 1, one - 1, f.MaxFinite & ~f.FracMask,
                ];
                return (sign ? f.SignBit : 0) | edges[rng.Next(edges.Length)];
            }
            case 2:
            {
                ulong frac = Fraction();
                if (rng.Next(3) == 0)
                    frac >>= rng.Next(p - 1);
                return Pack(sign, 0, frac == 0 ? 1 : frac);
            }
            case 3:
                return Pack(sign, 1 + rng.Next(3), Fraction());
            case 4:
                return Pack(sign, maxE - 1 - rng.Next(3), Fraction());
            case 5:
            case 6:
                return Pack(sign, f.Bias - 4 + rng.Next(9), Fraction());
            case 7:
                return Pack(sign, f.Bias - 2 + rng.Next(p + 70), Fraction()); // integers and conversion limits
            default:
                return Pack(sign, 1 + rng.Next(maxE - 1), Fraction());
        }
    }

    private int ExpField(ulong a) => (int)((a >> (f.Precision - 1)) & (ulong)f.MaxExpField);

    /// <summary>An operand derived from <paramref name="a"/>.</summary>
    public ulong Related(ulong a)
    {
        int p = f.Precision;
        int ea = ExpField(a);
        bool sign = rng.Next(2) == 0;
        int e;
        switch (rng.Next(9))
        {
            case 0:
                return a ^ f.SignBit;
            case 1:
                return a;
            case 2:
                return (a + (ulong)(rng.Next(7) - 3)) & Mask;
            case 3:
                return ((a + (ulong)(rng.Next(7) - 3)) & Mask) ^ f.SignBit;
            case 4:
                e = ea - p - 3 + rng.Next(2 * p + 7);
                break;
            case 5:
                e = ea - p - 1 + rng.Next(3);
                return e >= 1 && e < f.MaxExpField ? Pack(sign, e, rng.Next(2) == 0 ? 0 : f.FracMask) : Next();
            case 6:
                e = ea + (rng.Next(2) == 0 ? -1 : 1) * (60 + rng.Next(1000));
                break;
            case 7:
                e = ea;
                break;
            default:
                return Next();
        }
        return e >= 0 && e < f.MaxExpField ? Pack(sign, e, Fraction()) : Next();
    }

    public ulong NextOrRelated(ulong a) => rng.Next(3) == 0 ? Related(a) : Next();

    /// <summary>An exponent (unbiased) near the subnormal range, the smallest normal or the overflow threshold.</summary>
    public int BoundaryExponent() => rng.Next(4) switch
    {
        0 => f.MinK - 2 + rng.Next(6),
        1 => f.Emin - 4 + rng.Next(8),
        2 => f.Emin - f.Precision + rng.Next(f.Precision + 2),
        _ => f.Emax - 2 + rng.Next(5),
    };

    /// <summary>An operand b such that a*b (or a/b when <paramref name="divide"/>) lands near <see cref="BoundaryExponent"/>.</summary>
    public ulong TowardBoundary(ulong a, bool divide)
    {
        int ea = Math.Max(ExpField(a), 1) - f.Bias;
        int target = BoundaryExponent();
        int eb = divide ? ea - target : target - ea;
        int field = eb + f.Bias;
        return field >= 1 && field < f.MaxExpField ? Pack(rng.Next(2) == 0, field, Fraction()) : Next();
    }

    /// <summary>A finite value with exponent near <see cref="BoundaryExponent"/>.</summary>
    public ulong NearBoundary()
    {
        int field = BoundaryExponent() + f.Bias;
        return field >= 1 && field < f.MaxExpField ? Pack(rng.Next(2) == 0, field, Fraction()) : Pack(rng.Next(2) == 0, 0, Fraction() | 1);
    }

    /// <summary>A double or float host value of the format's bits (for building related operands).</summary>
    public double ToHost(ulong bits) => f.Width == 64 ? BitConverter.UInt64BitsToDouble(bits) : BitConverter.UInt32BitsToSingle((uint)bits);

    public ulong FromHost(double v) => f.Width == 64 ? BitConverter.DoubleToUInt64Bits(v) : BitConverter.SingleToUInt32Bits((float)v);

    /// <summary>An addend that nearly or exactly cancels a*b (for fused multiply-add).</summary>
    public ulong Cancelling(ulong a, ulong b)
    {
        double product = ToHost(a) * ToHost(b); // exact for binary32, rounded for binary64: fine either way
        ulong c = FromHost(-product);
        return rng.Next(3) switch
        {
            0 => c,
            1 => (c + (ulong)(rng.Next(9) - 4)) & Mask,
            _ => Related(c),
        };
    }

    /// <summary>A dividend that is b times a short number, so that quotients are often exact or near ties.</summary>
    public ulong ShortMultiple(ulong b)
    {
        double q = (1 + rng.Next(1 << 12)) * Math.Pow(2, rng.Next(40) - 20);
        ulong a = FromHost(ToHost(b) * q);
        return rng.Next(2) == 0 ? a : (a + (ulong)(rng.Next(5) - 2)) & Mask;
    }

    /// <summary>A square (or a neighbour of one) of a short number.</summary>
    public ulong NearSquare()
    {
        double r = (1 + rng.Next(1 << 20)) * Math.Pow(2, rng.Next(f.Width == 64 ? 400 : 80) - (f.Width == 64 ? 200 : 40));
        ulong a = FromHost(r * r);
        return rng.Next(2) == 0 ? a : (a + (ulong)(rng.Next(5) - 2)) & Mask;
    }
}

/// <summary>Collects disagreements and fails with the first few.</summary>
internal sealed class SoftFloatMismatches
{
    private readonly StringBuilder text = new();
    private int count;
    private int checkedCount;

    public void Check(string what, ulong expected, FpFlags expectedFlags, ulong actual, FpFlags actualFlags)
    {
        checkedCount++;
        if (expected == actual && expectedFlags == actualFlags)
            return;
        if (count++ < 25)
            text.AppendLine(CultureInfo.InvariantCulture, $"{what}: expected {expected:x} [{expectedFlags}] got {actual:x} [{actualFlags}]");
    }

    public void AssertNone()
    {
        Assert.True(checkedCount > 0, "nothing was checked");
        Assert.True(count == 0, $"{count} of {checkedCount} mismatches:\n{text}");
    }
}

internal static class SoftFloatRandomRuns
{
    public static readonly RoundingMode[] Modes =
        [RoundingMode.Rne, RoundingMode.Rtz, RoundingMode.Rdn, RoundingMode.Rup, RoundingMode.Rmm];

    /// <summary>Multiplier for the random case counts: TRAPEZE_SOFTFLOAT_SCALE=50 runs fifty times as many.</summary>
    public static int Scale { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("TRAPEZE_SOFTFLOAT_SCALE"), out int s) && s > 0 ? s : 1;

    public static int Seed { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("TRAPEZE_SOFTFLOAT_SEED"), out int s) ? s : 12345;

    public static void Unary(FloatFormat f, int cases, int seed, Func<FloatOperandGenerator, ulong> pick,
        Func<ulong, RoundingMode, (ulong, FpFlags)> reference, SoftFloatUnaryOp op, string name)
    {
        var gen = new FloatOperandGenerator(f, seed ^ Seed);
        var bad = new SoftFloatMismatches();
        for (int i = 0; i < cases * Scale; i++)
        {
            ulong a = pick(gen);
            foreach (RoundingMode rm in Modes)
            {
                (ulong want, FpFlags wantFlags) = reference(a, rm);
                FpFlags flags = FpFlags.None;
                ulong got = op(a, rm, ref flags);
                bad.Check($"{name}({a:x}) {rm}", want, wantFlags, got, flags);
            }
        }
        bad.AssertNone();
    }

    public static void Binary(FloatFormat f, int cases, int seed, Func<FloatOperandGenerator, ulong, ulong> pickB,
        Func<ulong, ulong, RoundingMode, (ulong, FpFlags)> reference, SoftFloatBinaryOp op, string name)
    {
        var gen = new FloatOperandGenerator(f, seed ^ Seed);
        var bad = new SoftFloatMismatches();
        for (int i = 0; i < cases * Scale; i++)
        {
            ulong a = gen.Next();
            ulong b = pickB(gen, a);
            if (gen.Random.Next(2) == 0)
                (a, b) = (b, a);
            foreach (RoundingMode rm in Modes)
            {
                (ulong want, FpFlags wantFlags) = reference(a, b, rm);
                FpFlags flags = FpFlags.None;
                ulong got = op(a, b, rm, ref flags);
                bad.Check($"{name}({a:x}, {b:x}) {rm}", want, wantFlags, got, flags);
            }
        }
        bad.AssertNone();
    }

    public static void Ternary(FloatFormat f, int cases, int seed,
        Func<ulong, ulong, ulong, RoundingMode, (ulong, FpFlags)> reference, SoftFloatTernaryOp op, string name)
    {
        var gen = new FloatOperandGenerator(f, seed ^ Seed);
        var bad = new SoftFloatMismatches();
        for (int i = 0; i < cases * Scale; i++)
        {
            ulong a = gen.Next();
            bool boundary = gen.Random.Next(4) == 0; // product and sum near underflow or overflow
            ulong b = boundary ? gen.TowardBoundary(a, divide: false) : gen.NextOrRelated(a);
            ulong c = gen.Random.Next(boundary ? 4 : 3) switch
            {
                0 => gen.Next(),
                1 => gen.Related(gen.Random.Next(2) == 0 ? a : b),
                2 => gen.Cancelling(a, b),
                _ => gen.NearBoundary(),
            };
            foreach (RoundingMode rm in Modes)
            {
                (ulong want, FpFlags wantFlags) = reference(a, b, c, rm);
                FpFlags flags = FpFlags.None;
                ulong got = op(a, b, c, rm, ref flags);
                bad.Check($"{name}({a:x}, {b:x}, {c:x}) {rm}", want, wantFlags, got, flags);
            }
        }
        bad.AssertNone();
    }
}
