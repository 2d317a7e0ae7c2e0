/* amo_faults: AMOs raise store/AMO exceptions (A extension: "AMOs ...
   raise store/AMO exceptions").  A misaligned AMO or SC must raise cause 6
   (address misaligned) or 7 (access fault) with tval = the address and
   write nothing; an AMO on an unmapped address raises cause 7.
   TRAPEZE-ONLY: QEMU 7.2 reports them as load exceptions (cause 4 for the
   misaligned ones, 5 for the access fault). */
#include "test.h"

#define CHECK_ONEOF_CAUSE(c1, c2) \
        ld t5, trap_cause; TEST_NEXT; li t6, c1; beq t5, t6, 9f; li t6, c2; beq t5, t6, 9f; j fail; 9:

TEST_BEGIN
        la s2, abuf
        li a1, 1
        EXPECT_NO_TRAP amoadd.w a0, a1, (s2)    /* aligned */
        addi s3, s2, 2
        TRAP_ARM 2f
        TEST_NEXT
        amoadd.w a0, a1, (s3)
        j fail
2:      CHECK_ONEOF_CAUSE(CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS)
        CHECK_TRAP_TVAL_REG s3
        addi s3, s2, 4
        TRAP_ARM 2f
        TEST_NEXT
        amoswap.d a0, a1, (s3)
        j fail
2:      CHECK_ONEOF_CAUSE(CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS)
        CHECK_TRAP_TVAL_REG s3
        addi s3, s2, 1
        TRAP_ARM 2f
        TEST_NEXT
        amomaxu.w a0, a1, (s3)
        j fail
2:      CHECK_ONEOF_CAUSE(CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS)
        CHECK_TRAP_TVAL_REG s3
        lr.w a0, (s2)           /* hold a reservation: still must trap */
        addi s3, s2, 2
        TRAP_ARM 2f
        TEST_NEXT
        sc.w a0, a1, (s3)
        j fail
2:      CHECK_ONEOF_CAUSE(CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS)
        CHECK_TRAP_TVAL_REG s3
        ld a0, 0(s2)
        CHECK a0, 1             /* the misaligned AMOs wrote nothing */

        /* access faults: store/AMO access fault, tval = address */
        li s1, 0x800
        EXPECT_TRAP CAUSE_STORE_ACCESS, 0x800, amoadd.w a0, a1, (s1)
        EXPECT_TRAP CAUSE_STORE_ACCESS, 0x800, amoswap.d a0, a1, (s1)
        EXPECT_TRAP CAUSE_STORE_ACCESS, 0x800, amominu.d a0, a1, (s1)
        /* LR is a load */
        EXPECT_TRAP CAUSE_LOAD_ACCESS, 0x800, lr.d a0, (s1)
TEST_END

        .data
        .align 4
abuf:   .fill 4, 8, 0
