/* sstc: with menvcfg.STCE = 1, mip.STIP reflects time >= stimecmp (and M
   can no longer write it); the supervisor timer interrupt, delegated,
   reaches S with scause 5 once time passes stimecmp; S writes stimecmp to
   clear it; S access to stimecmp needs mcounteren.TM and STCE (illegal
   instruction otherwise); with STCE = 0, mip.STIP is M-writable again.
   (QEMU 7.2 validation: runs on -M virt, whose CSR `time` Sstc needs.) */
#include "test.h"

#define MENVCFG_STCE 0x8000000000000000

TEST_BEGIN
        li a1, MENVCFG_STCE
        csrs CSR_MENVCFG, a1
        csrr a0, CSR_MENVCFG
        CHECK_MASK a0, MENVCFG_STCE, MENVCFG_STCE

        /* ---- STIP follows stimecmp ---- */
        li a1, -1
        csrw CSR_STIMECMP, a1
        csrr a0, CSR_STIMECMP
        CHECK a0, -1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, 0
        li a1, MIP_STIP                /* not writable by M now */
        csrs mip, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, 0
        csrw CSR_STIMECMP, zero        /* in the past */
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        csrr a0, sip
        CHECK_MASK a0, MIP_STIP, 0     /* not delegated yet: sip hides it */
        li a1, MIP_STIP
        csrc mip, a1                   /* cannot be cleared either */
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        /* in the future: pending only after time passes it.  The margin
           (0.5 s) is wide because host time runs on while the monitor
           works, e.g. translating the next block; the wait is bounded by
           time (10 s), not by a count of tries. */
        rdtime a1
        li a2, 5000000
        add a1, a1, a2
        csrw CSR_STIMECMP, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, 0
        TEST_NEXT
        li a3, 100000000
        add a3, a3, a1
1:      csrr a0, mip
        andi a0, a0, MIP_STIP
        bnez a0, 2f
        rdtime a4
        bltu a4, a3, 1b
        j fail
2:      rdtime a0
        CHECK_LEU a1, a0
        li a1, -1
        csrw CSR_STIMECMP, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, 0

        /* ---- delegated interrupt, handled in S ---- */
        li a1, MIP_STIP
        csrw mideleg, a1
        li a1, 7
        csrw mcounteren, a1
        ENTER_SMODE
        csrr a0, CSR_STIMECMP          /* S may access it (TM = STCE = 1) */
        CHECK a0, -1
        li a1, MIP_STIP
        csrs sie, a1
        csrsi sstatus, MSTATUS_SIE
        rdtime a1
        li a2, 10000
        add a1, a1, a2
        csrw CSR_STIMECMP, a1
        TEST_NEXT
        li a3, 100000000
1:      ld a0, irq_count
        bnez a0, 2f
        addi a3, a3, -1
        bnez a3, 1b
        j fail
2:      csrci sstatus, MSTATUS_SIE
        ld a0, irq_log
        CHECK a0, CAUSE_IRQ(IRQ_S_TIMER)
        ld a0, irq_mode
        CHECK a0, 1
        rdtime a0
        CHECK_LEU a1, a0
        csrr a0, sip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        li a1, -1                      /* S clears it by moving stimecmp */
        csrw CSR_STIMECMP, a1
        csrr a0, sip
        CHECK_MASK a0, MIP_STIP, 0
        RETURN_TO_MMODE

        /* ---- S access needs mcounteren.TM ... ---- */
        li a1, 5                       /* CY | IR */
        csrw mcounteren, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x14d02573, csrr a0, CSR_STIMECMP
        RETURN_TO_MMODE
        li a1, 7
        csrw mcounteren, a1
        /* ... and STCE */
        li a1, MENVCFG_STCE
        csrc CSR_MENVCFG, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x14d02573, csrr a0, CSR_STIMECMP
        RETURN_TO_MMODE
        /* STCE = 0: STIP is M's to write again (stimecmp = -1 from above) */
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, 0
        li a1, MIP_STIP
        csrs mip, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        csrc mip, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, 0
        csrw mideleg, zero
TEST_END
