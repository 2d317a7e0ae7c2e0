using System.Numerics;
using Trapeze.Core.Cpu;

namespace Trapeze.Core.Tests;

// Random operands, every rounding mode, compared bit for bit and flag for flag against the BigInteger SoftFloatReference.
// The default counts keep the run to a few seconds; TRAPEZE_SOFTFLOAT_SCALE multiplies them, TRAPEZE_SOFTFLOAT_SEED
// changes the operands.

public sealed class SoftFloatRandomF64Tests
{
    private static readonly FloatFormat F = FloatFormat.Binary64;
    private const int Cases = 5000;

    [Fact]
    public void Add() => SoftFloatRandomRuns.Binary(F, Cases, 1, (g, a) => g.NextOrRelated(a),
        (a, b, rm) => SoftFloatReference.Add(F, a, b, rm), SoftFloat.F64Add, "F64Add");

    [Fact]
    public void Sub() => SoftFloatRandomRuns.Binary(F, Cases, 2, (g, a) => g.NextOrRelated(a),
        (a, b, rm) => SoftFloatReference.Sub(F, a, b, rm), SoftFloat.F64Sub, "F64Sub");

    [Fact]
    public void Mul() => SoftFloatRandomRuns.Binary(F, Cases, 3, (g, a) => g.Random.Next(4) == 0 ? g.TowardBoundary(a, false) : g.NextOrRelated(a),
        (a, b, rm) => SoftFloatReference.Mul(F, a, b, rm), SoftFloat.F64Mul, "F64Mul");

    [Fact]
    public void Div() => SoftFloatRandomRuns.Binary(F, Cases, 4, (g, a) => g.Random.Next(3) switch
        {
            0 => g.ShortMultiple(a),
            1 => g.TowardBoundary(a, true),
            _ => g.NextOrRelated(a),
        },
        (a, b, rm) => SoftFloatReference.Div(F, a, b, rm), SoftFloat.F64Div, "F64Div");

    [Fact]
    public void Sqrt() => SoftFloatRandomRuns.Unary(F, Cases, 5, g => g.Random.Next(3) == 0 ? g.NearSquare() : g.Next(),
        (a, rm) => SoftFloatReference.Sqrt(F, a, rm), SoftFloat.F64Sqrt, "F64Sqrt");

    [Fact]
    public void MulAdd() => SoftFloatRandomRuns.Ternary(F, Cases * 2, 6,
        (a, b, c, rm) => SoftFloatReference.MulAdd(F, a, b, c, rm), SoftFloat.F64MulAdd, "F64MulAdd");

    [Fact]
    public void MinMaxCompareClass()
    {
        var gen = new FloatOperandGenerator(F, 7 ^ SoftFloatRandomRuns.Seed);
        var bad = new SoftFloatMismatches();
        for (int i = 0; i < Cases * 4 * SoftFloatRandomRuns.Scale; i++)
        {
            ulong a = gen.Next(), b = gen.NextOrRelated(a);
            FpFlags fl = FpFlags.None;
            (ulong want, FpFlags wantFlags) = SoftFloatReference.MinMax(F, a, b, max: false);
            bad.Check($"F64Min({a:x}, {b:x})", want, wantFlags, SoftFloat.F64Min(a, b, ref fl), fl);
            fl = FpFlags.None;
            (want, wantFlags) = SoftFloatReference.MinMax(F, a, b, max: true);
            bad.Check($"F64Max({a:x}, {b:x})", want, wantFlags, SoftFloat.F64Max(a, b, ref fl), fl);
            CheckCompare(bad, "F64Eq", a, b, SoftFloatReference.Eq(F, a, b), SoftFloat.F64Eq);
            CheckCompare(bad, "F64Lt", a, b, SoftFloatReference.Lt(F, a, b), SoftFloat.F64Lt);
            CheckCompare(bad, "F64Le", a, b, SoftFloatReference.Le(F, a, b), SoftFloat.F64Le);
            bad.Check($"F64Class({a:x})", SoftFloatReference.Class(F, a), FpFlags.None, SoftFloat.F64Class(a), FpFlags.None);
        }
        bad.AssertNone();
    }

    internal delegate bool CompareOp(ulong a, ulong b, ref FpFlags flags);

