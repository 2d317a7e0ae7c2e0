/* irq_priority: interrupts pending for the same target mode are taken in
   the privileged spec's order MEI > MSI > MTI > SEI > SSI > STI, here with
   MSI, MTI, SSI and STI all pending, enabled and not delegated (all to M).
   TRAPEZE-ONLY: QEMU 7.2 without AIA takes the lowest-numbered pending
   interrupt first (SSI = 1 before MSI = 3, STI = 5 before MTI = 7). */
#include "test.h"

.macro CHECK_IRQ i, cause
        ld t5, irq_log + 8 * \i
        CHECK t5, \cause
.endm

TEST_BEGIN
        li s0, CLINT_MSIP
        li s1, CLINT_MTIMECMP
        li a1, 1
        sw a1, 0(s0)                   /* MSIP */
        sd zero, 0(s1)                 /* MTIP */
        li a1, MIP_SSIP | MIP_STIP
        csrs mip, a1
        li a1, MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP
        csrs mie, a1
        csrsi mstatus, MSTATUS_MIE     /* four traps in a row; the handler */
        nop                            /* disables each one it takes */
        csrci mstatus, MSTATUS_MIE
        ld a0, irq_count
        CHECK a0, 4
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_SOFT)
        CHECK_IRQ 1, CAUSE_IRQ(IRQ_M_TIMER)
        CHECK_IRQ 2, CAUSE_IRQ(IRQ_S_SOFT)
        CHECK_IRQ 3, CAUSE_IRQ(IRQ_S_TIMER)
        sw zero, 0(s0)
        li a1, -1
        sd a1, 0(s1)
        li a1, MIP_SSIP | MIP_STIP
        csrc mip, a1
        /* MTI before SSI with only those two */
        sd zero, irq_count, t0
        li a1, MIP_SSIP
        csrs mip, a1
        sd zero, 0(s1)
        li a1, MIP_MTIP | MIP_SSIP
        csrs mie, a1
        csrsi mstatus, MSTATUS_MIE
        nop
        csrci mstatus, MSTATUS_MIE
        ld a0, irq_count
        CHECK a0, 2
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_TIMER)
        CHECK_IRQ 1, CAUSE_IRQ(IRQ_S_SOFT)
        li a1, -1
        sd a1, 0(s1)
        li a1, MIP_SSIP
        csrc mip, a1
TEST_END
