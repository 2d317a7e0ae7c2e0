/* rv64i_branch_jump: every conditional branch taken and not taken (signed
   vs unsigned edge operands, equal operands, backward and forward), jal and
   jalr link values, jalr with offsets and clearing of bit 0, rd = rs1,
   and jumps with rd = x0. */
#include "test.h"

/* BR_TAKEN op, a, b: the branch must be taken */
.macro BR_TAKEN op, a, b
        TEST_NEXT
        li a1, \a
        li a2, \b
        \op a1, a2, .Lt\@
        j fail
.Lt\@:
.endm

/* BR_NOT op, a, b: the branch must fall through */
.macro BR_NOT op, a, b
        TEST_NEXT
        li a1, \a
        li a2, \b
        \op a1, a2, .Lf\@
        j .Lok\@
.Lf\@:  j fail
.Lok\@:
.endm

#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff

TEST_BEGIN
        BR_TAKEN beq, 0, 0
        BR_TAKEN beq, -1, -1
        BR_TAKEN beq, MIN64, MIN64
        BR_NOT   beq, 0, 1
        BR_NOT   beq, 0x100000000, 0     /* differ only in the upper half */
        BR_NOT   beq, MIN64, 0

        BR_TAKEN bne, 0, 1
        BR_TAKEN bne, 0x100000000, 0
        BR_TAKEN bne, MIN64, 0
        BR_NOT   bne, 0, 0
        BR_NOT   bne, -1, -1

        BR_TAKEN blt, -1, 0
        BR_TAKEN blt, MIN64, MAX64
        BR_TAKEN blt, 0, 1
        BR_TAKEN blt, MIN64, -1
        BR_NOT   blt, 0, 0
        BR_NOT   blt, 0, -1
        BR_NOT   blt, MAX64, MIN64
        BR_NOT   blt, 1, 0

        BR_TAKEN bge, 0, 0
        BR_TAKEN bge, 0, -1
        BR_TAKEN bge, MAX64, MIN64
        BR_TAKEN bge, -1, -1
        BR_NOT   bge, -1, 0
        BR_NOT   bge, MIN64, MAX64

        BR_TAKEN bltu, 0, -1
        BR_TAKEN bltu, MAX64, MIN64
        BR_TAKEN bltu, 0, 1
        BR_NOT   bltu, -1, 0
        BR_NOT   bltu, MIN64, MAX64
        BR_NOT   bltu, 5, 5

        BR_TAKEN bgeu, -1, 0
        BR_TAKEN bgeu, MIN64, MAX64
        BR_TAKEN bgeu, 5, 5
        BR_NOT   bgeu, 0, -1
        BR_NOT   bgeu, MAX64, MIN64

        /* backward branch: a loop counting 10 iterations */
        li a0, 0
        li a1, 10
1:      addi a0, a0, 1
        blt a0, a1, 1b
        CHECK a0, 10
        /* backward bne loop, the way compilers write it */
        li a0, 5
        li a2, 0
2:      addi a2, a2, 3
        addi a0, a0, -1
        bnez a0, 2b
        CHECK a2, 15

        /* a branch whose target is far (> 2 KiB forward) */
        TEST_NEXT
        beq zero, zero, far_target
        j fail
back_from_far:

        /* jal: link = pc + 4, jump forward */
        TEST_NEXT
        li ra, 0
jal1:   jal ra, jal1_t
        j fail
jal1_t: la a1, jal1 + 4
        CHECK_REG ra, a1

        /* jal with another rd, and backward */
        j jal2_fwd
jal2_back:
        la a1, jal2 + 4
        CHECK_REG s1, a1
        j jal2_done
jal2_fwd:
jal2:   jal s1, jal2_back
        j fail
jal2_done:

        /* jal x0 (j) does not write any register */
        li ra, 0x55
        j 3f
        j fail
3:      CHECK ra, 0x55

        /* jalr: target = (rs1 + imm) & ~1, link = pc + 4 */
        la a1, jalr1_t
        li ra, 0
jalr1:  jalr ra, 0(a1)
        j fail
jalr1_t:
        la a2, jalr1 + 4
        CHECK_REG ra, a2

        /* positive and negative offsets */
        la a1, jalr2_t - 16
jalr2:  jalr t0, 16(a1)
        j fail
jalr2_t:
        la a2, jalr2 + 4
        CHECK_REG t0, a2

        la a1, jalr3_t + 20
jalr3:  jalr t1, -20(a1)
        j fail
jalr3_t:
        la a2, jalr3 + 4
        CHECK_REG t1, a2

        /* bit 0 of the target is cleared */
        la a1, jalr4_t + 1
jalr4:  jalr t2, 0(a1)
        j fail
jalr4_t:
        la a2, jalr4 + 4
        CHECK_REG t2, a2
        /* odd through the immediate */
        la a1, jalr5_t
        addi a1, a1, -3
jalr5:  jalr t2, 4(a1)            /* a1 + 4 = target + 1 */
        j fail
jalr5_t:
        la a2, jalr5 + 4
        CHECK_REG t2, a2

        /* rd == rs1: the target uses the old value, the link the new */
        la a1, jalr6_t
jalr6:  jalr a1, 0(a1)
        j fail
jalr6_t:
        la a2, jalr6 + 4
        CHECK_REG a1, a2

        /* jalr x0 (ret / jr) writes nothing */
        la ra, jalr7_t
        li t0, 0x77
        jalr x0, 0(ra)
        j fail
jalr7_t:
        CHECK t0, 0x77
        la a1, jalr7_t
        CHECK_REG ra, a1

        /* call / ret pair through a function */
        li a0, 20
        call add22
        CHECK a0, 42

        /* jal over ~600 KiB (20-bit immediate) and back */
        li ra, 0
jal_far:
        jal ra, very_far
        j fail
very_far_back:
        la a1, jal_far + 4
        CHECK_REG a0, a1
TEST_END

add22:  addi a0, a0, 22
        ret

        .fill 1100, 4, 0x00000013      /* 4.4 KiB of nops */
far_target:
        j back_from_far

        .section .text.far, "ax", @progbits
        .fill 150000, 4, 0x00000013    /* 600 KiB of nops */
very_far:
        mv a0, ra
        jal zero, very_far_back