    internal static void CheckCompare(SoftFloatMismatches bad, string name, ulong a, ulong b, (bool, FpFlags) want, CompareOp op)
    {
        FpFlags fl = FpFlags.None;
        bool got = op(a, b, ref fl);
        bad.Check($"{name}({a:x}, {b:x})", want.Item1 ? 1UL : 0, want.Item2, got ? 1UL : 0, fl);
    }
}

public sealed class SoftFloatRandomF32Tests
{
    private static readonly FloatFormat F = FloatFormat.Binary32;
    private const int Cases = 5000;

    [Fact]
    public void Add() => SoftFloatRandomRuns.Binary(F, Cases, 11, (g, a) => g.NextOrRelated(a), (a, b, rm) => SoftFloatReference.Add(F, a, b, rm),
        (ulong a, ulong b, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32Add((uint)a, (uint)b, rm, ref fl), "F32Add");

    [Fact]
    public void Sub() => SoftFloatRandomRuns.Binary(F, Cases, 12, (g, a) => g.NextOrRelated(a), (a, b, rm) => SoftFloatReference.Sub(F, a, b, rm),
        (ulong a, ulong b, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32Sub((uint)a, (uint)b, rm, ref fl), "F32Sub");

    [Fact]
    public void Mul() => SoftFloatRandomRuns.Binary(F, Cases, 13, (g, a) => g.Random.Next(4) == 0 ? g.TowardBoundary(a, false) : g.NextOrRelated(a), (a, b, rm) => SoftFloatReference.Mul(F, a, b, rm),
        (ulong a, ulong b, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32Mul((uint)a, (uint)b, rm, ref fl), "F32Mul");

    [Fact]
    public void Div() => SoftFloatRandomRuns.Binary(F, Cases, 14, (g, a) => g.Random.Next(3) switch
        {
            0 => g.ShortMultiple(a),
            1 => g.TowardBoundary(a, true),
            _ => g.NextOrRelated(a),
        },
        (a, b, rm) => SoftFloatReference.Div(F, a, b, rm),
        (ulong a, ulong b, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32Div((uint)a, (uint)b, rm, ref fl), "F32Div");

    [Fact]
    public void Sqrt() => SoftFloatRandomRuns.Unary(F, Cases, 15, g => g.Random.Next(3) == 0 ? g.NearSquare() : g.Next(),
        (a, rm) => SoftFloatReference.Sqrt(F, a, rm),
        (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32Sqrt((uint)a, rm, ref fl), "F32Sqrt");

    [Fact]
    public void MulAdd() => SoftFloatRandomRuns.Ternary(F, Cases * 2, 16, (a, b, c, rm) => SoftFloatReference.MulAdd(F, a, b, c, rm),
        (ulong a, ulong b, ulong c, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32MulAdd((uint)a, (uint)b, (uint)c, rm, ref fl),
        "F32MulAdd");

    [Fact]
    public void MinMaxCompareClass()
    {
        var gen = new FloatOperandGenerator(F, 17 ^ SoftFloatRandomRuns.Seed);
        var bad = new SoftFloatMismatches();
        for (int i = 0; i < Cases * 4 * SoftFloatRandomRuns.Scale; i++)
        {
            uint a = (uint)gen.Next(), b = (uint)gen.NextOrRelated(a);
            FpFlags fl = FpFlags.None;
            (ulong want, FpFlags wantFlags) = SoftFloatReference.MinMax(F, a, b, max: false);
            bad.Check($"F32Min({a:x}, {b:x})", want, wantFlags, SoftFloat.F32Min(a, b, ref fl), fl);
            fl = FpFlags.None;
            (want, wantFlags) = SoftFloatReference.MinMax(F, a, b, max: true);
            bad.Check($"F32Max({a:x}, {b:x})", want, wantFlags, SoftFloat.F32Max(a, b, ref fl), fl);
            SoftFloatRandomF64Tests.CheckCompare(bad, "F32Eq", a, b, SoftFloatReference.Eq(F, a, b),
                (ulong x, ulong y, ref FpFlags f) => SoftFloat.F32Eq((uint)x, (uint)y, ref f));
            SoftFloatRandomF64Tests.CheckCompare(bad, "F32Lt", a, b, SoftFloatReference.Lt(F, a, b),
                (ulong x, ulong y, ref FpFlags f) => SoftFloat.F32Lt((uint)x, (uint)y, ref f));
            SoftFloatRandomF64Tests.CheckCompare(bad, "F32Le", a, b, SoftFloatReference.Le(F, a, b),
                (ulong x, ulong y, ref FpFlags f) => SoftFloat.F32Le((uint)x, (uint)y, ref f));
            bad.Check($"F32Class({a:x})", SoftFloatReference.Class(F, a), FpFlags.None, SoftFloat.F32Class(a), FpFlags.None);
        }
        bad.AssertNone();
    }
}

public sealed class SoftFloatRandomConversionTests
{
    private static readonly FloatFormat F32 = FloatFormat.Binary32, F64 = FloatFormat.Binary64;
    private const int Cases = 4000;

    /// <summary>Values around the integer limits and around half-integers, where conversions decide NV and NX.</summary>
    private static ulong NearIntegerLimit(FloatOperandGenerator g, FloatFormat f)
    {
        double[] limits = [0, 0.5, 1, 1.5, 2.5, 2147483648.0, 4294967296.0, 9223372036854775808.0, 18446744073709551616.0];
        double v = limits[g.Random.Next(limits.Length)];
        if (g.Random.Next(2) == 0)
            v = -v;
        ulong bits = g.FromHost(v);
        return (bits + (ulong)(g.Random.Next(9) - 4)) & (f.Width == 64 ? ulong.MaxValue : uint.MaxValue);
    }

    private static void ToInt(FloatFormat f, int seed, int bits, bool signed, SoftFloatUnaryOp op, string name) =>
        SoftFloatRandomRuns.Unary(f, Cases, seed, g => g.Random.Next(3) == 0 ? NearIntegerLimit(g, f) : g.Next(),
            (a, rm) => SoftFloatReference.ToInt(f, a, bits, signed, rm), op, name);

    [Fact]
    public void F32ToIntegers()
    {
        ToInt(F32, 21, 32, true, (ulong a, RoundingMode rm, ref FpFlags fl) => (uint)SoftFloat.F32ToI32((uint)a, rm, ref fl), "F32ToI32");
        ToInt(F32, 22, 32, false, (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32ToU32((uint)a, rm, ref fl), "F32ToU32");
        ToInt(F32, 23, 64, true, (ulong a, RoundingMode rm, ref FpFlags fl) => (ulong)SoftFloat.F32ToI64((uint)a, rm, ref fl), "F32ToI64");
        ToInt(F32, 24, 64, false, (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32ToU64((uint)a, rm, ref fl), "F32ToU64");
    }

    [Fact]
    public void F64ToIntegers()
    {
        ToInt(F64, 25, 32, true, (ulong a, RoundingMode rm, ref FpFlags fl) => (uint)SoftFloat.F64ToI32(a, rm, ref fl), "F64ToI32");
        ToInt(F64, 26, 32, false, (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F64ToU32(a, rm, ref fl), "F64ToU32");
        ToInt(F64, 27, 64, true, (ulong a, RoundingMode rm, ref FpFlags fl) => (ulong)SoftFloat.F64ToI64(a, rm, ref fl), "F64ToI64");
        ToInt(F64, 28, 64, false, (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F64ToU64(a, rm, ref fl), "F64ToU64");
    }

    [Fact]
    public void FloatToFloat()
    {
        SoftFloatRandomRuns.Unary(F32, Cases, 31, g => g.Next(), (a, rm) => SoftFloatReference.Convert(F32, F64, a, rm),
            (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F32ToF64((uint)a, ref fl), "F32ToF64");
        var narrow = new FloatOperandGenerator(F32, 33);
        SoftFloatRandomRuns.Unary(F64, Cases * 2, 32, g =>
        {
            if (g.Random.Next(2) == 0)
                return g.Next();
            // binary32 values, their neighbours and the midpoints between them, seen as binary64
            ulong wide = BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle((uint)narrow.Next()));
            return g.Random.Next(3) switch
            {
                0 => wide,
                1 => wide + (1UL << 28) + (ulong)(g.Random.Next(3) - 1),
                _ => wide + (ulong)(g.Random.Next(7) - 3),
            };
        }, (a, rm) => SoftFloatReference.Convert(F64, F32, a, rm),
            (ulong a, RoundingMode rm, ref FpFlags fl) => SoftFloat.F64ToF32(a, rm, ref fl), "F64ToF32");
    }

    private static long RandomInteger(Random r)
    {
        long[] edges = [0, 1, -1, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue,
            (1L << 24) + 1, (1L << 53) + 1, -(1L << 53) - 1, (1L << 25) + 3, (1L << 54) + 6];
        return r.Next(4) switch
        {
            0 => edges[r.Next(edges.Length)],
            1 => r.NextInt64() >> r.Next(64),
            2 => (r.NextInt64() | 1) << r.Next(40), // trailing zeros: exact or tie cases
            _ => (long)(((ulong)r.NextInt64() << 1) | (uint)r.Next(2)),
        };
    }

    [Fact]
    public void IntegersToFloat()
    {
        var r = new Random(41 ^ SoftFloatRandomRuns.Seed);
        var bad = new SoftFloatMismatches();
        for (int i = 0; i < Cases * 4 * SoftFloatRandomRuns.Scale; i++)
        {
            long v = RandomInteger(r);
            foreach (RoundingMode rm in SoftFloatRandomRuns.Modes)
            {
                Check(bad, "I32ToF32", (int)v, F32, rm, (ref FpFlags fl) => SoftFloat.I32ToF32((int)v, rm, ref fl));
                Check(bad, "U32ToF32", (uint)v, F32, rm, (ref FpFlags fl) => SoftFloat.U32ToF32((uint)v, rm, ref fl));
                Check(bad, "I64ToF32", v, F32, rm, (ref FpFlags fl) => SoftFloat.I64ToF32(v, rm, ref fl));
                Check(bad, "U64ToF32", (ulong)v, F32, rm, (ref FpFlags fl) => SoftFloat.U64ToF32((ulong)v, rm, ref fl));
                Check(bad, "I32ToF64", (int)v, F64, rm, (ref FpFlags fl) => SoftFloat.I32ToF64((int)v, rm, ref fl));
                Check(bad, "U32ToF64", (uint)v, F64, rm, (ref FpFlags fl) => SoftFloat.U32ToF64((uint)v, rm, ref fl));
                Check(bad, "I64ToF64", v, F64, rm, (ref FpFlags fl) => SoftFloat.I64ToF64(v, rm, ref fl));
                Check(bad, "U64ToF64", (ulong)v, F64, rm, (ref FpFlags fl) => SoftFloat.U64ToF64((ulong)v, rm, ref fl));
            }
        }
        bad.AssertNone();
    }

    private delegate ulong FromIntOp(ref FpFlags flags);

    private static void Check(SoftFloatMismatches bad, string name, BigInteger v, FloatFormat f, RoundingMode rm, FromIntOp op)
    {
        (ulong want, FpFlags wantFlags) = SoftFloatReference.FromInt(f, v, rm);
        FpFlags fl = FpFlags.None;
        ulong got = op(ref fl);
        bad.Check($"{name}({v}) {rm}", want, wantFlags, got, fl);
    }
}

/// <summary>Round-to-nearest-even results against the host's IEEE arithmetic, which is exact to the bit for these
/// operations (NaN payloads aside: the library must return the canonical NaN wherever the host returns a NaN).</summary>
public sealed class SoftFloatHostTests
{
    private const int Cases = 100_000;

    private static void Check64(SoftFloatMismatches bad, string name, ulong a, ulong b, double host, ulong got)
    {
        ulong want = double.IsNaN(host) ? SoftFloat.F64CanonicalNaN : BitConverter.DoubleToUInt64Bits(host);
        bad.Check($"{name}({a:x}, {b:x})", want, FpFlags.None, got, FpFlags.None);
    }

    private static void Check32(SoftFloatMismatches bad, string name, uint a, uint b, float host, uint got)
    {
        uint want = float.IsNaN(host) ? SoftFloat.F32CanonicalNaN : BitConverter.SingleToUInt32Bits(host);
        bad.Check($"{name}({a:x}, {b:x})", want, FpFlags.None, got, FpFlags.None);
    }

    [Fact]
    public void Binary64MatchesHost()
    {
        var gen = new FloatOperandGenerator(FloatFormat.Binary64, 51 ^ SoftFloatRandomRuns.Seed);
        var r = gen.Random;
        var bad = new SoftFloatMismatches();
        const RoundingMode Rne = RoundingMode.Rne;
        for (int i = 0; i < Cases * SoftFloatRandomRuns.Scale; i++)
        {
            // half fully random bit patterns, half biased operands
            bool uniform = (i & 1) == 0;
            ulong a = uniform ? (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63) : gen.Next();
            ulong b = uniform ? (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63) : gen.NextOrRelated(a);
            ulong c = uniform ? (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63) : gen.Cancelling(a, b);
            double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b), z = BitConverter.UInt64BitsToDouble(c);
            FpFlags fl = FpFlags.None;
            Check64(bad, "F64Add", a, b, x + y, SoftFloat.F64Add(a, b, Rne, ref fl));
            Check64(bad, "F64Sub", a, b, x - y, SoftFloat.F64Sub(a, b, Rne, ref fl));
            Check64(bad, "F64Mul", a, b, x * y, SoftFloat.F64Mul(a, b, Rne, ref fl));
            Check64(bad, "F64Div", a, b, x / y, SoftFloat.F64Div(a, b, Rne, ref fl));
            Check64(bad, "F64Sqrt", a, 0, Math.Sqrt(x), SoftFloat.F64Sqrt(a, Rne, ref fl));
            Check64(bad, "F64MulAdd", a, b, Math.FusedMultiplyAdd(x, y, z), SoftFloat.F64MulAdd(a, b, c, Rne, ref fl));
            float n = (float)x;
            bad.Check($"F64ToF32({a:x})", float.IsNaN(n) ? SoftFloat.F32CanonicalNaN : BitConverter.SingleToUInt32Bits(n), FpFlags.None,
                SoftFloat.F64ToF32(a, Rne, ref fl), FpFlags.None);
            if (Math.Abs(x) < 9.2e18)
                bad.Check($"F64ToI64({a:x}) Rtz", (ulong)(long)x, FpFlags.None, (ulong)SoftFloat.F64ToI64(a, RoundingMode.Rtz, ref fl), FpFlags.None);
            long v = (long)a >> r.Next(64);
            bad.Check($"I64ToF64({v})", BitConverter.DoubleToUInt64Bits(v), FpFlags.None, SoftFloat.I64ToF64(v, Rne, ref fl), FpFlags.None);
        }
        bad.AssertNone();
    }

    [Fact]
    public void Binary32MatchesHost()
    {
        var gen = new FloatOperandGenerator(FloatFormat.Binary32, 52 ^ SoftFloatRandomRuns.Seed);
        var r = gen.Random;
        var bad = new SoftFloatMismatches();
        const RoundingMode Rne = RoundingMode.Rne;
        for (int i = 0; i < Cases * SoftFloatRandomRuns.Scale; i++)
        {
            bool uniform = (i & 1) == 0;
            uint a = uniform ? (uint)r.Next() ^ ((uint)r.Next(2) << 31) : (uint)gen.Next();
            uint b = uniform ? (uint)r.Next() ^ ((uint)r.Next(2) << 31) : (uint)gen.NextOrRelated(a);
            uint c = uniform ? (uint)r.Next() ^ ((uint)r.Next(2) << 31) : (uint)gen.Cancelling(a, b);
            float x = BitConverter.UInt32BitsToSingle(a), y = BitConverter.UInt32BitsToSingle(b), z = BitConverter.UInt32BitsToSingle(c);
            FpFlags fl = FpFlags.None;
            Check32(bad, "F32Add", a, b, x + y, SoftFloat.F32Add(a, b, Rne, ref fl));
            Check32(bad, "F32Sub", a, b, x - y, SoftFloat.F32Sub(a, b, Rne, ref fl));
            Check32(bad, "F32Mul", a, b, x * y, SoftFloat.F32Mul(a, b, Rne, ref fl));
            Check32(bad, "F32Div", a, b, x / y, SoftFloat.F32Div(a, b, Rne, ref fl));
            Check32(bad, "F32Sqrt", a, 0, MathF.Sqrt(x), SoftFloat.F32Sqrt(a, Rne, ref fl));
            Check32(bad, "F32MulAdd", a, b, MathF.FusedMultiplyAdd(x, y, z), SoftFloat.F32MulAdd(a, b, c, Rne, ref fl));
            double w = x;
            bad.Check($"F32ToF64({a:x})", double.IsNaN(w) ? SoftFloat.F64CanonicalNaN : BitConverter.DoubleToUInt64Bits(w), FpFlags.None,
                SoftFloat.F32ToF64(a, ref fl), FpFlags.None);
            int v = (int)a >> r.Next(32);
            Check32(bad, "I32ToF32", (uint)v, 0, v, SoftFloat.I32ToF32(v, Rne, ref fl));
        }
        bad.AssertNone();
    }
}
