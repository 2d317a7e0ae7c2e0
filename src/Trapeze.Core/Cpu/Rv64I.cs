using System.Runtime.CompilerServices;
using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>RV64I base integer instructions (Unpriv. spec chapters 2 and 4). Handlers are named after
/// mnemonics; loads and stores return false when they raised an exception (recorded in the hart state).</summary>
public static unsafe class Rv64I
{
    private const MethodImplOptions Inline = MethodImplOptions.AggressiveInlining;

    [MethodImpl(Inline)] public static void Lui(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)d.Imm;
    [MethodImpl(Inline)] public static void Auipc(HartState* s, in DecodedInsn d, ulong pc) => s->X[d.Rd] = pc + (ulong)d.Imm;

    /// <summary>Returns the jump target; writes the link register.</summary>
    [MethodImpl(Inline)]
    public static ulong Jal(HartState* s, in DecodedInsn d, ulong pc)
    {
        s->X[d.Rd] = pc + d.Length;
        return pc + (ulong)d.Imm;
    }

    [MethodImpl(Inline)]
    public static ulong Jalr(HartState* s, in DecodedInsn d, ulong pc)
    {
        ulong target = (s->X[d.Rs1] + (ulong)d.Imm) & ~1UL; // read rs1 before writing rd (rd may equal rs1)
        s->X[d.Rd] = pc + d.Length;
        return target;
    }

    [MethodImpl(Inline)] public static bool Beq(HartState* s, in DecodedInsn d) => s->X[d.Rs1] == s->X[d.Rs2];
    [MethodImpl(Inline)] public static bool Bne(HartState* s, in DecodedInsn d) => s->X[d.Rs1] != s->X[d.Rs2];
    [MethodImpl(Inline)] public static bool Blt(HartState* s, in DecodedInsn d) => (long)s->X[d.Rs1] < (long)s->X[d.Rs2];
    [MethodImpl(Inline)] public static bool Bge(HartState* s, in DecodedInsn d) => (long)s->X[d.Rs1] >= (long)s->X[d.Rs2];
    [MethodImpl(Inline)] public static bool Bltu(HartState* s, in DecodedInsn d) => s->X[d.Rs1] < s->X[d.Rs2];
    [MethodImpl(Inline)] public static bool Bgeu(HartState* s, in DecodedInsn d) => s->X[d.Rs1] >= s->X[d.Rs2];

    [MethodImpl(Inline)] private static ulong Ea(HartState* s, in DecodedInsn d) => s->X[d.Rs1] + (ulong)d.Imm;

