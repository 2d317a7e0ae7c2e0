using System.Runtime.CompilerServices;
using Trapeze.Core.Cpu;
using static Trapeze.Core.Cpu.FpHelpers;

namespace Trapeze.Jit;

/// <summary>
/// The F and D operations translated code calls: the interpreter's semantics (Rv64F, Rv64D) without its
/// decoding, FS and rounding-mode checks, which translated code does inline. Register values come and go
/// raw (singles NaN-boxed: unboxed here, boxed on return); flags accrue into the hart state exactly as the
/// interpreter accrues them, and the caller marks FS dirty when it writes an F register.
/// </summary>
public static unsafe class JitFloat
{
    // Not inlined into regions: the call costs a few nanoseconds beside SoftFloat's work, while inlining
    // the wrapper at every F or D instruction made such regions about a third slower to compile.
    private const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining;
    private const ulong BoxMask = 0xffff_ffff_0000_0000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Unbox(ulong v) => (v & BoxMask) == BoxMask ? (uint)v : SoftFloat.F32CanonicalNaN;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Box(uint v) => BoxMask | v;

    [MethodImpl(Hot)] public static ulong FaddD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64Add(a, b, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FsubD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64Sub(a, b, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmulD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64Mul(a, b, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FdivD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64Div(a, b, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FminD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F64Min(a, b, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmaxD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F64Max(a, b, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FeqD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F64Eq(a, b, ref fl) ? 1UL : 0; Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FltD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F64Lt(a, b, ref fl) ? 1UL : 0; Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FleD(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F64Le(a, b, ref fl) ? 1UL : 0; Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FaddS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32Add(Unbox(a), Unbox(b), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FsubS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32Sub(Unbox(a), Unbox(b), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmulS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32Mul(Unbox(a), Unbox(b), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FdivS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32Div(Unbox(a), Unbox(b), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FminS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = Box(SoftFloat.F32Min(Unbox(a), Unbox(b), ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmaxS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = Box(SoftFloat.F32Max(Unbox(a), Unbox(b), ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FeqS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F32Eq(Unbox(a), Unbox(b), ref fl) ? 1UL : 0; Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FltS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F32Lt(Unbox(a), Unbox(b), ref fl) ? 1UL : 0; Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FleS(HartState* s, ulong a, ulong b, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F32Le(Unbox(a), Unbox(b), ref fl) ? 1UL : 0; Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FsgnjS(HartState* s, ulong a, ulong b, int rmField) { ulong r = Box((Unbox(a) & ~F32Sign) | (Unbox(b) & F32Sign)); return r; }
    [MethodImpl(Hot)] public static ulong FsgnjnS(HartState* s, ulong a, ulong b, int rmField) { ulong r = Box((Unbox(a) & ~F32Sign) | (~Unbox(b) & F32Sign)); return r; }
    [MethodImpl(Hot)] public static ulong FsgnjxS(HartState* s, ulong a, ulong b, int rmField) { ulong r = Box(Unbox(a) ^ (Unbox(b) & F32Sign)); return r; }
    [MethodImpl(Hot)] public static ulong FmaddD(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64MulAdd(a, b, c, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmsubD(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64MulAdd(a, b, c ^ F64Sign, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FnmsubD(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64MulAdd(a ^ F64Sign, b, c, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FnmaddD(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64MulAdd(a ^ F64Sign, b, c ^ F64Sign, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmaddS(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32MulAdd(Unbox(a), Unbox(b), Unbox(c), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FmsubS(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32MulAdd(Unbox(a), Unbox(b), Unbox(c) ^ F32Sign, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FnmsubS(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32MulAdd(Unbox(a) ^ F32Sign, Unbox(b), Unbox(c), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FnmaddS(HartState* s, ulong a, ulong b, ulong c, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32MulAdd(Unbox(a) ^ F32Sign, Unbox(b), Unbox(c) ^ F32Sign, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FsqrtD(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64Sqrt(a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtSD(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F64ToF32(a, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtDS(HartState* s, ulong a, int rmField) { FpFlags fl = 0; ulong r = SoftFloat.F32ToF64(Unbox(a), ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtWD(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = (ulong)(long)SoftFloat.F64ToI32(a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtWuD(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = (ulong)(long)(int)SoftFloat.F64ToU32(a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtLD(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = (ulong)SoftFloat.F64ToI64(a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtLuD(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F64ToU64(a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtDW(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.I32ToF64((int)a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtDWu(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.U32ToF64((uint)a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtDL(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.I64ToF64((long)a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtDLu(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.U64ToF64(a, rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FsqrtS(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.F32Sqrt(Unbox(a), rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtWS(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = (ulong)(long)SoftFloat.F32ToI32(Unbox(a), rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtWuS(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = (ulong)(long)(int)SoftFloat.F32ToU32(Unbox(a), rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtLS(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = (ulong)SoftFloat.F32ToI64(Unbox(a), rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtLuS(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = SoftFloat.F32ToU64(Unbox(a), rm, ref fl); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtSW(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.I32ToF32((int)a, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtSWu(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.U32ToF32((uint)a, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtSL(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.I64ToF32((long)a, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FcvtSLu(HartState* s, ulong a, int rmField) { FpFlags fl = 0; var rm = (RoundingMode)rmField; ulong r = Box(SoftFloat.U64ToF32(a, rm, ref fl)); Accrue(s, fl); return r; }
    [MethodImpl(Hot)] public static ulong FclassD(HartState* s, ulong a, int rmField) { ulong r = SoftFloat.F64Class(a); return r; }
    [MethodImpl(Hot)] public static ulong FclassS(HartState* s, ulong a, int rmField) { ulong r = SoftFloat.F32Class(Unbox(a)); return r; }
}
