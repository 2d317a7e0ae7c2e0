using Trapeze.Core.Isa;
using static Trapeze.Core.Cpu.FpHelpers;

namespace Trapeze.Core.Cpu;

/// <summary>RV64D double-precision instructions (Unpriv. spec chapter 12), exact through <see cref="SoftFloat"/>.</summary>
public static unsafe class Rv64D
{
    public static bool Execute(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!Enabled(s)) return Illegal(s, d.Raw);
        FpFlags fl = 0;
        RoundingMode rm = RoundingMode.Rne;
        if (Rv64F.UsesRounding(d.Op) && !Rounding(s, d.Rm, out rm)) return Illegal(s, d.Raw);
        ulong a = s->F[d.Rs1], b = s->F[d.Rs2];
        switch (d.Op)
        {
            case Op.Fld:
                if (!h.Mmu.Load64(s->X[d.Rs1] + (ulong)d.Imm, out ulong v)) return false;
                WriteD(s, d.Rd, v);
                return true;
            case Op.Fsd:
                return h.Mmu.Store64(s->X[d.Rs1] + (ulong)d.Imm, b);
            case Op.FmaddD: WriteD(s, d.Rd, SoftFloat.F64MulAdd(a, b, s->F[d.Rs3], rm, ref fl)); break;
            case Op.FmsubD: WriteD(s, d.Rd, SoftFloat.F64MulAdd(a, b, s->F[d.Rs3] ^ F64Sign, rm, ref fl)); break;
            case Op.FnmsubD: WriteD(s, d.Rd, SoftFloat.F64MulAdd(a ^ F64Sign, b, s->F[d.Rs3], rm, ref fl)); break;
            case Op.FnmaddD: WriteD(s, d.Rd, SoftFloat.F64MulAdd(a ^ F64Sign, b, s->F[d.Rs3] ^ F64Sign, rm, ref fl)); break;
            case Op.FaddD: WriteD(s, d.Rd, SoftFloat.F64Add(a, b, rm, ref fl)); break;
            case Op.FsubD: WriteD(s, d.Rd, SoftFloat.F64Sub(a, b, rm, ref fl)); break;
            case Op.FmulD: WriteD(s, d.Rd, SoftFloat.F64Mul(a, b, rm, ref fl)); break;
            case Op.FdivD: WriteD(s, d.Rd, SoftFloat.F64Div(a, b, rm, ref fl)); break;
            case Op.FsqrtD: WriteD(s, d.Rd, SoftFloat.F64Sqrt(a, rm, ref fl)); break;
            case Op.FsgnjD: WriteD(s, d.Rd, (a & ~F64Sign) | (b & F64Sign)); break;
            case Op.FsgnjnD: WriteD(s, d.Rd, (a & ~F64Sign) | (~b & F64Sign)); break;
            case Op.FsgnjxD: WriteD(s, d.Rd, a ^ (b & F64Sign)); break;
            case Op.FminD: WriteD(s, d.Rd, SoftFloat.F64Min(a, b, ref fl)); break;
            case Op.FmaxD: WriteD(s, d.Rd, SoftFloat.F64Max(a, b, ref fl)); break;
            case Op.FcvtSD: WriteS(s, d.Rd, SoftFloat.F64ToF32(a, rm, ref fl)); break;
            case Op.FcvtDS: WriteD(s, d.Rd, SoftFloat.F32ToF64(ReadS(s, d.Rs1), ref fl)); break;
            case Op.FeqD: s->X[d.Rd] = SoftFloat.F64Eq(a, b, ref fl) ? 1UL : 0; break;
            case Op.FltD: s->X[d.Rd] = SoftFloat.F64Lt(a, b, ref fl) ? 1UL : 0; break;
            case Op.FleD: s->X[d.Rd] = SoftFloat.F64Le(a, b, ref fl) ? 1UL : 0; break;
            case Op.FclassD: s->X[d.Rd] = SoftFloat.F64Class(a); break;
            case Op.FcvtWD: s->X[d.Rd] = (ulong)(long)SoftFloat.F64ToI32(a, rm, ref fl); break;
            case Op.FcvtWuD: s->X[d.Rd] = (ulong)(long)(int)SoftFloat.F64ToU32(a, rm, ref fl); break;
            case Op.FcvtLD: s->X[d.Rd] = (ulong)SoftFloat.F64ToI64(a, rm, ref fl); break;
            case Op.FcvtLuD: s->X[d.Rd] = SoftFloat.F64ToU64(a, rm, ref fl); break;
            case Op.FmvXD: s->X[d.Rd] = a; break;
            case Op.FcvtDW: WriteD(s, d.Rd, SoftFloat.I32ToF64((int)s->X[d.Rs1], rm, ref fl)); break;
            case Op.FcvtDWu: WriteD(s, d.Rd, SoftFloat.U32ToF64((uint)s->X[d.Rs1], rm, ref fl)); break;
            case Op.FcvtDL: WriteD(s, d.Rd, SoftFloat.I64ToF64((long)s->X[d.Rs1], rm, ref fl)); break;
            case Op.FcvtDLu: WriteD(s, d.Rd, SoftFloat.U64ToF64(s->X[d.Rs1], rm, ref fl)); break;
            case Op.FmvDX: WriteD(s, d.Rd, s->X[d.Rs1]); break;
            default: return Illegal(s, d.Raw);
        }
        Accrue(s, fl);
        return true;
    }
}
