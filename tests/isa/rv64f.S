/* rv64f: every RV64F instruction.  Arithmetic with exact fflags; canonical
   NaN results (no payload propagation); the five rounding modes, static
   and dynamic through frm, reserved rounding modes trapping; fflags
   accrual of NX/UF/OF/DZ/NV; fused multiply-add rounding once; fcvt
   saturation (NaN, +-inf, out of range) to w/wu/l/lu; fmin/fmax with
   sNaN/qNaN/+-0; feq/flt/fle quiet vs signalling; fclass of all ten
   classes; fsgnj* incl. NaN payloads; NaN boxing (an improperly boxed
   single reads as the canonical NaN; transfers ignore the upper half);
   fmv.x.w sign extension; mstatus.FS: Off traps, writes make it Dirty
   and set SD. */
#include "test.h"

#define ONE    0x3f800000
#define TWO    0x40000000
#define THREE  0x40400000
#define HALF   0x3f000000
#define MONE   0xbf800000
#define PINF   0x7f800000
#define NINF   0xff800000
#define CNAN   0x7fc00000
#define QNAN   0x7fc12345   /* quiet NaN with a payload */
#define SNAN   0x7f800001
#define FMAX   0x7f7fffff
#define MINN   0x00800000
#define MINSUB 0x00000001
#define NZERO  0x80000000

/* load a boxed single */
.macro FLS freg, bits
        li t5, \bits
        fmv.w.x \freg, t5
.endm

/* fa0 = op(fa1, fa2 [, rm]) */
.macro TEST_S2 op, res, a, b, flags, rm=dyn
        FLS fa1, \a
        FLS fa2, \b
        csrw fflags, zero
        \op fa0, fa1, fa2, \rm
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm
/* same for ops without a rounding mode (fmin, fmax, fsgnj*) */
.macro TEST_S2N op, res, a, b, flags
        FLS fa1, \a
        FLS fa2, \b
        csrw fflags, zero
        \op fa0, fa1, fa2
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm
/* fa0 = op(fa1) */
.macro TEST_S1 op, res, a, flags, rm=dyn
        FLS fa1, \a
        csrw fflags, zero
        \op fa0, fa1, \rm
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm
/* fa0 = op(fa1, fa2, fa3) */
.macro TEST_S3 op, res, a, b, c, flags, rm=dyn
        FLS fa1, \a
        FLS fa2, \b
        FLS fa3, \c
        csrw fflags, zero
        \op fa0, fa1, fa2, fa3, \rm
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm
/* a0 = op(fa1, fa2): compares */
.macro TEST_SCMP op, res, a, b, flags
        FLS fa1, \a
        FLS fa2, \b
        csrw fflags, zero
        \op a0, fa1, fa2
        CHECK a0, \res
        CHECK_FFLAGS \flags
.endm
/* a0 = fcvt.x.s(fa1) */
.macro TEST_CVT_TOI op, res, a, flags, rm=dyn
        FLS fa1, \a
        csrw fflags, zero
        \op a0, fa1, \rm
        CHECK a0, \res
        CHECK_FFLAGS \flags
.endm
/* fa0 = fcvt.s.x(a1) */
.macro TEST_CVT_FROMI op, res, a, flags, rm=dyn
        li a1, \a
        csrw fflags, zero
        \op fa0, a1, \rm
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm

