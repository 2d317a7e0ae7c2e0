/* xret_mprv: an MRET or SRET that changes the privilege mode to one below
   M sets MPRV = 0 (privileged spec 1.12, mstatus.MPRV); one that stays in
   M keeps it.  (MPRV can only be 1 in M-mode then, so sret from S never
   sees it set.)  TRAPEZE-ONLY: QEMU 7.2 leaves MPRV set (fails at check 7,
   the first mstatus check after the mret to U). */
#include "test.h"

TEST_BEGIN
        /* mret to U */
        li a1, MSTATUS_MPRV
        csrs mstatus, a1
        ENTER_UMODE
        EXPECT_TRAP CAUSE_USER_ECALL, 0, ecall
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_MPRV, 0
        RETURN_TO_MMODE
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_MPRV, 0
        /* mret to S */
        li a1, MSTATUS_MPRV
        csrs mstatus, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_SUPERVISOR_ECALL, 0, ecall
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_MPRV, 0
        RETURN_TO_MMODE
        /* sret from M to S */
        li a1, MSTATUS_MPRV | MSTATUS_SPP
        csrs mstatus, a1
        la a1, 1f
        csrw sepc, a1
        sret
1:      EXPECT_TRAP CAUSE_SUPERVISOR_ECALL, 0, ecall
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_MPRV, 0
        RETURN_TO_MMODE
        /* mret staying in M keeps it */
        li a1, MSTATUS_MPRV | MSTATUS_MPP
        csrs mstatus, a1
        la a1, 4f
        csrw mepc, a1
        mret
4:      csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_MPRV, MSTATUS_MPRV
        li a1, MSTATUS_MPRV
        csrc mstatus, a1
TEST_END
