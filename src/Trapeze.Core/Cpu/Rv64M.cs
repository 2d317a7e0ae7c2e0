using System.Runtime.CompilerServices;
using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>RV64M multiply and divide (Unpriv. spec chapter 7). Division by zero and overflow follow
/// Table 7.1: no traps, fixed results. The value functions are shared by the interpreter and the
/// translator, so both tiers compute the same thing.</summary>
public static unsafe class Rv64M
{
    private const MethodImplOptions Inline = MethodImplOptions.AggressiveInlining;

    [MethodImpl(Inline)] public static ulong MulhValue(ulong a, ulong b) => (ulong)Math.BigMul((long)a, (long)b, out _);
    [MethodImpl(Inline)] public static ulong MulhuValue(ulong a, ulong b) => Math.BigMul(a, b, out _);

    [MethodImpl(Inline)]
    public static ulong MulhsuValue(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out _);
        // Treating a negative a as unsigned adds 2^64*b to the product; take it back out of the high half.
        return (long)a < 0 ? hi - b : hi;
    }

    [MethodImpl(Inline)]
    public static ulong DivValue(ulong x, ulong y)
    {
        long a = (long)x, b = (long)y;
        return b == 0 ? ulong.MaxValue : (a == long.MinValue && b == -1) ? (ulong)a : (ulong)(a / b);
    }

    [MethodImpl(Inline)] public static ulong DivuValue(ulong a, ulong b) => b == 0 ? ulong.MaxValue : a / b;

    [MethodImpl(Inline)]
    public static ulong RemValue(ulong x, ulong y)
    {
        long a = (long)x, b = (long)y;
        return b == 0 ? (ulong)a : (a == long.MinValue && b == -1) ? 0 : (ulong)(a % b);
    }

    [MethodImpl(Inline)] public static ulong RemuValue(ulong a, ulong b) => b == 0 ? a : a % b;

    [MethodImpl(Inline)]
    public static ulong DivwValue(ulong x, ulong y)
    {
        int a = (int)x, b = (int)y;
        return (ulong)(long)(b == 0 ? -1 : (a == int.MinValue && b == -1) ? a : a / b);
    }

    [MethodImpl(Inline)]
    public static ulong DivuwValue(ulong x, ulong y)
    {
        uint a = (uint)x, b = (uint)y;
        return (ulong)(long)(int)(b == 0 ? uint.MaxValue : a / b);
    }

    [MethodImpl(Inline)]
    public static ulong RemwValue(ulong x, ulong y)
    {
        int a = (int)x, b = (int)y;
        return (ulong)(long)(b == 0 ? a : (a == int.MinValue && b == -1) ? 0 : a % b);
    }

    [MethodImpl(Inline)]
    public static ulong RemuwValue(ulong x, ulong y)
    {
        uint a = (uint)x, b = (uint)y;
        return (ulong)(long)(int)(b == 0 ? a : a % b);
    }

    [MethodImpl(Inline)] public static void Mul(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] * s->X[d.Rs2];
    [MethodImpl(Inline)] public static void Mulh(HartState* s, in DecodedInsn d) => s->X[d.Rd] = MulhValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Mulhu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = MulhuValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Mulhsu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = MulhsuValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Div(HartState* s, in DecodedInsn d) => s->X[d.Rd] = DivValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Divu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = DivuValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Rem(HartState* s, in DecodedInsn d) => s->X[d.Rd] = RemValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Remu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = RemuValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Mulw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)(long)((int)s->X[d.Rs1] * (int)s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Divw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = DivwValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Divuw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = DivuwValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Remw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = RemwValue(s->X[d.Rs1], s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Remuw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = RemuwValue(s->X[d.Rs1], s->X[d.Rs2]);
}