TEST_BEGIN
        csrw fcsr, zero
        /* ---- loads, stores, moves ---- */
        la s0, fdata
        flw fs0, 0(s0)                 /* 1.0 */
        CHECK_S fs0, ONE               /* boxed */
        flw fs1, 4(s0)                 /* -2.0 */
        CHECK_S fs1, 0xc0000000
        fsw fs1, 8(s0)
        lwu a0, 8(s0)
        CHECK a0, 0xc0000000
        lwu a0, 12(s0)                 /* fsw wrote only 4 bytes */
        CHECK a0, 0xdeadbeef
        fmv.x.w a0, fs1                /* sign-extends */
        CHECK a0, 0xffffffffc0000000
        fmv.x.w a0, fs0
        CHECK a0, ONE
        li a1, 0x123456783f800000
        fmv.w.x fa5, a1                /* upper bits of the integer ignored */
        CHECK_S fa5, ONE
        FLS fa5, QNAN
        fmv.x.w a0, fa5                /* NaN payload preserved */
        CHECK a0, QNAN

        /* ---- arithmetic ---- */
        TEST_S2 fadd.s, THREE, ONE, TWO, 0
        TEST_S2 fadd.s, 0x00000000, ONE, MONE, 0        /* +0 in RNE */
        TEST_S2 fadd.s, NZERO, ONE, MONE, 0, rdn         /* -0 in RDN */
        TEST_S2 fadd.s, NZERO, NZERO, NZERO, 0
        TEST_S2 fadd.s, CNAN, PINF, NINF, FFLAG_NV
        TEST_S2 fadd.s, PINF, PINF, ONE, 0
        TEST_S2 fsub.s, TWO, THREE, ONE, 0
        TEST_S2 fsub.s, CNAN, PINF, PINF, FFLAG_NV
        TEST_S2 fsub.s, 0xbf000000, ONE, 0x3fc00000, 0   /* 1 - 1.5 */
        TEST_S2 fmul.s, THREE, 0x3fc00000, TWO, 0
        TEST_S2 fmul.s, NZERO, MONE, 0, 0
        TEST_S2 fmul.s, CNAN, 0, PINF, FFLAG_NV
        TEST_S2 fdiv.s, 0x3eaaaaab, ONE, THREE, FFLAG_NX
        TEST_S2 fdiv.s, HALF, ONE, TWO, 0
        TEST_S2 fdiv.s, PINF, ONE, 0, FFLAG_DZ
        TEST_S2 fdiv.s, NINF, MONE, 0, FFLAG_DZ
        TEST_S2 fdiv.s, NINF, ONE, NZERO, FFLAG_DZ
        TEST_S2 fdiv.s, CNAN, 0, 0, FFLAG_NV
        TEST_S2 fdiv.s, CNAN, PINF, PINF, FFLAG_NV
        TEST_S2 fdiv.s, 0, ONE, PINF, 0
        TEST_S1 fsqrt.s, TWO, 0x40800000, 0
        TEST_S1 fsqrt.s, 0x3fb504f3, TWO, FFLAG_NX
        TEST_S1 fsqrt.s, CNAN, MONE, FFLAG_NV
        TEST_S1 fsqrt.s, NZERO, NZERO, 0                 /* sqrt(-0) = -0 */
        TEST_S1 fsqrt.s, PINF, PINF, 0
        /* NaN operands give the canonical NaN; only sNaN signals */
        TEST_S2 fadd.s, CNAN, QNAN, ONE, 0
        TEST_S2 fadd.s, CNAN, ONE, 0xffc12345, 0
        TEST_S2 fadd.s, CNAN, SNAN, ONE, FFLAG_NV
        TEST_S2 fmul.s, CNAN, ONE, 0xff800001, FFLAG_NV
        TEST_S1 fsqrt.s, CNAN, QNAN, 0
        TEST_S1 fsqrt.s, CNAN, SNAN, FFLAG_NV
        /* overflow and underflow */
        TEST_S2 fmul.s, PINF, FMAX, TWO, FFLAG_OF | FFLAG_NX
        TEST_S2 fadd.s, PINF, FMAX, FMAX, FFLAG_OF | FFLAG_NX
        TEST_S2 fmul.s, FMAX, FMAX, TWO, FFLAG_OF | FFLAG_NX, rtz
        TEST_S2 fmul.s, 0xff7fffff, FMAX, 0xc0000000, FFLAG_OF | FFLAG_NX, rup
        TEST_S2 fmul.s, 0x00400000, 0x00800001, HALF, FFLAG_UF | FFLAG_NX
        TEST_S2 fmul.s, 0, MINSUB, HALF, FFLAG_UF | FFLAG_NX   /* tie to even: 0 */
        TEST_S2 fmul.s, MINSUB, MINSUB, HALF, FFLAG_UF | FFLAG_NX, rup
        TEST_S2 fmul.s, 0x00400000, MINN, HALF, 0        /* exact subnormal: no UF */
        TEST_S2 fdiv.s, MINSUB, MINN, 0x4b000000, 0      /* 2^-126 / 2^23, exact */

        /* ---- fused multiply-add ---- */
        TEST_S3 fmadd.s, 0x40a00000, ONE, TWO, THREE, 0       /*  1*2+3 =  5 */
        TEST_S3 fmsub.s, MONE, ONE, TWO, THREE, 0             /*  1*2-3 = -1 */
        TEST_S3 fnmsub.s, ONE, ONE, TWO, THREE, 0             /* -1*2+3 =  1 */
        TEST_S3 fnmadd.s, 0xc0a00000, ONE, TWO, THREE, 0      /* -1*2-3 = -5 */
        /* (1+2^-12)^2 - (1+2^-11) = 2^-24 exactly: one rounding only */
        TEST_S3 fmadd.s, 0x33800000, 0x3f800800, 0x3f800800, 0xbf801000, 0
        TEST_S3 fmsub.s, 0x33800000, 0x3f800800, 0x3f800800, 0x3f801000, 0
        TEST_S3 fnmadd.s, 0xb3800000, 0x3f800800, 0x3f800800, 0xbf801000, 0
        TEST_S3 fnmsub.s, 0xb3800000, 0x3f800800, 0x3f800800, 0x3f801000, 0
        /* inf * 0 + qNaN is invalid in RISC-V */
        TEST_S3 fmadd.s, CNAN, PINF, 0, QNAN, FFLAG_NV
        TEST_S3 fmadd.s, CNAN, PINF, ONE, NINF, FFLAG_NV
        TEST_S3 fmadd.s, CNAN, QNAN, ONE, ONE, 0
        TEST_S3 fmadd.s, CNAN, ONE, ONE, SNAN, FFLAG_NV
        TEST_S3 fmadd.s, PINF, FMAX, TWO, ONE, FFLAG_OF | FFLAG_NX

        /* ---- rounding modes: static ---- */
        /* 1 + 2^-24: exactly half an ulp above 1.0 */
        TEST_S2 fadd.s, ONE,        ONE, 0x33800000, FFLAG_NX, rne
        TEST_S2 fadd.s, ONE,        ONE, 0x33800000, FFLAG_NX, rtz
        TEST_S2 fadd.s, ONE,        ONE, 0x33800000, FFLAG_NX, rdn
        TEST_S2 fadd.s, 0x3f800001, ONE, 0x33800000, FFLAG_NX, rup
        TEST_S2 fadd.s, 0x3f800001, ONE, 0x33800000, FFLAG_NX, rmm
        TEST_S2 fadd.s, MONE,       MONE, 0xb3800000, FFLAG_NX, rne
        TEST_S2 fadd.s, MONE,       MONE, 0xb3800000, FFLAG_NX, rtz
        TEST_S2 fadd.s, 0xbf800001, MONE, 0xb3800000, FFLAG_NX, rdn
        TEST_S2 fadd.s, MONE,       MONE, 0xb3800000, FFLAG_NX, rup
        TEST_S2 fadd.s, 0xbf800001, MONE, 0xb3800000, FFLAG_NX, rmm
        /* (1 + 2^-23) + 2^-24: a tie whose even neighbour is above */
        TEST_S2 fadd.s, 0x3f800002, 0x3f800001, 0x33800000, FFLAG_NX, rne
        TEST_S2 fadd.s, 0x3f800001, 0x3f800001, 0x33800000, FFLAG_NX, rtz
        TEST_S2 fadd.s, 0x3f800001, 0x3f800001, 0x33800000, FFLAG_NX, rdn
        TEST_S2 fadd.s, 0x3f800002, 0x3f800001, 0x33800000, FFLAG_NX, rup
        TEST_S2 fadd.s, 0x3f800002, 0x3f800001, 0x33800000, FFLAG_NX, rmm
        /* 1/3 (not a tie) */
        TEST_S2 fdiv.s, 0x3eaaaaab, ONE, THREE, FFLAG_NX, rne
        TEST_S2 fdiv.s, 0x3eaaaaaa, ONE, THREE, FFLAG_NX, rtz
        TEST_S2 fdiv.s, 0x3eaaaaaa, ONE, THREE, FFLAG_NX, rdn
        TEST_S2 fdiv.s, 0x3eaaaaab, ONE, THREE, FFLAG_NX, rup
        TEST_S2 fdiv.s, 0x3eaaaaab, ONE, THREE, FFLAG_NX, rmm
        /* conversions to integer, +-2.5 and 3.5 */
        TEST_CVT_TOI fcvt.w.s, 2, 0x40200000, FFLAG_NX, rne
        TEST_CVT_TOI fcvt.w.s, 2, 0x40200000, FFLAG_NX, rtz
        TEST_CVT_TOI fcvt.w.s, 2, 0x40200000, FFLAG_NX, rdn
        TEST_CVT_TOI fcvt.w.s, 3, 0x40200000, FFLAG_NX, rup
        TEST_CVT_TOI fcvt.w.s, 3, 0x40200000, FFLAG_NX, rmm
        TEST_CVT_TOI fcvt.w.s, -2, 0xc0200000, FFLAG_NX, rne
        TEST_CVT_TOI fcvt.w.s, -2, 0xc0200000, FFLAG_NX, rtz
        TEST_CVT_TOI fcvt.w.s, -3, 0xc0200000, FFLAG_NX, rdn
        TEST_CVT_TOI fcvt.w.s, -2, 0xc0200000, FFLAG_NX, rup
        TEST_CVT_TOI fcvt.w.s, -3, 0xc0200000, FFLAG_NX, rmm
        TEST_CVT_TOI fcvt.w.s, 4, 0x40600000, FFLAG_NX, rne
        TEST_CVT_TOI fcvt.l.s, -4, 0xc0600000, FFLAG_NX, rne

        /* ---- rounding modes: dynamic (frm) ---- */
        .irp m, 0,1,2,3,4
        csrwi frm, \m
        csrr a0, frm
        CHECK a0, \m
        csrr a0, fcsr
        CHECK a0, (\m << 5)
        .endr
        csrwi frm, RM_RNE
        TEST_S2 fadd.s, ONE,        ONE, 0x33800000, FFLAG_NX
        TEST_CVT_TOI fcvt.w.s, -2, 0xc0200000, FFLAG_NX
        csrwi frm, RM_RTZ
        TEST_S2 fadd.s, ONE,        ONE, 0x33800000, FFLAG_NX
        TEST_S2 fadd.s, 0x3f800001, 0x3f800001, 0x33800000, FFLAG_NX
        TEST_CVT_TOI fcvt.w.s, -2, 0xc0200000, FFLAG_NX
        TEST_S2 fmul.s, FMAX, FMAX, TWO, FFLAG_OF | FFLAG_NX
        csrwi frm, RM_RDN
        TEST_S2 fadd.s, 0xbf800001, MONE, 0xb3800000, FFLAG_NX
        TEST_S2 fadd.s, NZERO, ONE, MONE, 0
        TEST_CVT_TOI fcvt.w.s, -3, 0xc0200000, FFLAG_NX
        csrwi frm, RM_RUP
        TEST_S2 fadd.s, 0x3f800001, ONE, 0x33800000, FFLAG_NX
        TEST_S2 fdiv.s, 0x3eaaaaab, ONE, THREE, FFLAG_NX
        TEST_CVT_TOI fcvt.w.s, 3, 0x40200000, FFLAG_NX
        csrwi frm, RM_RMM
        TEST_S2 fadd.s, 0x3f800001, ONE, 0x33800000, FFLAG_NX
        TEST_S2 fadd.s, 0xbf800001, MONE, 0xb3800000, FFLAG_NX
        TEST_CVT_TOI fcvt.w.s, -3, 0xc0200000, FFLAG_NX
        /* a static mode overrides frm */
        TEST_S2 fadd.s, ONE, ONE, 0x33800000, FFLAG_NX, rtz
        csrwi frm, RM_RNE
        /* reserved rounding modes: frm = 5, 6, 7 with DYN, static 5, 6 */
        FLS fa1, ONE
        FLS fa2, TWO
        csrwi frm, 5
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00c5f553, fadd.s fa0, fa1, fa2, dyn
        csrwi frm, 6
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00c5f553, fadd.s fa0, fa1, fa2, dyn
        csrwi frm, 7
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00c5f553, fadd.s fa0, fa1, fa2, dyn
        csrwi frm, RM_RNE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00c5d553, .word 0x00c5d553   /* rm=5 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00c5e553, .word 0x00c5e553   /* rm=6 */
        /* with a valid frm the dynamic form works */
        EXPECT_NO_TRAP fadd.s fa0, fa1, fa2, dyn
        CHECK_S fa0, THREE

        /* ---- fflags accrue until cleared ---- */
        csrw fflags, zero
        FLS fa1, ONE
        FLS fa2, THREE
        fdiv.s fa0, fa1, fa2           /* NX */
        csrr a0, fflags
        CHECK a0, FFLAG_NX
        FLS fa2, 0
        fdiv.s fa0, fa1, fa2           /* DZ */
        csrr a0, fflags
        CHECK a0, FFLAG_NX | FFLAG_DZ
        FLS fa1, MINSUB
        FLS fa2, HALF
        fmul.s fa0, fa1, fa2           /* UF | NX */
        csrr a0, fflags
        CHECK a0, FFLAG_NX | FFLAG_DZ | FFLAG_UF
        FLS fa1, FMAX
        fadd.s fa0, fa1, fa1           /* OF | NX */
        csrr a0, fflags
        CHECK a0, FFLAG_NX | FFLAG_DZ | FFLAG_UF | FFLAG_OF
        FLS fa1, MONE
        fsqrt.s fa0, fa1               /* NV */
        csrr a0, fflags
        CHECK a0, 0x1f
        FLS fa1, ONE
        fadd.s fa0, fa1, fa1           /* exact: nothing cleared */
        csrr a0, fcsr
        CHECK a0, 0x1f
        csrrci a0, fflags, FFLAG_NV | FFLAG_DZ
        CHECK a0, 0x1f
        csrr a0, fflags
        CHECK a0, FFLAG_NX | FFLAG_UF | FFLAG_OF
        csrw fflags, zero

        /* ---- sign injection (no canonicalisation, no flags) ---- */
        TEST_S2N fsgnj.s, MONE, ONE, 0xc0000000, 0
        TEST_S2N fsgnj.s, ONE, MONE, TWO, 0
        TEST_S2N fsgnjn.s, ONE, ONE, 0xc0000000, 0
        TEST_S2N fsgnjn.s, MONE, ONE, TWO, 0
        TEST_S2N fsgnjx.s, ONE, MONE, 0xc0000000, 0
        TEST_S2N fsgnjx.s, MONE, MONE, TWO, 0
        TEST_S2N fsgnjx.s, MONE, ONE, 0xc0000000, 0
        TEST_S2N fsgnj.s, 0xffc12345, QNAN, MONE, 0
        TEST_S2N fsgnjn.s, 0x7f800001, SNAN, MONE, 0
        TEST_S2N fsgnjx.s, 0xff800001, SNAN, MONE, 0
        FLS fa1, 0x40490fdb
        fneg.s fa0, fa1
        CHECK_S fa0, 0xc0490fdb
        fabs.s fa2, fa0
        CHECK_S fa2, 0x40490fdb
        fmv.s fa3, fa0
        CHECK_S fa3, 0xc0490fdb

        /* ---- compares ---- */
        TEST_SCMP feq.s, 1, ONE, ONE, 0
        TEST_SCMP feq.s, 0, ONE, TWO, 0
        TEST_SCMP feq.s, 1, NZERO, 0, 0
        TEST_SCMP feq.s, 0, QNAN, QNAN, 0                 /* quiet */
        TEST_SCMP feq.s, 0, SNAN, ONE, FFLAG_NV
        TEST_SCMP flt.s, 1, ONE, TWO, 0
        TEST_SCMP flt.s, 0, TWO, ONE, 0
        TEST_SCMP flt.s, 0, ONE, ONE, 0
        TEST_SCMP flt.s, 0, NZERO, 0, 0
        TEST_SCMP flt.s, 1, NINF, MONE, 0
        TEST_SCMP flt.s, 0, QNAN, ONE, FFLAG_NV           /* signalling */
        TEST_SCMP flt.s, 0, ONE, SNAN, FFLAG_NV
        TEST_SCMP fle.s, 1, ONE, ONE, 0
        TEST_SCMP fle.s, 1, NZERO, 0, 0
        TEST_SCMP fle.s, 0, TWO, ONE, 0
        TEST_SCMP fle.s, 0, ONE, QNAN, FFLAG_NV
        TEST_SCMP fle.s, 1, MONE, PINF, 0

        /* ---- fmin / fmax ---- */
        TEST_S2N fmin.s, ONE, ONE, TWO, 0
        TEST_S2N fmax.s, TWO, ONE, TWO, 0
        TEST_S2N fmin.s, MONE, MONE, ONE, 0
        TEST_S2N fmin.s, NZERO, NZERO, 0, 0               /* -0 < +0 */
        TEST_S2N fmin.s, NZERO, 0, NZERO, 0
        TEST_S2N fmax.s, 0, NZERO, 0, 0
        TEST_S2N fmax.s, 0, 0, NZERO, 0
        TEST_S2N fmin.s, ONE, QNAN, ONE, 0                /* the non-NaN */
        TEST_S2N fmin.s, ONE, ONE, QNAN, 0
        TEST_S2N fmax.s, MONE, QNAN, MONE, 0
        TEST_S2N fmin.s, ONE, SNAN, ONE, FFLAG_NV         /* sNaN signals */
        TEST_S2N fmax.s, ONE, ONE, SNAN, FFLAG_NV
        TEST_S2N fmin.s, CNAN, QNAN, QNAN, 0              /* both NaN: canonical */
        TEST_S2N fmax.s, CNAN, SNAN, QNAN, FFLAG_NV
        TEST_S2N fmax.s, PINF, NINF, PINF, 0

        /* ---- fclass: all ten classes ---- */
