/* rv64d: every RV64D instruction.  Arithmetic with exact fflags; canonical
   NaN results; the five rounding modes, static and dynamic (frm); fflags
   accrual; fused multiply-add rounding once; fcvt saturation to
   w/wu/l/lu; fcvt.s.d / fcvt.d.s (rounding, overflow, underflow, NaNs,
   improperly boxed singles); fmin/fmax with sNaN/qNaN/+-0; compares;
   fclass of all ten classes; fsgnj*; fld/fsd and fmv.x.d/fmv.d.x moving
   raw bits; mstatus.FS with D instructions. */
#include "test.h"

#define ONE    0x3ff0000000000000
#define TWO    0x4000000000000000
#define THREE  0x4008000000000000
#define HALF   0x3fe0000000000000
#define MONE   0xbff0000000000000
#define PINF   0x7ff0000000000000
#define NINF   0xfff0000000000000
#define CNAN   0x7ff8000000000000
#define QNAN   0x7ff8000000012345
#define SNAN   0x7ff0000000000001
#define DMAX   0x7fefffffffffffff
#define MINN   0x0010000000000000
#define MINSUB 0x0000000000000001
#define NZERO  0x8000000000000000
#define EPS53  0x3ca0000000000000   /* 2^-53: half an ulp of 1.0 */
#define MEPS53 0xbca0000000000000

.macro FLD_ freg, bits
        li t5, \bits
        fmv.d.x \freg, t5
.endm
.macro TEST_D2 op, res, a, b, flags, rm=dyn
        FLD_ fa1, \a
        FLD_ fa2, \b
        csrw fflags, zero
        \op fa0, fa1, fa2, \rm
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm
.macro TEST_D2N op, res, a, b, flags
        FLD_ fa1, \a
        FLD_ fa2, \b
        csrw fflags, zero
        \op fa0, fa1, fa2
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm
.macro TEST_D1 op, res, a, flags, rm=dyn
        FLD_ fa1, \a
        csrw fflags, zero
        \op fa0, fa1, \rm
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm
.macro TEST_D3 op, res, a, b, c, flags, rm=dyn
        FLD_ fa1, \a
        FLD_ fa2, \b
        FLD_ fa3, \c
        csrw fflags, zero
        \op fa0, fa1, fa2, fa3, \rm
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm
.macro TEST_DCMP op, res, a, b, flags
        FLD_ fa1, \a
        FLD_ fa2, \b
        csrw fflags, zero
        \op a0, fa1, fa2
        CHECK a0, \res
        CHECK_FFLAGS \flags
.endm
.macro TEST_CVT_TOI op, res, a, flags, rm=dyn
        FLD_ fa1, \a
        csrw fflags, zero
        \op a0, fa1, \rm
        CHECK a0, \res
        CHECK_FFLAGS \flags
.endm
.macro TEST_CVT_FROMI op, res, a, flags, rm=dyn
        li a1, \a
        csrw fflags, zero
.ifc \rm,exact
        \op fa0, a1                    /* always exact: no rm operand */
.else
        \op fa0, a1, \rm
.endif
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm
/* fcvt.s.d: double in, boxed single out */
.macro TEST_CVT_SD res, a, flags, rm=dyn
        FLD_ fa1, \a
        csrw fflags, zero
        fcvt.s.d fa0, fa1, \rm
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm
/* fcvt.d.s: raw 64-bit register value in (so boxing can be tested) */
.macro TEST_CVT_DS res, a, flags
        FLD_ fa1, \a
        csrw fflags, zero
        fcvt.d.s fa0, fa1
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm

