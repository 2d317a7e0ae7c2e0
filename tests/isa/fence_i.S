/* fence_i: self-modifying code made visible by fence.i — a function in a
   data page rewritten (32-bit and compressed encodings, a single-byte
   patch of an immediate), a function that ran thousands of times (hot, as
   a binary translator would see it) before being rewritten, and an
   instruction patched just ahead in the running instruction stream, in
   the same page.  (Whether a stale instruction may run without fence.i is
   left open by the spec: not checked.) */
#include "test.h"

#define ADDI_A0(imm) (0x00000513 | ((imm) << 20))   /* addi a0, zero, imm */
#define RET          0x00008067                    /* jalr x0, 0(ra) */
#define C_LI_A0(imm) (0x4501 | ((imm) << 2))        /* c.li a0, imm (0..31) */
#define C_JR_RA      0x8082

.macro CALL_FN
        la t0, fn
        jalr ra, 0(t0)
.endm

TEST_BEGIN
        la s0, fn
        li a1, ADDI_A0(1)
        sw a1, 0(s0)
        li a1, RET
        sw a1, 4(s0)
        fence.i
        CALL_FN
        CHECK a0, 1
        li a1, ADDI_A0(2)
        sw a1, 0(s0)
        fence.i
        CALL_FN
        CHECK a0, 2
        /* compressed: c.li a0, 3; c.jr ra */
        li a1, C_LI_A0(3) | (C_JR_RA << 16)
        sw a1, 0(s0)
        fence.i
        CALL_FN
        CHECK a0, 3
        /* one byte: c.li a0, 3 -> c.li a0, 4 (imm[4:0] in bits 6:2) */
        lbu a1, 0(s0)
        addi a1, a1, 4
        sb a1, 0(s0)
        fence.i
        CALL_FN
        CHECK a0, 4
        /* back to 32-bit code, across the old 16-bit boundary */
        li a1, ADDI_A0(-5)
        sw a1, 0(s0)
        li a1, RET
        sw a1, 4(s0)
        fence.i
        CALL_FN
        CHECK a0, -5

        /* hot function: a loop body run 5000 times, then rewritten */
        li a1, ADDI_A0(1)
        sw a1, 0(s0)
        fence.i
        li s1, 5000
        li s2, 0
1:      CALL_FN
        add s2, s2, a0
        addi s1, s1, -1
        bnez s1, 1b
        CHECK s2, 5000
        li a1, ADDI_A0(3)
        sw a1, 0(s0)
        fence.i
        li s1, 5000
        li s2, 0
1:      CALL_FN
        add s2, s2, a0
        addi s1, s1, -1
        bnez s1, 1b
        CHECK s2, 15000

        /* a loop that patches its own body each iteration */
        li s1, 10
        li s2, 0
        la s3, patched
2:      addi a1, s1, 0                 /* a1 = s1 */
        slli a1, a1, 20
        li a2, 0x00000513
        or a1, a1, a2                  /* addi a0, zero, s1 */
        sw a1, 0(s3)
        fence.i
        .option push
        .option norvc                  /* a 4-byte instruction to rewrite */
patched:
        addi a0, zero, 0               /* rewritten to addi a0, zero, s1 */
        .option pop
        add s2, s2, a0
        addi s1, s1, -1
        bnez s1, 2b
        CHECK s2, 55                   /* 10 + 9 + ... + 1 */

        /* the very next instruction */
        la s3, next
        li a1, ADDI_A0(77)
        li a0, 0
        sw a1, 0(s3)
        fence.i
        .option push
        .option norvc
next:   addi a0, zero, 66
        .option pop
        CHECK a0, 77
TEST_END

        .data
        .align 6
fn:     .fill 64, 1, 0