.macro TEST_CLASS bits, cls
        FLS fa1, \bits
        fclass.s a0, fa1
        CHECK a0, (1 << \cls)
.endm
        TEST_CLASS NINF, 0
        TEST_CLASS MONE, 1
        TEST_CLASS 0x807fffff, 2       /* negative subnormal */
        TEST_CLASS NZERO, 3
        TEST_CLASS 0, 4
        TEST_CLASS MINSUB, 5
        TEST_CLASS MINN, 6
        TEST_CLASS PINF, 7
        TEST_CLASS SNAN, 8
        TEST_CLASS 0xffbfffff, 8       /* negative signalling NaN */
        TEST_CLASS CNAN, 9
        TEST_CLASS 0xffc00001, 9

        /* ---- conversions to integer: saturation ---- */
        TEST_CVT_TOI fcvt.w.s, 1, ONE, 0
        TEST_CVT_TOI fcvt.w.s, 0x7fffffff, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.w.s, 0x7fffffff, 0xffc00000, FFLAG_NV   /* -NaN too */
        TEST_CVT_TOI fcvt.w.s, 0x7fffffff, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.w.s, 0xffffffff80000000, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.w.s, 0x7fffffff, 0x4f32d05e, FFLAG_NV   /* 3e9 */
        TEST_CVT_TOI fcvt.w.s, 0xffffffff80000000, 0xcf32d05e, FFLAG_NV
        TEST_CVT_TOI fcvt.w.s, 0xffffffff80000000, 0xcf000000, 0  /* -2^31 exact */
        TEST_CVT_TOI fcvt.w.s, 0x7fffffff, 0x4f000000, FFLAG_NV   /* 2^31 */
        TEST_CVT_TOI fcvt.w.s, 0, 0x3e800000, FFLAG_NX, rne       /* 0.25 */
        TEST_CVT_TOI fcvt.wu.s, 0xffffffffb2d05e00, 0x4f32d05e, 0 /* 3e9, sign-extended */
        TEST_CVT_TOI fcvt.wu.s, -1, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.s, -1, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.s, 0, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.s, 0, MONE, FFLAG_NV
        TEST_CVT_TOI fcvt.wu.s, 0, 0xbf000000, FFLAG_NX, rtz      /* -0.5 -> 0 */
        TEST_CVT_TOI fcvt.wu.s, -1, 0x4f800000, FFLAG_NV          /* 2^32 */
        TEST_CVT_TOI fcvt.l.s, 3000000000, 0x4f32d05e, 0
        TEST_CVT_TOI fcvt.l.s, 0x7fffffffffffffff, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.l.s, 0x7fffffffffffffff, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.l.s, 0x8000000000000000, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.l.s, 0x7fffffffffffffff, 0x5f000000, FFLAG_NV   /* 2^63 */
        TEST_CVT_TOI fcvt.l.s, 0x8000000000000000, 0xdf000000, 0          /* -2^63 */
        TEST_CVT_TOI fcvt.l.s, 0x8000000000000000, 0xdf000001, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.s, 0x8000000000000000, 0x5f000000, 0
        TEST_CVT_TOI fcvt.lu.s, -1, CNAN, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.s, -1, PINF, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.s, 0, NINF, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.s, 0, MONE, FFLAG_NV
        TEST_CVT_TOI fcvt.lu.s, -1, 0x5f800000, FFLAG_NV          /* 2^64 */
        TEST_CVT_TOI fcvt.lu.s, 0xffffff0000000000, 0x5f7fffff, 0

        /* ---- conversions from integer ---- */
        TEST_CVT_FROMI fcvt.s.w, MONE, -1, 0
        TEST_CVT_FROMI fcvt.s.w, ONE, 0x100000001, 0              /* low 32 bits only */
        TEST_CVT_FROMI fcvt.s.w, 0x4f000000, 0x7fffffff, FFLAG_NX, rne
        TEST_CVT_FROMI fcvt.s.w, 0x4effffff, 0x7fffffff, FFLAG_NX, rtz
        TEST_CVT_FROMI fcvt.s.w, 0xcf000000, 0x80000000, 0
        TEST_CVT_FROMI fcvt.s.w, 0, 0, 0
        TEST_CVT_FROMI fcvt.s.wu, 0x4f800000, 0xffffffff, FFLAG_NX, rne
        TEST_CVT_FROMI fcvt.s.wu, 0x4f7fffff, 0xffffffff, FFLAG_NX, rdn
        TEST_CVT_FROMI fcvt.s.wu, 0x4f000000, 0xffffffff80000000, 0 /* low 32 bits, unsigned */
        TEST_CVT_FROMI fcvt.s.l, MONE, -1, 0
        TEST_CVT_FROMI fcvt.s.l, 0xdf000000, 0x8000000000000000, 0
        TEST_CVT_FROMI fcvt.s.l, 0x4f800000, 0x100000000, 0
        TEST_CVT_FROMI fcvt.s.l, 0x4b800000, 0x1000001, FFLAG_NX, rne  /* 2^24+1: tie to even */
        TEST_CVT_FROMI fcvt.s.l, 0x4b800001, 0x1000001, FFLAG_NX, rmm
        TEST_CVT_FROMI fcvt.s.lu, 0x5f800000, -1, FFLAG_NX, rne
        TEST_CVT_FROMI fcvt.s.lu, 0x5f7fffff, -1, FFLAG_NX, rtz
        TEST_CVT_FROMI fcvt.s.lu, 0x5f000000, 0x8000000000000000, 0

        /* ---- NaN boxing ---- */
        li a1, 0x000000003f800000      /* 1.0, upper half not all ones */
        fmv.d.x fs2, a1
        FLS fs3, ONE
        csrw fflags, zero
        fadd.s fa0, fs2, fs3           /* reads as canonical NaN (quiet) */
        CHECK_S fa0, CNAN
        CHECK_FFLAGS 0
        fsgnj.s fa0, fs2, fs3          /* canonical NaN with rs2's sign */
        CHECK_S fa0, CNAN
        FLS fs4, MONE
        fsgnj.s fa0, fs2, fs4
        CHECK_S fa0, 0xffc00000
        fsgnj.s fa0, fs3, fs2          /* sign taken from the canonical NaN: + */
        CHECK_S fa0, ONE
        fclass.s a0, fs2
        CHECK a0, (1 << 9)
        feq.s a0, fs2, fs2
        CHECK a0, 0
        CHECK_FFLAGS 0
        fmin.s fa0, fs2, fs3
        CHECK_S fa0, ONE
        fcvt.w.s a0, fs2
        CHECK a0, 0x7fffffff
        CHECK_FFLAGS FFLAG_NV
        li a1, 0xfffffffe3f800000      /* almost boxed: still not boxed */
        fmv.d.x fs2, a1
        fmadd.s fa0, fs2, fs3, fs3
        CHECK_S fa0, CNAN
        /* transfers ignore the upper half */
        li a1, 0x12345678bf800000
        fmv.d.x fs2, a1
        fmv.x.w a0, fs2
        CHECK a0, 0xffffffffbf800000
        la s0, fdata
        fsw fs2, 8(s0)
        lwu a0, 8(s0)
        CHECK a0, 0xbf800000
        /* any single-precision result is boxed */
        FLS fa1, ONE
        fmv.d.x fa0, zero
        fadd.s fa0, fa1, fa1
        CHECK_S fa0, TWO

        /* ---- mstatus.FS ---- */
        li s1, MSTATUS_FS
        csrc mstatus, s1               /* FS = Off */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00c5f553, fadd.s fa0, fa1, fa2
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, flw fa0, 0(s0)
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fsw fa0, 0(s0)
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fmv.x.w a0, fa0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fmv.w.x fa0, a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, fcvt.s.w fa0, a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, csrr a0, fcsr
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, csrr a0, fflags
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, csrwi frm, 1
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, c.fsdsp fa0, 0(sp)
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_FS, MSTATUS_FS_OFF
        /* Initial -> Dirty on an FP register write; SD follows */
        li a1, MSTATUS_FS_INITIAL
        csrs mstatus, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_FS_INITIAL
        li a1, ONE
        fmv.w.x fa0, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_SD | MSTATUS_FS_DIRTY
        csrr a0, sstatus               /* SD and FS visible in sstatus too */
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_SD | MSTATUS_FS_DIRTY
        /* Clean -> Dirty on an arithmetic result */
        csrc mstatus, s1
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_FS_CLEAN
        fadd.s fa0, fa1, fa1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, MSTATUS_SD | MSTATUS_FS_DIRTY
        /* Clean -> Dirty on a load and on an fflags write */
        csrc mstatus, s1
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        flw fa0, 0(s0)
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_FS, MSTATUS_FS_DIRTY
        csrc mstatus, s1
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        csrwi fflags, 0
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_FS, MSTATUS_FS_DIRTY
        /* FS is also writable through sstatus */
        csrc sstatus, s1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SD | MSTATUS_FS, 0
        li a1, MSTATUS_FS_INITIAL
        csrs sstatus, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_FS, MSTATUS_FS_INITIAL
TEST_END

        .data
        .align 3
fdata:  .word 0x3f800000, 0xc0000000, 0xdeadbeef, 0xdeadbeef