TEST_BEGIN
        csrw fcsr, zero
        /* ---- loads, stores, moves: raw 64 bits ---- */
        la s0, ddata
        fld fs0, 0(s0)
        CHECK_D fs0, ONE
        fld fs1, 8(s0)
        CHECK_D fs1, 0xfff0000000abcdef     /* a signalling NaN, untouched */
        fsd fs1, 16(s0)
        ld a0, 16(s0)
        CHECK a0, 0xfff0000000abcdef
        fmv.x.d a0, fs1
        CHECK a0, 0xfff0000000abcdef
        li a1, 0x7ff4000000000001
        fmv.d.x fs2, a1
        fmv.x.d a0, fs2
        CHECK a0, 0x7ff4000000000001
        fsd fs2, -8(s0)
        ld a0, -8(s0)
        CHECK a0, 0x7ff4000000000001
        fld fs3, 2040(s0)
        CHECK_D fs3, 0x0123456789abcdef

        /* ---- arithmetic ---- */
        TEST_D2 fadd.d, THREE, ONE, TWO, 0
        TEST_D2 fadd.d, 0, ONE, MONE, 0
        TEST_D2 fadd.d, NZERO, ONE, MONE, 0, rdn
        TEST_D2 fadd.d, CNAN, PINF, NINF, FFLAG_NV
        TEST_D2 fsub.d, TWO, THREE, ONE, 0
        TEST_D2 fsub.d, 0xbfe0000000000000, ONE, 0x3ff8000000000000, 0
        TEST_D2 fsub.d, CNAN, NINF, NINF, FFLAG_NV
        TEST_D2 fmul.d, THREE, 0x3ff8000000000000, TWO, 0
        TEST_D2 fmul.d, NZERO, MONE, 0, 0
        TEST_D2 fmul.d, CNAN, 0, NINF, FFLAG_NV
        TEST_D2 fdiv.d, 0x3fd5555555555555, ONE, THREE, FFLAG_NX
        TEST_D2 fdiv.d, HALF, ONE, TWO, 0
        TEST_D2 fdiv.d, PINF, ONE, 0, FFLAG_DZ
        TEST_D2 fdiv.d, NINF, ONE, NZERO, FFLAG_DZ
        TEST_D2 fdiv.d, CNAN, 0, 0, FFLAG_NV
        TEST_D2 fdiv.d, CNAN, NINF, PINF, FFLAG_NV
        TEST_D1 fsqrt.d, TWO, 0x4010000000000000, 0
        TEST_D1 fsqrt.d, 0x3ff6a09e667f3bcd, TWO, FFLAG_NX
        TEST_D1 fsqrt.d, CNAN, MONE, FFLAG_NV
        TEST_D1 fsqrt.d, NZERO, NZERO, 0
        TEST_D1 fsqrt.d, CNAN, NINF, FFLAG_NV
        TEST_D2 fadd.d, CNAN, QNAN, ONE, 0
        TEST_D2 fadd.d, CNAN, SNAN, ONE, FFLAG_NV
        TEST_D2 fdiv.d, CNAN, ONE, 0xfff8000000000000, 0
        TEST_D1 fsqrt.d, CNAN, SNAN, FFLAG_NV
        TEST_D2 fmul.d, PINF, DMAX, TWO, FFLAG_OF | FFLAG_NX
        TEST_D2 fmul.d, DMAX, DMAX, TWO, FFLAG_OF | FFLAG_NX, rtz
        TEST_D2 fmul.d, 0xffefffffffffffff, DMAX, 0xc000000000000000, FFLAG_OF | FFLAG_NX, rup
        TEST_D2 fmul.d, NINF, DMAX, 0xc000000000000000, FFLAG_OF | FFLAG_NX, rdn
        TEST_D2 fmul.d, 0x0008000000000000, 0x0010000000000001, HALF, FFLAG_UF | FFLAG_NX
        TEST_D2 fmul.d, 0, MINSUB, HALF, FFLAG_UF | FFLAG_NX
        TEST_D2 fmul.d, MINSUB, MINSUB, HALF, FFLAG_UF | FFLAG_NX, rup
        TEST_D2 fmul.d, 0x0008000000000000, MINN, HALF, 0
        TEST_D2 fdiv.d, MINSUB, MINN, 0x4330000000000000, 0

        /* ---- fused multiply-add ---- */
        TEST_D3 fmadd.d, 0x4014000000000000, ONE, TWO, THREE, 0
        TEST_D3 fmsub.d, MONE, ONE, TWO, THREE, 0
        TEST_D3 fnmsub.d, ONE, ONE, TWO, THREE, 0
        TEST_D3 fnmadd.d, 0xc014000000000000, ONE, TWO, THREE, 0
        /* (1+2^-27)^2 - (1+2^-26) = 2^-54 exactly */
        TEST_D3 fmadd.d, 0x3c90000000000000, 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0
        TEST_D3 fmsub.d, 0x3c90000000000000, 0x3ff0000002000000, 0x3ff0000002000000, 0x3ff0000004000000, 0
        TEST_D3 fnmadd.d, 0xbc90000000000000, 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0
        TEST_D3 fnmsub.d, 0xbc90000000000000, 0x3ff0000002000000, 0x3ff0000002000000, 0x3ff0000004000000, 0
        TEST_D3 fmadd.d, CNAN, 0, PINF, QNAN, FFLAG_NV
        TEST_D3 fmadd.d, CNAN, ONE, ONE, QNAN, 0
        TEST_D3 fnmsub.d, CNAN, SNAN, ONE, ONE, FFLAG_NV

        /* ---- rounding modes: static ---- */
        TEST_D2 fadd.d, ONE,                ONE, EPS53, FFLAG_NX, rne
        TEST_D2 fadd.d, ONE,                ONE, EPS53, FFLAG_NX, rtz
        TEST_D2 fadd.d, ONE,                ONE, EPS53, FFLAG_NX, rdn
        TEST_D2 fadd.d, 0x3ff0000000000001, ONE, EPS53, FFLAG_NX, rup
        TEST_D2 fadd.d, 0x3ff0000000000001, ONE, EPS53, FFLAG_NX, rmm
        TEST_D2 fadd.d, MONE,               MONE, MEPS53, FFLAG_NX, rne
        TEST_D2 fadd.d, MONE,               MONE, MEPS53, FFLAG_NX, rtz
        TEST_D2 fadd.d, 0xbff0000000000001, MONE, MEPS53, FFLAG_NX, rdn
        TEST_D2 fadd.d, MONE,               MONE, MEPS53, FFLAG_NX, rup
        TEST_D2 fadd.d, 0xbff0000000000001, MONE, MEPS53, FFLAG_NX, rmm
        TEST_D2 fadd.d, 0x3ff0000000000002, 0x3ff0000000000001, EPS53, FFLAG_NX, rne
        TEST_D2 fadd.d, 0x3ff0000000000001, 0x3ff0000000000001, EPS53, FFLAG_NX, rtz
        TEST_D2 fdiv.d, 0x3fd5555555555555, ONE, THREE, FFLAG_NX, rne
        TEST_D2 fdiv.d, 0x3fd5555555555555, ONE, THREE, FFLAG_NX, rtz
        TEST_D2 fdiv.d, 0x3fd5555555555555, ONE, THREE, FFLAG_NX, rdn
        TEST_D2 fdiv.d, 0x3fd5555555555556, ONE, THREE, FFLAG_NX, rup
        TEST_D2 fdiv.d, 0x3fd5555555555555, ONE, THREE, FFLAG_NX, rmm
        TEST_D2 fdiv.d, 0xbfd5555555555556, MONE, THREE, FFLAG_NX, rdn
        TEST_CVT_TOI fcvt.w.d, 2, 0x4004000000000000, FFLAG_NX, rne
        TEST_CVT_TOI fcvt.w.d, 2, 0x4004000000000000, FFLAG_NX, rtz
        TEST_CVT_TOI fcvt.w.d, 2, 0x4004000000000000, FFLAG_NX, rdn
        TEST_CVT_TOI fcvt.w.d, 3, 0x4004000000000000, FFLAG_NX, rup
        TEST_CVT_TOI fcvt.w.d, 3, 0x4004000000000000, FFLAG_NX, rmm
        TEST_CVT_TOI fcvt.l.d, -2, 0xc004000000000000, FFLAG_NX, rne
        TEST_CVT_TOI fcvt.l.d, -2, 0xc004000000000000, FFLAG_NX, rtz
        TEST_CVT_TOI fcvt.l.d, -3, 0xc004000000000000, FFLAG_NX, rdn
        TEST_CVT_TOI fcvt.l.d, -2, 0xc004000000000000, FFLAG_NX, rup
        TEST_CVT_TOI fcvt.l.d, -3, 0xc004000000000000, FFLAG_NX, rmm
        TEST_CVT_TOI fcvt.l.d, 4, 0x400c000000000000, FFLAG_NX, rne

        /* ---- rounding modes: dynamic ---- */
        csrwi frm, RM_RNE
        TEST_D2 fadd.d, ONE, ONE, EPS53, FFLAG_NX
        TEST_CVT_TOI fcvt.l.d, -2, 0xc004000000000000, FFLAG_NX
        csrwi frm, RM_RTZ
        TEST_D2 fadd.d, 0x3ff0000000000001, 0x3ff0000000000001, EPS53, FFLAG_NX
        TEST_D2 fmul.d, DMAX, DMAX, TWO, FFLAG_OF | FFLAG_NX
        csrwi frm, RM_RDN
        TEST_D2 fadd.d, 0xbff0000000000001, MONE, MEPS53, FFLAG_NX
        TEST_CVT_TOI fcvt.l.d, -3, 0xc004000000000000, FFLAG_NX
        csrwi frm, RM_RUP
        TEST_D2 fdiv.d, 0x3fd5555555555556, ONE, THREE, FFLAG_NX
        TEST_CVT_TOI fcvt.l.d, -2, 0xc004000000000000, FFLAG_NX
        csrwi frm, RM_RMM
        TEST_D2 fadd.d, 0x3ff0000000000001, ONE, EPS53, FFLAG_NX
        TEST_CVT_TOI fcvt.l.d, -3, 0xc004000000000000, FFLAG_NX
        TEST_D2 fadd.d, ONE, ONE, EPS53, FFLAG_NX, rne        /* static wins */
        csrwi frm, 5
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x02c5f553, fadd.d fa0, fa1, fa2, dyn
        csrwi frm, RM_RNE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x02c5e553, .word 0x02c5e553   /* rm=6 */

        /* ---- fflags accrual ---- */
        csrw fflags, zero
        FLD_ fa1, ONE
        FLD_ fa2, THREE
        fdiv.d fa0, fa1, fa2
        FLD_ fa2, 0
        fdiv.d fa0, fa1, fa2
        csrr a0, fflags
        CHECK a0, FFLAG_NX | FFLAG_DZ
        FLD_ fa1, MINSUB
        FLD_ fa2, HALF
        fmul.d fa0, fa1, fa2
        FLD_ fa1, DMAX
        fadd.d fa0, fa1, fa1
        csrr a0, fflags
        CHECK a0, FFLAG_NX | FFLAG_DZ | FFLAG_UF | FFLAG_OF
        FLD_ fa1, SNAN
        feq.d a0, fa1, fa1
        csrr a0, fflags
        CHECK a0, 0x1f
        csrw fflags, zero

        /* ---- sign injection ---- */
        TEST_D2N fsgnj.d, MONE, ONE, 0xc000000000000000, 0
        TEST_D2N fsgnjn.d, ONE, ONE, 0xc000000000000000, 0
        TEST_D2N fsgnjn.d, MONE, ONE, TWO, 0
        TEST_D2N fsgnjx.d, ONE, MONE, 0xc000000000000000, 0
        TEST_D2N fsgnjx.d, MONE, MONE, TWO, 0
        TEST_D2N fsgnj.d, 0xfff8000000012345, QNAN, MONE, 0
        TEST_D2N fsgnjx.d, 0xfff0000000000001, SNAN, MONE, 0
        FLD_ fa1, 0x400921fb54442d18
        fneg.d fa0, fa1
        CHECK_D fa0, 0xc00921fb54442d18
        fabs.d fa2, fa0
        CHECK_D fa2, 0x400921fb54442d18

        /* ---- compares ---- */
        TEST_DCMP feq.d, 1, ONE, ONE, 0
        TEST_DCMP feq.d, 0, ONE, 0x3ff0000000000001, 0
        TEST_DCMP feq.d, 1, NZERO, 0, 0
        TEST_DCMP feq.d, 0, QNAN, QNAN, 0
        TEST_DCMP feq.d, 0, SNAN, SNAN, FFLAG_NV
        TEST_DCMP flt.d, 1, ONE, TWO, 0
        TEST_DCMP flt.d, 0, NZERO, 0, 0
        TEST_DCMP flt.d, 1, NINF, DMAX, 0
        TEST_DCMP flt.d, 0, QNAN, ONE, FFLAG_NV
        TEST_DCMP fle.d, 1, ONE, ONE, 0
        TEST_DCMP fle.d, 1, 0, NZERO, 0
        TEST_DCMP fle.d, 0, ONE, MONE, 0
        TEST_DCMP fle.d, 0, QNAN, ONE, FFLAG_NV

        /* ---- fmin / fmax ---- */
        TEST_D2N fmin.d, ONE, ONE, TWO, 0
        TEST_D2N fmax.d, TWO, ONE, TWO, 0
        TEST_D2N fmin.d, NZERO, 0, NZERO, 0
        TEST_D2N fmax.d, 0, NZERO, 0, 0
        TEST_D2N fmin.d, ONE, QNAN, ONE, 0
        TEST_D2N fmax.d, ONE, ONE, QNAN, 0
        TEST_D2N fmin.d, ONE, SNAN, ONE, FFLAG_NV
        TEST_D2N fmax.d, MONE, MONE, SNAN, FFLAG_NV
        TEST_D2N fmin.d, CNAN, QNAN, SNAN, FFLAG_NV
        TEST_D2N fmax.d, CNAN, QNAN, QNAN, 0

        /* ---- fclass ---- */
