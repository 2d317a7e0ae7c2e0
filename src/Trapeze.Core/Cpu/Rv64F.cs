using Trapeze.Core.Isa;
using static Trapeze.Core.Cpu.FpHelpers;

namespace Trapeze.Core.Cpu;

/// <summary>RV64F single-precision instructions (Unpriv. spec chapter 11), exact through <see cref="SoftFloat"/>.
/// Returns false when the instruction raised an exception (illegal, or a load/store fault).</summary>
public static unsafe class Rv64F
{
    public static bool Execute(Hart h, HartState* s, in DecodedInsn d)
    {
        if (!Enabled(s)) return Illegal(s, d.Raw);
        FpFlags fl = 0;
        RoundingMode rm = RoundingMode.Rne;
        if (UsesRounding(d.Op) && !Rounding(s, d.Rm, out rm)) return Illegal(s, d.Raw);
        switch (d.Op)
        {
            case Op.Flw:
                if (!h.Mmu.Load32(s->X[d.Rs1] + (ulong)d.Imm, out ulong v)) return false;
                WriteS(s, d.Rd, (uint)v);
                return true;
            case Op.Fsw:
                return h.Mmu.Store32(s->X[d.Rs1] + (ulong)d.Imm, (uint)s->F[d.Rs2]);
            case Op.FmaddS: WriteS(s, d.Rd, SoftFloat.F32MulAdd(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ReadS(s, d.Rs3), rm, ref fl)); break;
            case Op.FmsubS: WriteS(s, d.Rd, SoftFloat.F32MulAdd(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ReadS(s, d.Rs3) ^ F32Sign, rm, ref fl)); break;
            case Op.FnmsubS: WriteS(s, d.Rd, SoftFloat.F32MulAdd(ReadS(s, d.Rs1) ^ F32Sign, ReadS(s, d.Rs2), ReadS(s, d.Rs3), rm, ref fl)); break;
            case Op.FnmaddS: WriteS(s, d.Rd, SoftFloat.F32MulAdd(ReadS(s, d.Rs1) ^ F32Sign, ReadS(s, d.Rs2), ReadS(s, d.Rs3) ^ F32Sign, rm, ref fl)); break;
            case Op.FaddS: WriteS(s, d.Rd, SoftFloat.F32Add(ReadS(s, d.Rs1), ReadS(s, d.Rs2), rm, ref fl)); break;
            case Op.FsubS: WriteS(s, d.Rd, SoftFloat.F32Sub(ReadS(s, d.Rs1), ReadS(s, d.Rs2), rm, ref fl)); break;
            case Op.FmulS: WriteS(s, d.Rd, SoftFloat.F32Mul(ReadS(s, d.Rs1), ReadS(s, d.Rs2), rm, ref fl)); break;
            case Op.FdivS: WriteS(s, d.Rd, SoftFloat.F32Div(ReadS(s, d.Rs1), ReadS(s, d.Rs2), rm, ref fl)); break;
            case Op.FsqrtS: WriteS(s, d.Rd, SoftFloat.F32Sqrt(ReadS(s, d.Rs1), rm, ref fl)); break;
            case Op.FsgnjS: WriteS(s, d.Rd, (ReadS(s, d.Rs1) & ~F32Sign) | (ReadS(s, d.Rs2) & F32Sign)); break;
            case Op.FsgnjnS: WriteS(s, d.Rd, (ReadS(s, d.Rs1) & ~F32Sign) | (~ReadS(s, d.Rs2) & F32Sign)); break;
            case Op.FsgnjxS: WriteS(s, d.Rd, ReadS(s, d.Rs1) ^ (ReadS(s, d.Rs2) & F32Sign)); break;
            case Op.FminS: WriteS(s, d.Rd, SoftFloat.F32Min(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ref fl)); break;
            case Op.FmaxS: WriteS(s, d.Rd, SoftFloat.F32Max(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ref fl)); break;
            case Op.FcvtWS: s->X[d.Rd] = (ulong)(long)SoftFloat.F32ToI32(ReadS(s, d.Rs1), rm, ref fl); break;
            case Op.FcvtWuS: s->X[d.Rd] = (ulong)(long)(int)SoftFloat.F32ToU32(ReadS(s, d.Rs1), rm, ref fl); break;
            case Op.FcvtLS: s->X[d.Rd] = (ulong)SoftFloat.F32ToI64(ReadS(s, d.Rs1), rm, ref fl); break;
            case Op.FcvtLuS: s->X[d.Rd] = SoftFloat.F32ToU64(ReadS(s, d.Rs1), rm, ref fl); break;
            // FMV.X.W moves the raw low 32 bits, boxed or not, sign-extended (Unpriv. spec 11.7).
            case Op.FmvXW: s->X[d.Rd] = (ulong)(long)(int)s->F[d.Rs1]; break;
            case Op.FeqS: s->X[d.Rd] = SoftFloat.F32Eq(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ref fl) ? 1UL : 0; break;
            case Op.FltS: s->X[d.Rd] = SoftFloat.F32Lt(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ref fl) ? 1UL : 0; break;
            case Op.FleS: s->X[d.Rd] = SoftFloat.F32Le(ReadS(s, d.Rs1), ReadS(s, d.Rs2), ref fl) ? 1UL : 0; break;
            case Op.FclassS: s->X[d.Rd] = SoftFloat.F32Class(ReadS(s, d.Rs1)); break;
            case Op.FcvtSW: WriteS(s, d.Rd, SoftFloat.I32ToF32((int)s->X[d.Rs1], rm, ref fl)); break;
            case Op.FcvtSWu: WriteS(s, d.Rd, SoftFloat.U32ToF32((uint)s->X[d.Rs1], rm, ref fl)); break;
            case Op.FcvtSL: WriteS(s, d.Rd, SoftFloat.I64ToF32((long)s->X[d.Rs1], rm, ref fl)); break;
            case Op.FcvtSLu: WriteS(s, d.Rd, SoftFloat.U64ToF32(s->X[d.Rs1], rm, ref fl)); break;
            case Op.FmvWX: WriteS(s, d.Rd, (uint)s->X[d.Rs1]); break;
            default: return Illegal(s, d.Raw);
        }
        Accrue(s, fl);
        return true;
    }

    /// <summary>Instructions with an rm field (the others use funct3 as part of the opcode).</summary>
    public static bool UsesRounding(Op op) => op switch
    {
        Op.FmaddS or Op.FmsubS or Op.FnmsubS or Op.FnmaddS or Op.FaddS or Op.FsubS or Op.FmulS or Op.FdivS
            or Op.FsqrtS or Op.FcvtWS or Op.FcvtWuS or Op.FcvtLS or Op.FcvtLuS or Op.FcvtSW or Op.FcvtSWu
            or Op.FcvtSL or Op.FcvtSLu => true,
        Op.FmaddD or Op.FmsubD or Op.FnmsubD or Op.FnmaddD or Op.FaddD or Op.FsubD or Op.FmulD or Op.FdivD
            or Op.FsqrtD or Op.FcvtSD or Op.FcvtDS or Op.FcvtWD or Op.FcvtWuD or Op.FcvtLD or Op.FcvtLuD
            or Op.FcvtDW or Op.FcvtDWu or Op.FcvtDL or Op.FcvtDLu => true,
        _ => false,
    };
}
