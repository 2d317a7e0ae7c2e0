using System.Runtime.CompilerServices;
using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>RV64M multiply and divide (Unpriv. spec chapter 7). Division by zero and overflow follow
/// Table 7.1: no traps, fixed results.</summary>
public static unsafe class Rv64M
{
    private const MethodImplOptions Inline = MethodImplOptions.AggressiveInlining;

    [MethodImpl(Inline)] public static void Mul(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] * s->X[d.Rs2];
    [MethodImpl(Inline)] public static void Mulh(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)Math.BigMul((long)s->X[d.Rs1], (long)s->X[d.Rs2], out _);
    [MethodImpl(Inline)] public static void Mulhu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = Math.BigMul(s->X[d.Rs1], s->X[d.Rs2], out _);

    [MethodImpl(Inline)]
    public static void Mulhsu(HartState* s, in DecodedInsn d)
    {
        long a = (long)s->X[d.Rs1];
        ulong b = s->X[d.Rs2];
        ulong hi = Math.BigMul((ulong)a, b, out _);
        // Treating a negative a as unsigned adds 2^64*b to the product; take it back out of the high half.
        if (a < 0) hi -= b;
        s->X[d.Rd] = hi;
    }

    [MethodImpl(Inline)]
    public static void Div(HartState* s, in DecodedInsn d)
    {
        long a = (long)s->X[d.Rs1], b = (long)s->X[d.Rs2];
        s->X[d.Rd] = b == 0 ? ulong.MaxValue : (a == long.MinValue && b == -1) ? (ulong)a : (ulong)(a / b);
    }

    [MethodImpl(Inline)]
    public static void Divu(HartState* s, in DecodedInsn d)
    {
        ulong a = s->X[d.Rs1], b = s->X[d.Rs2];
        s->X[d.Rd] = b == 0 ? ulong.MaxValue : a / b;
    }

    [MethodImpl(Inline)]
    public static void Rem(HartState* s, in DecodedInsn d)
    {
        long a = (long)s->X[d.Rs1], b = (long)s->X[d.Rs2];
        s->X[d.Rd] = b == 0 ? (ulong)a : (a == long.MinValue && b == -1) ? 0 : (ulong)(a % b);
    }

    [MethodImpl(Inline)]
    public static void Remu(HartState* s, in DecodedInsn d)
    {
        ulong a = s->X[d.Rs1], b = s->X[d.Rs2];
        s->X[d.Rd] = b == 0 ? a : a % b;
    }

    [MethodImpl(Inline)] public static void Mulw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)(long)((int)s->X[d.Rs1] * (int)s->X[d.Rs2]);

    [MethodImpl(Inline)]
    public static void Divw(HartState* s, in DecodedInsn d)
    {
        int a = (int)s->X[d.Rs1], b = (int)s->X[d.Rs2];
        int r = b == 0 ? -1 : (a == int.MinValue && b == -1) ? a : a / b;
        s->X[d.Rd] = (ulong)(long)r;
    }

    [MethodImpl(Inline)]
    public static void Divuw(HartState* s, in DecodedInsn d)
    {
        uint a = (uint)s->X[d.Rs1], b = (uint)s->X[d.Rs2];
        s->X[d.Rd] = (ulong)(long)(int)(b == 0 ? uint.MaxValue : a / b);
    }

    [MethodImpl(Inline)]
    public static void Remw(HartState* s, in DecodedInsn d)
    {
        int a = (int)s->X[d.Rs1], b = (int)s->X[d.Rs2];
        int r = b == 0 ? a : (a == int.MinValue && b == -1) ? 0 : a % b;
        s->X[d.Rd] = (ulong)(long)r;
    }

    [MethodImpl(Inline)]
    public static void Remuw(HartState* s, in DecodedInsn d)
    {
        uint a = (uint)s->X[d.Rs1], b = (uint)s->X[d.Rs2];
        s->X[d.Rd] = (ulong)(long)(int)(b == 0 ? a : a % b);
    }
}