.macro TEST_CLASS bits, cls
        FLD_ fa1, \bits
        fclass.d a0, fa1
        CHECK a0, (1 << \cls)
.endm
        TEST_CLASS NINF, 0
        TEST_CLASS MONE, 1
        TEST_CLASS 0x800fffffffffffff, 2
        TEST_CLASS NZERO, 3
        TEST_CLASS 0, 4
        TEST_CLASS MINSUB, 5
        TEST_CLASS DMAX, 6
        TEST_CLASS PINF, 7
        TEST_CLASS SNAN, 8
        TEST_CLASS 0xfff7ffffffffffff, 8
        TEST_CLASS CNAN, 9
        TEST_CLASS 0xffffffff3f800000, 9        /* a boxed single is a double qNaN */

        /* ---- conversions to integer ---- */
        TEST_CVT_TOI fcvt.w.d, 0x7fffffff, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.w.d, 0x7fffffff, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.w.d, 0xffffffff80000000, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.w.d, 0x7fffffff, 0x41e65a0bc0000000, FFLAG_NV   /* 3e9 */
        TEST_CVT_TOI fcvt.w.d, 0xffffffff80000000, 0xc1e0000000000000, 0  /* -2^31 */
        TEST_CVT_TOI fcvt.w.d, 0xffffffff80000000, 0xc1e0000000200000, FFLAG_NV /* -2^31-1 */
        TEST_CVT_TOI fcvt.w.d, 0x7fffffff, 0x41dfffffffc00000, 0          /* 2^31-1 */
        TEST_CVT_TOI fcvt.w.d, 0x7fffffff, 0x41dfffffffe00000, FFLAG_NV, rne /* 2^31-0.5 rounds out */
        TEST_CVT_TOI fcvt.w.d, 0x7fffffff, 0x41dfffffffe00000, FFLAG_NX, rtz
        TEST_CVT_TOI fcvt.wu.d, 0xffffffffb2d05e00, 0x41e65a0bc0000000, 0
        TEST_CVT_TOI fcvt.wu.d, -1, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.d, -1, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.d, 0, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.d, 0, MONE, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.d, 0, 0xbfe0000000000000, FFLAG_NX, rtz
        TEST_CVT_TOI fcvt.wu.d, -1, 0x41f0000000000000, FFLAG_NV          /* 2^32 */
        TEST_CVT_TOI fcvt.l.d, 3000000000, 0x41e65a0bc0000000, 0
        TEST_CVT_TOI fcvt.l.d, 0x7fffffffffffffff, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.l.d, 0x7fffffffffffffff, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.l.d, 0x8000000000000000, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.l.d, 0x7fffffffffffffff, 0x43e0000000000000, FFLAG_NV
        TEST_CVT_TOI fcvt.l.d, 0x8000000000000000, 0xc3e0000000000000, 0
        TEST_CVT_TOI fcvt.l.d, 0x8000000000000000, 0xc3e0000000000001, FFLAG_NV
        TEST_CVT_TOI fcvt.l.d, 0x7ffffffffffffc00, 0x43dfffffffffffff, 0
        TEST_CVT_TOI fcvt.lu.d, 0x8000000000000000, 0x43e0000000000000, 0
        TEST_CVT_TOI fcvt.lu.d, 0xfffffffffffff800, 0x43efffffffffffff, 0
        TEST_CVT_TOI fcvt.lu.d, -1, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.d, -1, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.d, 0, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.d, 0, MONE, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.d, -1, 0x43f0000000000000, FFLAG_NV

        /* ---- conversions from integer ---- */
        TEST_CVT_FROMI fcvt.d.w, MONE, -1, 0, exact
        TEST_CVT_FROMI fcvt.d.w, 0x41dfffffffc00000, 0x7fffffff, 0, exact
        TEST_CVT_FROMI fcvt.d.w, 0xc1e0000000000000, 0x80000000, 0, exact
        TEST_CVT_FROMI fcvt.d.w, ONE, 0x100000001, 0, exact
        TEST_CVT_FROMI fcvt.d.wu, 0x41efffffffe00000, 0xffffffff, 0, exact
        TEST_CVT_FROMI fcvt.d.wu, 0x41e0000000000000, 0xffffffff80000000, 0, exact
        TEST_CVT_FROMI fcvt.d.l, MONE, -1, 0
        TEST_CVT_FROMI fcvt.d.l, 0xc3e0000000000000, 0x8000000000000000, 0
        TEST_CVT_FROMI fcvt.d.l, 0x4340000000000000, 0x20000000000001, FFLAG_NX, rne
        TEST_CVT_FROMI fcvt.d.l, 0x4340000000000001, 0x20000000000001, FFLAG_NX, rmm
        TEST_CVT_FROMI fcvt.d.l, 0x4340000000000000, 0x20000000000001, FFLAG_NX, rdn
        TEST_CVT_FROMI fcvt.d.lu, 0x43f0000000000000, -1, FFLAG_NX, rne
        TEST_CVT_FROMI fcvt.d.lu, 0x43efffffffffffff, -1, FFLAG_NX, rtz
        TEST_CVT_FROMI fcvt.d.lu, 0x43e0000000000000, 0x8000000000000000, 0

        /* ---- double <-> single ---- */
        TEST_CVT_DS ONE, 0xffffffff3f800000, 0
        FLD_ fa1, 0xffffffff40200000                              /* 2.5f */
        .word 0x42059553                /* fcvt.d.s fa0, fa1, rtz: exact, any rm is fine */
        CHECK_D fa0, 0x4004000000000000
        TEST_CVT_DS 0xc7efffffe0000000, 0xffffffffff7fffff, 0       /* -FLT_MAX exact */
        TEST_CVT_DS 0x36a0000000000000, 0xffffffff00000001, 0       /* subnormal single -> normal double */
        TEST_CVT_DS PINF, 0xffffffff7f800000, 0
        TEST_CVT_DS CNAN, 0xffffffff7fc12345, 0                     /* canonical, not payload */
        TEST_CVT_DS CNAN, 0xffffffff7f800001, FFLAG_NV              /* sNaN */
        TEST_CVT_DS CNAN, 0x000000003f800000, 0                     /* improperly boxed */
        TEST_CVT_DS CNAN, 0x7fffffff3f800000, 0
        TEST_CVT_SD 0x3eaaaaab, 0x3fd5555555555555, FFLAG_NX, rne
        TEST_CVT_SD 0x3eaaaaaa, 0x3fd5555555555555, FFLAG_NX, rtz
        TEST_CVT_SD 0x3eaaaaab, 0x3fd5555555555555, FFLAG_NX, rup
        TEST_CVT_SD 0x3f800000, ONE, 0
        TEST_CVT_SD 0x80000000, NZERO, 0
        TEST_CVT_SD 0x7f800000, DMAX, FFLAG_OF | FFLAG_NX
        TEST_CVT_SD 0x7f7fffff, DMAX, FFLAG_OF | FFLAG_NX, rtz
        TEST_CVT_SD 0xff800000, 0xffefffffffffffff, FFLAG_OF | FFLAG_NX
        TEST_CVT_SD 0, 0x3370000000000000, FFLAG_UF | FFLAG_NX      /* 2^-200 */
        TEST_CVT_SD 0x00000001, 0x3370000000000000, FFLAG_UF | FFLAG_NX, rup
        TEST_CVT_SD 0x00000001, 0x36a0000000000000, 0               /* 2^-149 exact */
        TEST_CVT_SD 0x7fc00000, QNAN, 0
        TEST_CVT_SD 0x7fc00000, SNAN, FFLAG_NV
        TEST_CVT_SD 0x7f800000, PINF, 0

        /* ---- a double op on a boxed single sees a NaN ---- */
        FLD_ fa1, 0xffffffff3f800000
        FLD_ fa2, ONE
        csrw fflags, zero
        fadd.d fa0, fa1, fa2
        CHECK_D fa0, CNAN
        CHECK_FFLAGS 0

        /* ---- mstatus.FS with D ---- */
        li s1, MSTATUS_FS
        csrc mstatus, s1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x02c5f553, fadd.d fa0, fa1, fa2
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fld fa0, 0(s0)
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fsd fa0, 0(s0)
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fmv.x.d a0, fa0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fcvt.d.s fa0, fa1
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, c.fld fa0, 0(s0)
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        fld fa0, 0(s0)
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_SD | MSTATUS_FS_DIRTY
        csrc mstatus, s1
        li a1, MSTATUS_FS_INITIAL
        csrs mstatus, a1
        fcvt.d.l fa0, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_SD | MSTATUS_FS_DIRTY
TEST_END

        .data
        .align 3
        .dword 0
ddata:  .dword 0x3ff0000000000000, 0xfff0000000abcdef, 0, 0
        .fill 2040 - 32, 1, 0
        .dword 0x0123456789abcdef
