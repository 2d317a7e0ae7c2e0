using Trapeze.Core.Cpu;

namespace Trapeze.Core.Tests;

/// <summary>Hand-written cases for the well-known corners of RISC-V floating point (Unpriv. spec chapters F and D).</summary>
public sealed class SoftFloatTests
{
    private const FpFlags NV = FpFlags.Invalid, DZ = FpFlags.DivByZero, OF = FpFlags.Overflow, UF = FpFlags.Underflow, NX = FpFlags.Inexact;
    private const RoundingMode Rne = RoundingMode.Rne, Rtz = RoundingMode.Rtz, Rdn = RoundingMode.Rdn, Rup = RoundingMode.Rup, Rmm = RoundingMode.Rmm;

    private const ulong DQNaN = 0x7ff8000000000000, DQNaNPayload = 0xfff8000000000123, DSNaN = 0x7ff0000000000001, DNegSNaN = 0xfff4000000000000;
    private const ulong DPosInf = 0x7ff0000000000000, DNegInf = 0xfff0000000000000, DPosZero = 0, DNegZero = 0x8000000000000000;
    private const ulong DOne = 0x3ff0000000000000, DTwo = 0x4000000000000000, DMinusOne = 0xbff0000000000000;
    private const ulong DMax = 0x7fefffffffffffff, DMinNormal = 0x0010000000000000, DMaxSub = 0x000fffffffffffff, DMinSub = 1;
    private const uint SQNaN = 0x7fc00000, SQNaNPayload = 0xffc00123, SSNaN = 0x7f800001, SNegSNaN = 0xffa00000;
    private const uint SPosInf = 0x7f800000, SNegInf = 0xff800000, SPosZero = 0, SNegZero = 0x80000000;
    private const uint SOne = 0x3f800000, SMinusOne = 0xbf800000, SMax = 0x7f7fffff, SMinNormal = 0x00800000, SMaxSub = 0x007fffff, SMinSub = 1;

    private static ulong Bits(double v) => BitConverter.DoubleToUInt64Bits(v);
    private static uint Bits(float v) => BitConverter.SingleToUInt32Bits(v);

    private delegate T Op<T>(ref FpFlags flags);