    [MethodImpl(Inline)]
    public static bool Lb(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load8(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = (ulong)(sbyte)v; return true;
    }

    [MethodImpl(Inline)]
    public static bool Lh(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load16(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = (ulong)(short)v; return true;
    }

    [MethodImpl(Inline)]
    public static bool Lw(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load32(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = (ulong)(int)v; return true;
    }

    [MethodImpl(Inline)]
    public static bool Ld(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load64(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = v; return true;
    }

    [MethodImpl(Inline)]
    public static bool Lbu(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load8(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = (byte)v; return true;
    }

    [MethodImpl(Inline)]
    public static bool Lhu(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load16(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = (ushort)v; return true;
    }

    [MethodImpl(Inline)]
    public static bool Lwu(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!h.Mmu.Load32(Ea(s, d), out ulong v)) return false;
        s->X[d.Rd] = (uint)v; return true;
    }

    [MethodImpl(Inline)] public static bool Sb(Hart h, HartState* s, in DecodedInsn d) => h.Mmu.Store8(Ea(s, d), s->X[d.Rs2]);
    [MethodImpl(Inline)] public static bool Sh(Hart h, HartState* s, in DecodedInsn d) => h.Mmu.Store16(Ea(s, d), s->X[d.Rs2]);
    [MethodImpl(Inline)] public static bool Sw(Hart h, HartState* s, in DecodedInsn d) => h.Mmu.Store32(Ea(s, d), s->X[d.Rs2]);
    [MethodImpl(Inline)] public static bool Sd(Hart h, HartState* s, in DecodedInsn d) => h.Mmu.Store64(Ea(s, d), s->X[d.Rs2]);

    [MethodImpl(Inline)] public static void Addi(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] + (ulong)d.Imm;
    [MethodImpl(Inline)] public static void Slti(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (long)s->X[d.Rs1] < d.Imm ? 1UL : 0;
    [MethodImpl(Inline)] public static void Sltiu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] < (ulong)d.Imm ? 1UL : 0;
    [MethodImpl(Inline)] public static void Xori(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] ^ (ulong)d.Imm;
    [MethodImpl(Inline)] public static void Ori(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] | (ulong)d.Imm;
    [MethodImpl(Inline)] public static void Andi(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] & (ulong)d.Imm;
    [MethodImpl(Inline)] public static void Slli(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] << (int)d.Imm;
    [MethodImpl(Inline)] public static void Srli(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] >> (int)d.Imm;
    [MethodImpl(Inline)] public static void Srai(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)((long)s->X[d.Rs1] >> (int)d.Imm);

    [MethodImpl(Inline)] public static void Add(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] + s->X[d.Rs2];
    [MethodImpl(Inline)] public static void Sub(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] - s->X[d.Rs2];
    [MethodImpl(Inline)] public static void Sll(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] << (int)(s->X[d.Rs2] & 63);
    [MethodImpl(Inline)] public static void Slt(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (long)s->X[d.Rs1] < (long)s->X[d.Rs2] ? 1UL : 0;
    [MethodImpl(Inline)] public static void Sltu(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] < s->X[d.Rs2] ? 1UL : 0;
    [MethodImpl(Inline)] public static void Xor(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] ^ s->X[d.Rs2];
    [MethodImpl(Inline)] public static void Srl(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] >> (int)(s->X[d.Rs2] & 63);
    [MethodImpl(Inline)] public static void Sra(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)((long)s->X[d.Rs1] >> (int)(s->X[d.Rs2] & 63));
    [MethodImpl(Inline)] public static void Or(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] | s->X[d.Rs2];
    [MethodImpl(Inline)] public static void And(HartState* s, in DecodedInsn d) => s->X[d.Rd] = s->X[d.Rs1] & s->X[d.Rs2];

    [MethodImpl(Inline)] private static ulong SextW(ulong v) => (ulong)(long)(int)v;
    [MethodImpl(Inline)] public static void Addiw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW(s->X[d.Rs1] + (ulong)d.Imm);
    [MethodImpl(Inline)] public static void Slliw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW(s->X[d.Rs1] << (int)d.Imm);
    [MethodImpl(Inline)] public static void Srliw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW((uint)s->X[d.Rs1] >> (int)d.Imm);
    [MethodImpl(Inline)] public static void Sraiw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)(long)((int)s->X[d.Rs1] >> (int)d.Imm);
    [MethodImpl(Inline)] public static void Addw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW(s->X[d.Rs1] + s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Subw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW(s->X[d.Rs1] - s->X[d.Rs2]);
    [MethodImpl(Inline)] public static void Sllw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW((uint)s->X[d.Rs1] << (int)(s->X[d.Rs2] & 31));
    [MethodImpl(Inline)] public static void Srlw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = SextW((uint)s->X[d.Rs1] >> (int)(s->X[d.Rs2] & 31));
    [MethodImpl(Inline)] public static void Sraw(HartState* s, in DecodedInsn d) => s->X[d.Rd] = (ulong)(long)((int)s->X[d.Rs1] >> (int)(s->X[d.Rs2] & 31));

    /// <summary>FENCE: the host is x86-64 (TSO), which keeps every order RVWMO asks for except a store
    /// followed by a load; only a fence ordering W before R needs a full host barrier.</summary>
    [MethodImpl(Inline)]
    public static void Fence(in DecodedInsn d)
    {
        long pred = (d.Imm >> 4) & 0xf, succ = d.Imm & 0xf;
        if ((pred & 1) != 0 && (succ & 2) != 0) Interlocked.MemoryBarrier();
    }
}