    private static void Expect<T>(T expected, FpFlags expectedFlags, Op<T> op)
    {
        FpFlags flags = FpFlags.None;
        T actual = op(ref flags);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedFlags, flags);
    }

    // ---- fmin / fmax (2019 semantics) ----

    [Theory]
    [InlineData(DQNaN, DOne, DOne, DOne, FpFlags.None)]
    [InlineData(DOne, DQNaNPayload, DOne, DOne, FpFlags.None)]
    [InlineData(DSNaN, DOne, DOne, DOne, FpFlags.Invalid)]
    [InlineData(DMinusOne, DNegSNaN, DMinusOne, DMinusOne, FpFlags.Invalid)]
    [InlineData(DQNaN, DQNaNPayload, DQNaN, DQNaN, FpFlags.None)]
    [InlineData(DSNaN, DQNaN, DQNaN, DQNaN, FpFlags.Invalid)]
    [InlineData(DNegZero, DPosZero, DNegZero, DPosZero, FpFlags.None)]
    [InlineData(DPosZero, DNegZero, DNegZero, DPosZero, FpFlags.None)]
    [InlineData(DNegInf, DMax, DNegInf, DMax, FpFlags.None)]
    [InlineData(DMinusOne, DTwo, DMinusOne, DTwo, FpFlags.None)]
    [InlineData(DMinSub, DNegZero, DNegZero, DMinSub, FpFlags.None)]
    public void F64MinMax(ulong a, ulong b, ulong min, ulong max, FpFlags flags)
    {
        Expect(min, flags, (ref FpFlags f) => SoftFloat.F64Min(a, b, ref f));
        Expect(max, flags, (ref FpFlags f) => SoftFloat.F64Max(a, b, ref f));
    }

    [Theory]
    [InlineData(SQNaN, SOne, SOne, SOne, FpFlags.None)]
    [InlineData(SOne, SQNaNPayload, SOne, SOne, FpFlags.None)]
    [InlineData(SSNaN, SOne, SOne, SOne, FpFlags.Invalid)]
    [InlineData(SMinusOne, SNegSNaN, SMinusOne, SMinusOne, FpFlags.Invalid)]
    [InlineData(SQNaNPayload, SQNaNPayload, SQNaN, SQNaN, FpFlags.None)]
    [InlineData(SQNaN, SSNaN, SQNaN, SQNaN, FpFlags.Invalid)]
    [InlineData(SNegZero, SPosZero, SNegZero, SPosZero, FpFlags.None)]
    [InlineData(SPosZero, SNegZero, SNegZero, SPosZero, FpFlags.None)]
    [InlineData(SNegInf, SPosInf, SNegInf, SPosInf, FpFlags.None)]
    public void F32MinMax(uint a, uint b, uint min, uint max, FpFlags flags)
    {
        Expect(min, flags, (ref FpFlags f) => SoftFloat.F32Min(a, b, ref f));
        Expect(max, flags, (ref FpFlags f) => SoftFloat.F32Max(a, b, ref f));
    }

    // ---- comparisons ----

    [Fact]
    public void ComparisonsSignalOnlyAsSpecified()
    {
        // feq is quiet: NV only for a signalling NaN; flt/fle signal for any NaN.
        Expect(false, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Eq(DQNaN, DOne, ref f));
        Expect(false, NV, (ref FpFlags f) => SoftFloat.F64Eq(DOne, DSNaN, ref f));
        Expect(false, NV, (ref FpFlags f) => SoftFloat.F64Lt(DQNaN, DOne, ref f));
        Expect(false, NV, (ref FpFlags f) => SoftFloat.F64Le(DOne, DQNaN, ref f));
        Expect(true, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Eq(DNegZero, DPosZero, ref f));
        Expect(false, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Lt(DNegZero, DPosZero, ref f));
        Expect(true, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Le(DPosZero, DNegZero, ref f));
        Expect(true, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Lt(DNegInf, DMinusOne, ref f));
        Expect(false, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Eq(SQNaN, SQNaN, ref f));
        Expect(false, NV, (ref FpFlags f) => SoftFloat.F32Eq(SSNaN, SOne, ref f));
        Expect(false, NV, (ref FpFlags f) => SoftFloat.F32Lt(SOne, SQNaN, ref f));
        Expect(true, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Le(SMinusOne, SNegZero, ref f));
        Expect(true, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Lt(SMinusOne, SMinSub, ref f));
    }

    // ---- fclass ----

    [Theory]
    [InlineData(DNegInf, 0)]
    [InlineData(DMinusOne, 1)]
    [InlineData(DNegZero | DMaxSub, 2)]
    [InlineData(DNegZero, 3)]
    [InlineData(DPosZero, 4)]
    [InlineData(DMinSub, 5)]
    [InlineData(DMinNormal, 6)]
    [InlineData(DPosInf, 7)]
    [InlineData(DSNaN, 8)]
    [InlineData(DNegSNaN, 8)]
    [InlineData(DQNaN, 9)]
    [InlineData(DQNaNPayload, 9)]
    public void F64Class(ulong a, int bit) => Assert.Equal(1UL << bit, SoftFloat.F64Class(a));

    [Theory]
    [InlineData(SNegInf, 0)]
    [InlineData(SMinusOne, 1)]
    [InlineData(SNegZero | SMaxSub, 2)]
    [InlineData(SNegZero, 3)]
    [InlineData(SPosZero, 4)]
    [InlineData(SMinSub, 5)]
    [InlineData(SMax, 6)]
    [InlineData(SPosInf, 7)]
    [InlineData(SSNaN, 8)]
    [InlineData(SQNaN, 9)]
    [InlineData(SQNaNPayload, 9)]
    public void F32Class(uint a, int bit) => Assert.Equal(1UL << bit, SoftFloat.F32Class(a));

    // ---- fcvt to integers: the saturation table ----

    [Fact]
    public void F64ToIntegerSaturation()
    {
        foreach (ulong nan in new[] { DQNaN, DQNaNPayload, DSNaN, DNegSNaN })
        {
            Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI32(nan, Rne, ref f));
            Expect(uint.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToU32(nan, Rne, ref f));
            Expect(long.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI64(nan, Rne, ref f));
            Expect(ulong.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToU64(nan, Rne, ref f));
        }
        Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI32(DPosInf, Rtz, ref f));
        Expect(int.MinValue, NV, (ref FpFlags f) => SoftFloat.F64ToI32(DNegInf, Rtz, ref f));
        Expect(uint.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToU32(DPosInf, Rtz, ref f));
        Expect(0u, NV, (ref FpFlags f) => SoftFloat.F64ToU32(DNegInf, Rtz, ref f));
        Expect(long.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI64(DPosInf, Rtz, ref f));
        Expect(long.MinValue, NV, (ref FpFlags f) => SoftFloat.F64ToI64(DNegInf, Rtz, ref f));
        Expect(ulong.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToU64(DPosInf, Rtz, ref f));
        Expect(0UL, NV, (ref FpFlags f) => SoftFloat.F64ToU64(DNegInf, Rtz, ref f));

        // just out of range
        Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(2147483648.0), Rtz, ref f));
        Expect(int.MinValue, NV, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(-2147483649.0), Rtz, ref f));
        Expect(uint.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToU32(Bits(4294967296.0), Rtz, ref f));
        Expect(long.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI64(Bits(9223372036854775808.0), Rtz, ref f));
        Expect(ulong.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToU64(Bits(18446744073709551616.0), Rtz, ref f));
        Expect(0UL, NV, (ref FpFlags f) => SoftFloat.F64ToU64(DMinusOne, Rtz, ref f));
        Expect(0u, NV, (ref FpFlags f) => SoftFloat.F64ToU32(DMinusOne, Rtz, ref f));

        // in range at the limits
        Expect(int.MinValue, FpFlags.None, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(-2147483648.0), Rtz, ref f));
        Expect(int.MinValue, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(-2147483648.9), Rtz, ref f));
        Expect(int.MaxValue, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(2147483647.5), Rtz, ref f));
        Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(2147483647.5), Rne, ref f)); // rounds to 2^31
        Expect(long.MinValue, FpFlags.None, (ref FpFlags f) => SoftFloat.F64ToI64(Bits(-9223372036854775808.0), Rtz, ref f));
        Expect(0xFFFFFFFFFFFFF800UL, FpFlags.None, (ref FpFlags f) => SoftFloat.F64ToU64(Bits(18446744073709549568.0), Rtz, ref f));

        // negative values that round to zero are valid for the unsigned conversions; to -1 they are not
        Expect(0u, NX, (ref FpFlags f) => SoftFloat.F64ToU32(Bits(-0.3), Rtz, ref f));
        Expect(0u, NX, (ref FpFlags f) => SoftFloat.F64ToU32(Bits(-0.5), Rne, ref f));
        Expect(0u, NV, (ref FpFlags f) => SoftFloat.F64ToU32(Bits(-0.7), Rne, ref f));
        Expect(0u, NV, (ref FpFlags f) => SoftFloat.F64ToU32(Bits(-0.3), Rdn, ref f));
        Expect(0u, NX, (ref FpFlags f) => SoftFloat.F64ToU32(Bits(-0.9), Rup, ref f));
        Expect(0UL, FpFlags.None, (ref FpFlags f) => SoftFloat.F64ToU64(DNegZero, Rdn, ref f));

        // rounding modes on halves
        Expect(2, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(2.5), Rne, ref f));
        Expect(3, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(2.5), Rmm, ref f));
        Expect(-3, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(-2.5), Rmm, ref f));
        Expect(-3, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(-2.5), Rdn, ref f));
        Expect(-2, NX, (ref FpFlags f) => SoftFloat.F64ToI32(Bits(-2.5), Rup, ref f));
        Expect(1, NX, (ref FpFlags f) => SoftFloat.F64ToI32(DMinSub, Rup, ref f));
        Expect(-1, NX, (ref FpFlags f) => SoftFloat.F64ToI32(DNegZero | DMinSub, Rdn, ref f));
    }

    [Fact]
    public void F32ToIntegerSaturation()
    {
        foreach (uint nan in new[] { SQNaN, SQNaNPayload, SSNaN, SNegSNaN })
        {
            Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToI32(nan, Rne, ref f));
            Expect(uint.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToU32(nan, Rne, ref f));
            Expect(long.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToI64(nan, Rne, ref f));
            Expect(ulong.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToU64(nan, Rne, ref f));
        }
        Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToI32(SPosInf, Rne, ref f));
        Expect(int.MinValue, NV, (ref FpFlags f) => SoftFloat.F32ToI32(SNegInf, Rne, ref f));
        Expect(uint.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToU32(SPosInf, Rne, ref f));
        Expect(0u, NV, (ref FpFlags f) => SoftFloat.F32ToU32(SNegInf, Rne, ref f));
        Expect(long.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToI64(SPosInf, Rne, ref f));
        Expect(long.MinValue, NV, (ref FpFlags f) => SoftFloat.F32ToI64(SNegInf, Rne, ref f));
        Expect(ulong.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToU64(SPosInf, Rne, ref f));
        Expect(0UL, NV, (ref FpFlags f) => SoftFloat.F32ToU64(SNegInf, Rne, ref f));

        Expect(int.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToI32(Bits(2147483648f), Rtz, ref f));
        Expect(int.MinValue, FpFlags.None, (ref FpFlags f) => SoftFloat.F32ToI32(Bits(-2147483648f), Rtz, ref f));
        Expect(int.MinValue, NV, (ref FpFlags f) => SoftFloat.F32ToI32(Bits(-2147483904f), Rtz, ref f));
        Expect(uint.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToU32(Bits(4294967296f), Rtz, ref f));
        Expect(0xFFFFFF00u, FpFlags.None, (ref FpFlags f) => SoftFloat.F32ToU32(Bits(4294967040f), Rtz, ref f));
        Expect(long.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToI64(Bits(9223372036854775808f), Rtz, ref f));
        Expect(long.MinValue, FpFlags.None, (ref FpFlags f) => SoftFloat.F32ToI64(Bits(-9223372036854775808f), Rtz, ref f));
        Expect(ulong.MaxValue, NV, (ref FpFlags f) => SoftFloat.F32ToU64(Bits(18446744073709551616f), Rtz, ref f));
        Expect(0u, NV, (ref FpFlags f) => SoftFloat.F32ToU32(SMinusOne, Rtz, ref f));
        Expect(0UL, NV, (ref FpFlags f) => SoftFloat.F32ToU64(SMinusOne, Rtz, ref f));
        Expect(0u, NX, (ref FpFlags f) => SoftFloat.F32ToU32(Bits(-0.3f), Rtz, ref f));
        Expect(0UL, NV, (ref FpFlags f) => SoftFloat.F32ToU64(Bits(-0.7f), Rmm, ref f));
        Expect(-1, NX, (ref FpFlags f) => SoftFloat.F32ToI32(Bits(-0.7f), Rne, ref f));
    }

    // ---- underflow: tininess after rounding ----

    [Fact]
    public void UnderflowIsDetectedAfterRounding()
    {
        // (1 - 2^-53) * 2^-1022 = 2^-1022 - 2^-1075: rounds to 53 bits without loss, so it is tiny; rounded to the
        // subnormal grid it is a tie that goes to 2^-1022. The result is the smallest normal number, yet UF is raised.
        Expect(DMinNormal, UF | NX, (ref FpFlags f) => SoftFloat.F64Mul(0x3fefffffffffffff, DMinNormal, Rne, ref f));
        // (1 - 2^-27)(1 + 2^-27) * 2^-1022 = 2^-1022 - 2^-1076 rounds (unbounded) to 2^-1022: not tiny, so no UF.
        ulong below = 0x3feffffffc000000, above = 0x0010000002000000;
        Expect(DMinNormal, NX, (ref FpFlags f) => SoftFloat.F64Mul(below, above, Rne, ref f));
        Expect(DMinNormal, NX, (ref FpFlags f) => SoftFloat.F64Mul(below, above, Rup, ref f));
        Expect(DMinNormal, NX, (ref FpFlags f) => SoftFloat.F64Mul(below, above, Rmm, ref f));
        Expect(DMaxSub, UF | NX, (ref FpFlags f) => SoftFloat.F64Mul(below, above, Rtz, ref f));
        Expect(DMaxSub, UF | NX, (ref FpFlags f) => SoftFloat.F64Mul(below, above, Rdn, ref f));
        // an exact subnormal result is not an underflow
        Expect(DMinSub, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Mul(DMinNormal, 0x3cb0000000000000, Rne, ref f));
        Expect(DMinSub, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Sub(DMinNormal | 1, DMinNormal, Rne, ref f));
        // rounding to zero underflows; the sign of the exact result is kept
        Expect(DNegZero, UF | NX, (ref FpFlags f) => SoftFloat.F64Mul(DNegZero | DMinSub, 0x3fe0000000000000, Rne, ref f));
        Expect(DNegZero | DMinSub, UF | NX, (ref FpFlags f) => SoftFloat.F64Mul(DNegZero | DMinSub, 0x3fe0000000000000, Rdn, ref f));

        // binary32: the same two situations, through fcvt.s.d and fmul.s
        Expect(SMinNormal, UF | NX, (ref FpFlags f) => SoftFloat.F32Mul(0x3f7fffff, SMinNormal, Rne, ref f));
        Expect(SMinNormal, UF | NX, (ref FpFlags f) => SoftFloat.F64ToF32(Bits(Math.ScaleB(1 - Math.ScaleB(1, -24), -126)), Rne, ref f));
        Expect(SMinNormal, NX, (ref FpFlags f) => SoftFloat.F64ToF32(Bits(Math.ScaleB(1 - Math.ScaleB(1, -25), -126)), Rne, ref f));
        Expect(SMaxSub, UF | NX, (ref FpFlags f) => SoftFloat.F64ToF32(Bits(Math.ScaleB(1 - Math.ScaleB(1, -25), -126)), Rtz, ref f));
        Expect(SMinSub, UF | NX, (ref FpFlags f) => SoftFloat.F32Div(SMinSub, 0x40400000, Rup, ref f)); // 2^-149 / 3
        Expect(SPosZero, UF | NX, (ref FpFlags f) => SoftFloat.F32Div(SMinSub, 0x40400000, Rne, ref f));
    }

    // ---- overflow in each rounding mode ----

    [Theory]
    [InlineData(RoundingMode.Rne, false, true)]
    [InlineData(RoundingMode.Rtz, false, false)]
    [InlineData(RoundingMode.Rdn, false, false)]
    [InlineData(RoundingMode.Rup, false, true)]
    [InlineData(RoundingMode.Rmm, false, true)]
    [InlineData(RoundingMode.Rne, true, true)]
    [InlineData(RoundingMode.Rtz, true, false)]
    [InlineData(RoundingMode.Rdn, true, true)]
    [InlineData(RoundingMode.Rup, true, false)]
    [InlineData(RoundingMode.Rmm, true, true)]
    public void OverflowGoesToInfinityOrMaxByMode(RoundingMode rm, bool negative, bool toInfinity)
    {
        ulong dSign = negative ? DNegZero : 0;
        uint sSign = negative ? SNegZero : 0;
        ulong dWant = dSign | (toInfinity ? DPosInf : DMax);
        uint sWant = sSign | (toInfinity ? SPosInf : SMax);
        Expect(dWant, OF | NX, (ref FpFlags f) => SoftFloat.F64Add(dSign | DMax, dSign | DMax, rm, ref f));
        Expect(dWant, OF | NX, (ref FpFlags f) => SoftFloat.F64Mul(dSign | DMax, DTwo, rm, ref f));
        Expect(dWant, OF | NX, (ref FpFlags f) => SoftFloat.F64Div(dSign | DMax, 0x3fe0000000000000, rm, ref f));
        Expect(dWant, OF | NX, (ref FpFlags f) => SoftFloat.F64MulAdd(dSign | DMax, DTwo, DMinusOne, rm, ref f));
        Expect(sWant, OF | NX, (ref FpFlags f) => SoftFloat.F32Add(sSign | SMax, sSign | SMax, rm, ref f));
        Expect(sWant, OF | NX, (ref FpFlags f) => SoftFloat.F32Mul(sSign | SMax, 0x40000000, rm, ref f));
        Expect(sWant, OF | NX, (ref FpFlags f) => SoftFloat.F64ToF32(dSign | 0x47f0000000000000, rm, ref f)); // 2^128
        Expect(sWant, OF | NX, (ref FpFlags f) => SoftFloat.F32MulAdd(sSign | SMax, 0x40000000, SOne, rm, ref f));
    }

    [Fact]
    public void OverflowThresholdIsDecidedAfterRounding()
    {
        // MAX + half an ulp is a tie; MAX is odd so RNE rounds up and overflows. A quarter ulp stays at MAX.
        ulong halfUlp = 0x7c90000000000000, quarterUlp = 0x7c80000000000000;
        Expect(DPosInf, OF | NX, (ref FpFlags f) => SoftFloat.F64Add(DMax, halfUlp, Rne, ref f));
        Expect(DMax, NX, (ref FpFlags f) => SoftFloat.F64Add(DMax, quarterUlp, Rne, ref f));
        Expect(DPosInf, OF | NX, (ref FpFlags f) => SoftFloat.F64Add(DMax, quarterUlp, Rup, ref f));
        Expect(DMax, NX, (ref FpFlags f) => SoftFloat.F64Add(DMax, quarterUlp, Rmm, ref f));
        Expect(DPosInf, OF | NX, (ref FpFlags f) => SoftFloat.F64Add(DMax, halfUlp, Rmm, ref f));
        Expect(DMax, NX, (ref FpFlags f) => SoftFloat.F64Add(DMax, halfUlp, Rtz, ref f));
    }

    // ---- signs of exact zero results ----

    [Theory]
    [InlineData(RoundingMode.Rne, DPosZero)]
    [InlineData(RoundingMode.Rtz, DPosZero)]
    [InlineData(RoundingMode.Rdn, DNegZero)]
    [InlineData(RoundingMode.Rup, DPosZero)]
    [InlineData(RoundingMode.Rmm, DPosZero)]
    public void ExactZeroSumIsNegativeOnlyInRdn(RoundingMode rm, ulong zero)
    {
        uint zero32 = (uint)(zero >> 32);
        ulong x = 0x4008000000000000; // 3.0
        Expect(zero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Add(x, x ^ DNegZero, rm, ref f));
        Expect(zero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Sub(x, x, rm, ref f));
        Expect(zero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Add(DPosZero, DNegZero, rm, ref f));
        Expect(DNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Add(DNegZero, DNegZero, rm, ref f));
        Expect(DPosZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Add(DPosZero, DPosZero, rm, ref f));
        Expect(zero32, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Sub(0x40400000, 0x40400000, rm, ref f));
        Expect(zero32, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Add(SNegZero, SPosZero, rm, ref f));
        Expect(SNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Sub(SNegZero, SPosZero, rm, ref f));

        // fused multiply-add: 2*3 - 6 cancels exactly. fmsub = fmadd with c negated, fnmadd with a and c negated,
        // fnmsub with a negated (Berkeley SoftFloat's RISC-V convention).
        ulong six = 0x4018000000000000;
        Expect(zero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DTwo, x, six ^ DNegZero, rm, ref f));
        Expect(zero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DTwo ^ DNegZero, x, six, rm, ref f));
        Expect(zero32, FpFlags.None, (ref FpFlags f) => SoftFloat.F32MulAdd(0x40000000, 0x40400000, 0xc0c00000, rm, ref f));
        // zero products: +0 + -0 follows the same rule, -0 + -0 is -0 (fnmadd of +0 * 1 + +0)
        Expect(zero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DPosZero, DOne, DNegZero, rm, ref f));
        Expect(DNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DNegZero, DOne, DNegZero, rm, ref f));
        Expect(SNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F32MulAdd(SNegZero, SOne, SNegZero, rm, ref f));
        // a nonzero product plus a zero keeps the product, even when the product is tiny and rounds to zero
        Expect(DNegZero | DMinSub, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DNegZero | DMinSub, DOne, DPosZero, rm, ref f));
    }

    // ---- invalid operations and NaN results ----

    [Fact]
    public void FusedMultiplyAddInfinityTimesZeroIsInvalidEvenWithQuietNaNAddend()
    {
        // Unpriv. spec, F chapter: "The fused multiply-add instructions must set the invalid operation exception
        // flag when the multiplicands are inf and zero, even when the addend is a quiet NaN."
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64MulAdd(DPosInf, DPosZero, DQNaN, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64MulAdd(DNegZero, DNegInf, DQNaNPayload, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64MulAdd(DPosInf, DPosZero, DOne, Rne, ref f));
        Expect(DQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DQNaN, DPosZero, DOne, Rne, ref f));
        Expect(DQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DPosInf, DOne, DQNaN, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64MulAdd(DOne, DOne, DSNaN, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64MulAdd(DPosInf, DOne, DNegInf, Rne, ref f));
        Expect(DPosInf, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DPosInf, DTwo, DPosInf, Rne, ref f));
        Expect(DNegInf, FpFlags.None, (ref FpFlags f) => SoftFloat.F64MulAdd(DMax, DTwo, DNegInf, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32MulAdd(SPosZero, SNegInf, SQNaN, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32MulAdd(SPosInf, SPosZero, SOne, Rne, ref f));
        Expect(SQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F32MulAdd(SOne, SQNaNPayload, SOne, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32MulAdd(SOne, SOne, SNegSNaN, Rne, ref f));
    }

    [Fact]
    public void InvalidOperationsAndDivisionByZero()
    {
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Add(DPosInf, DNegInf, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Sub(DPosInf, DPosInf, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Mul(DPosInf, DNegZero, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Div(DPosZero, DNegZero, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Div(DNegInf, DPosInf, Rne, ref f));
        Expect(DNegInf, DZ, (ref FpFlags f) => SoftFloat.F64Div(DOne, DNegZero, Rne, ref f));
        Expect(DNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Div(DOne, DNegInf, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Sqrt(DMinusOne, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Sqrt(DNegInf, Rne, ref f));
        Expect(DNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Sqrt(DNegZero, Rne, ref f));
        Expect(DPosInf, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Sqrt(DPosInf, Rne, ref f));
        Expect(DQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Sqrt(DQNaNPayload, Rne, ref f));
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F64Add(DSNaN, DOne, Rne, ref f));
        Expect(DQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F64Mul(DQNaNPayload, DPosInf, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32Add(SPosInf, SNegInf, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32Mul(SNegZero, SPosInf, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32Div(SNegInf, SNegInf, Rne, ref f));
        Expect(SPosInf, DZ, (ref FpFlags f) => SoftFloat.F32Div(SMinusOne, SNegZero, Rne, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F32Sqrt(SNegZero | SMinSub, Rne, ref f));
        Expect(SNegZero, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Sqrt(SNegZero, Rne, ref f));
        Expect(SQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F32Sub(SQNaNPayload, SOne, Rne, ref f));
    }

    [Fact]
    public void ConversionsBetweenFormats()
    {
        Expect(DQNaN, NV, (ref FpFlags f) => SoftFloat.F32ToF64(SSNaN, ref f));
        Expect(DQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F32ToF64(SQNaNPayload, ref f));
        Expect(DNegInf, FpFlags.None, (ref FpFlags f) => SoftFloat.F32ToF64(SNegInf, ref f));
        Expect(Bits((double)BitConverter.UInt32BitsToSingle(SMinSub)), FpFlags.None, (ref FpFlags f) => SoftFloat.F32ToF64(SMinSub, ref f));
        Expect(SQNaN, NV, (ref FpFlags f) => SoftFloat.F64ToF32(DNegSNaN, Rne, ref f));
        Expect(SQNaN, FpFlags.None, (ref FpFlags f) => SoftFloat.F64ToF32(DQNaNPayload, Rne, ref f));
        Expect(SNegInf, FpFlags.None, (ref FpFlags f) => SoftFloat.F64ToF32(DNegInf, Rtz, ref f));
        Expect(SNegZero, UF | NX, (ref FpFlags f) => SoftFloat.F64ToF32(DNegZero | DMinSub, Rne, ref f));
        Expect(SNegZero | SMinSub, UF | NX, (ref FpFlags f) => SoftFloat.F64ToF32(DNegZero | DMinSub, Rdn, ref f));
        Expect(0x3eaaaaabu, NX, (ref FpFlags f) => SoftFloat.F64ToF32(Bits(1.0 / 3), Rne, ref f));
        Expect(0x3eaaaaaau, NX, (ref FpFlags f) => SoftFloat.F64ToF32(Bits(1.0 / 3), Rtz, ref f));
        Expect(0x3eaaaaabu, NX, (ref FpFlags f) => SoftFloat.F64ToF32(Bits(1.0 / 3), Rup, ref f));
    }

    [Fact]
    public void IntegerToFloatRounds()
    {
        Expect(Bits(9007199254740992.0), NX, (ref FpFlags f) => SoftFloat.I64ToF64((1L << 53) + 1, Rne, ref f));
        Expect(Bits(9007199254740994.0), NX, (ref FpFlags f) => SoftFloat.I64ToF64((1L << 53) + 1, Rup, ref f));
        Expect(Bits(9007199254740994.0), NX, (ref FpFlags f) => SoftFloat.I64ToF64((1L << 53) + 1, Rmm, ref f));
        Expect(Bits(-9007199254740994.0), NX, (ref FpFlags f) => SoftFloat.I64ToF64(-(1L << 53) - 1, Rdn, ref f));
        Expect(Bits(18446744073709551616.0), NX, (ref FpFlags f) => SoftFloat.U64ToF64(ulong.MaxValue, Rne, ref f));
        Expect(0x43efffffffffffffUL, NX, (ref FpFlags f) => SoftFloat.U64ToF64(ulong.MaxValue, Rtz, ref f));
        Expect(Bits(-9223372036854775808.0), FpFlags.None, (ref FpFlags f) => SoftFloat.I64ToF64(long.MinValue, Rne, ref f));
        Expect(Bits(16777216f), NX, (ref FpFlags f) => SoftFloat.I32ToF32(16777217, Rne, ref f));
        Expect(Bits(16777218f), NX, (ref FpFlags f) => SoftFloat.I32ToF32(16777217, Rup, ref f));
        Expect(Bits(-2147483648f), FpFlags.None, (ref FpFlags f) => SoftFloat.I32ToF32(int.MinValue, Rne, ref f));
        Expect(Bits(4294967296f), NX, (ref FpFlags f) => SoftFloat.U32ToF32(uint.MaxValue, Rne, ref f));
        Expect(Bits(4294967040f), NX, (ref FpFlags f) => SoftFloat.U32ToF32(uint.MaxValue, Rdn, ref f));
        Expect(Bits(-2147483648.0), FpFlags.None, (ref FpFlags f) => SoftFloat.I32ToF64(int.MinValue, Rtz, ref f));
        Expect(Bits(4294967295.0), FpFlags.None, (ref FpFlags f) => SoftFloat.U32ToF64(uint.MaxValue, Rtz, ref f));
        Expect(0UL, FpFlags.None, (ref FpFlags f) => SoftFloat.I64ToF64(0, Rdn, ref f)); // +0 even in RDN
    }

    [Fact]
    public void DirectedRoundingPicksTheRightNeighbour()
    {
        ulong third = Bits(1.0 / 3); // RN(1/3) lies below 1/3
        Expect(third, NX, (ref FpFlags f) => SoftFloat.F64Div(DOne, 0x4008000000000000, Rne, ref f));
        Expect(third, NX, (ref FpFlags f) => SoftFloat.F64Div(DOne, 0x4008000000000000, Rtz, ref f));
        Expect(third + 1, NX, (ref FpFlags f) => SoftFloat.F64Div(DOne, 0x4008000000000000, Rup, ref f));
        Expect(DNegZero | (third + 1), NX, (ref FpFlags f) => SoftFloat.F64Div(DMinusOne, 0x4008000000000000, Rdn, ref f));
        Expect(DNegZero | third, NX, (ref FpFlags f) => SoftFloat.F64Div(DMinusOne, 0x4008000000000000, Rup, ref f));
        // 1 + 2^-53 is a tie: RNE goes to 1 (even), RMM away from zero
        Expect(DOne, NX, (ref FpFlags f) => SoftFloat.F64Add(DOne, 0x3ca0000000000000, Rne, ref f));
        Expect(DOne + 1, NX, (ref FpFlags f) => SoftFloat.F64Add(DOne, 0x3ca0000000000000, Rmm, ref f));
        Expect(DMinusOne + 1, NX, (ref FpFlags f) => SoftFloat.F64Sub(DMinusOne, 0x3ca0000000000000, Rmm, ref f));
        Expect(DOne + 1, NX, (ref FpFlags f) => SoftFloat.F64Add(DOne, DMinSub, Rup, ref f));
        Expect(DOne, NX, (ref FpFlags f) => SoftFloat.F64Add(DOne, DMinSub, Rdn, ref f));
        Expect(0x3fefffffffffffffUL, NX, (ref FpFlags f) => SoftFloat.F64Sub(DOne, DMinSub, Rtz, ref f));
        // sqrt(2)
        Expect(0x3ff6a09e667f3bcdUL, NX, (ref FpFlags f) => SoftFloat.F64Sqrt(DTwo, Rne, ref f));
        Expect(0x3ff6a09e667f3bccUL, NX, (ref FpFlags f) => SoftFloat.F64Sqrt(DTwo, Rtz, ref f));
        Expect(0x3fb504f3u, NX, (ref FpFlags f) => SoftFloat.F32Sqrt(0x40000000, Rne, ref f));
        Expect(0x3fb504f4u, NX, (ref FpFlags f) => SoftFloat.F32Sqrt(0x40000000, Rup, ref f));
        Expect(0x3fb504f3u, NX, (ref FpFlags f) => SoftFloat.F32Sqrt(0x40000000, Rdn, ref f));
    }

    [Fact]
    public void FlagsAccumulateAndAreNeverCleared()
    {
        FpFlags flags = FpFlags.Invalid | FpFlags.Underflow;
        Assert.Equal(DTwo, SoftFloat.F64Add(DOne, DOne, Rne, ref flags));
        Assert.Equal(FpFlags.Invalid | FpFlags.Underflow, flags);
        SoftFloat.F64Div(DOne, 0x4008000000000000, Rne, ref flags);
        Assert.Equal(FpFlags.Invalid | FpFlags.Underflow | FpFlags.Inexact, flags);
        SoftFloat.F32Div(SOne, SPosZero, Rne, ref flags);
        Assert.Equal(FpFlags.Invalid | FpFlags.Underflow | FpFlags.Inexact | FpFlags.DivByZero, flags);
    }
}
