/* interrupts: machine software interrupt through the CLINT's msip, machine
   timer through mtimecmp/mtime (mip.MTIP follows mtime >= mtimecmp),
   mstatus.MIE gating in M-mode (taken right after MIE is set, mepc = next
   instruction) but not in S/U, delegated supervisor software and timer
   interrupts (mip.SSIP / mip.STIP set by M, SSIP by S) with scause,
   sstatus.SIE gating in S but not in U, non-delegated S interrupts going
   to M, sie/sip as views masked by mideleg, priorities (MSI > MTI,
   SSI > STI, M-targeted before S-targeted; the rest: irq_priority.S),
   wfi waking on a pending interrupt with MIE = 0,
   and vectored mtvec (interrupt n at base + 4n, exceptions at base).
   The handlers (crt.S) log each interrupt's cause in irq_log and disable
   it in mie (M) or sie (S). */
#include "test.h"

#define SPIN 20000000

/* spin until irq_count >= n, or fail */
.macro WAIT_IRQS n
        TEST_NEXT
        li t0, SPIN
.Lw\@:  ld t1, irq_count
        li t2, \n
        bgeu t1, t2, .Ld\@
        addi t0, t0, -1
        bnez t0, .Lw\@
        j fail
.Ld\@:
.endm

.macro WAIT_IRQS_BY_TIME n
        TEST_NEXT
        ld t0, 0(s2)
        li t1, 100000000               /* give up after 10 s of mtime */
        add t0, t0, t1
.Lw\@:  ld t1, irq_count
        li t2, \n
        bgeu t1, t2, .Ld\@
        ld t1, 0(s2)
        bltu t1, t0, .Lw\@
        j fail
.Ld\@:
.endm

.macro RESET_IRQ_LOG
        sd zero, irq_count, t0
        sd zero, irq_mode, t0
.endm

.macro CHECK_IRQ i, cause
        ld t5, irq_log + 8 * \i
        CHECK t5, \cause
.endm

TEST_BEGIN
        li s0, CLINT_MSIP
        li s1, CLINT_MTIMECMP
        li s2, CLINT_MTIME
        li a1, -1
        sd a1, 0(s1)                   /* no timer interrupt for now */

        /* ---- msip: pending bit follows the CLINT register ---- */
        csrr a0, mip
        CHECK_MASK a0, MIP_MSIP, 0
        li a1, 1
        sw a1, 0(s0)
        csrr a0, mip
        CHECK_MASK a0, MIP_MSIP, MIP_MSIP
        lw a0, 0(s0)
        CHECK a0, 1
        sw zero, 0(s0)
        csrr a0, mip
        CHECK_MASK a0, MIP_MSIP, 0

        /* ---- MSI taken when MIE is set; mepc = the next instruction ---- */
        RESET_IRQ_LOG
        li a1, MIP_MSIP
        csrs mie, a1
        li a1, 1
        sw a1, 0(s0)
        nop
        nop
        ld a0, irq_count               /* MIE = 0: nothing taken yet */
        CHECK a0, 0
        csrsi mstatus, MSTATUS_MIE
after_mie:
        nop
        csrci mstatus, MSTATUS_MIE
        ld a0, irq_count
        CHECK a0, 1
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_SOFT)
        ld a0, irq_epc
        la a1, after_mie
        CHECK_REG a0, a1
        ld a0, irq_mode
        CHECK a0, 3
        csrr a0, mie                   /* the handler disabled MSIE */
        CHECK_MASK a0, MIP_MSIP, 0
        sw zero, 0(s0)

        /* ---- machine timer ---- */
        RESET_IRQ_LOG
        ld a0, 0(s2)
        WAIT_CHANGE a0, a1, ld a1, 0(s2)
        CHECK_LTU a0, a1               /* mtime advances */
        ld a1, 0(s2)
        li a2, 5000000                 /* 0.5 s at 10 MHz: time runs on */
        add a1, a1, a2                 /* while the monitor translates */
        sd a1, 0(s1)
        csrr a0, mip
        CHECK_MASK a0, MIP_MTIP, 0
        li a1, MIP_MTIP
        csrs mie, a1
        csrsi mstatus, MSTATUS_MIE
        WAIT_IRQS_BY_TIME 1
        csrci mstatus, MSTATUS_MIE
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_TIMER)
        csrr a0, mip                   /* still pending until mtimecmp moves */
        CHECK_MASK a0, MIP_MTIP, MIP_MTIP
        li a1, -1
        sd a1, 0(s1)
        csrr a0, mip
        CHECK_MASK a0, MIP_MTIP, 0
        /* mtimecmp = 0: pending at once */
        sd zero, 0(s1)
        csrr a0, mip
        CHECK_MASK a0, MIP_MTIP, MIP_MTIP
        li a1, -1
        sd a1, 0(s1)

        /* ---- M interrupts are taken in S and U whatever MIE says ---- */
        RESET_IRQ_LOG
        li a1, MIP_MSIP
        csrs mie, a1
        li a1, MSTATUS_MPIE
        csrc mstatus, a1               /* MIE will be 0 after mret */
        ENTER_UMODE
        li a1, 1
        sw a1, 0(s0)                   /* PMP lets U reach the CLINT */
        WAIT_IRQS 1
        RETURN_TO_MMODE
        sw zero, 0(s0)
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_SOFT)

        /* ---- sie / sip are masked by mideleg ---- */
        csrw mideleg, zero
        li a1, MIP_SSIP | MIP_STIP
        csrs mie, a1
        csrr a0, sie
        CHECK a0, 0
        csrw mie, zero
        li a1, MIP_SSIP | MIP_STIP | MIP_SEIP
        csrw mideleg, a1
        csrr a0, mideleg
        CHECK_MASK a0, MIP_SSIP | MIP_STIP | MIP_SEIP | MIP_MSIP | MIP_MTIP | MIP_MEIP, MIP_SSIP | MIP_STIP | MIP_SEIP
        li a1, MIP_SSIP | MIP_STIP
        csrs sie, a1
        csrr a0, mie
        CHECK a0, MIP_SSIP | MIP_STIP
        csrw sie, zero
        csrr a0, mie
        CHECK a0, 0
        /* S can set and clear SSIP in sip, M sees it in mip */
        li a1, MIP_SSIP
        csrs sip, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_SSIP, MIP_SSIP
        csrc sip, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_SSIP, 0

        /* ---- delegated SSI: not taken in M; in S only with SIE ---- */
        RESET_IRQ_LOG
        li a1, MIP_SSIP
        csrs mie, a1
        csrs mip, a1                   /* pending, enabled, delegated */
        csrsi mstatus, MSTATUS_MIE
        nop
        csrci mstatus, MSTATUS_MIE
        ld a0, irq_count
        CHECK a0, 0                    /* never taken in M */
        li a1, MSTATUS_SPIE | MSTATUS_SIE
        csrc mstatus, a1
        ENTER_SMODE
        nop
        ld a0, irq_count
        CHECK a0, 0                    /* S with SIE = 0 */
        csrsi sstatus, MSTATUS_SIE
s_after_sie:
        nop
        ld a0, irq_count
        CHECK a0, 1
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_S_SOFT)
        ld a0, irq_mode
        CHECK a0, 1                    /* the S handler took it */
        ld a0, irq_epc
        la a1, s_after_sie
        CHECK_REG a0, a1
        csrr a0, scause
        CHECK a0, CAUSE_IRQ(IRQ_S_SOFT)
        csrr a0, sstatus               /* sret restored SIE */
        CHECK_MASK a0, MSTATUS_SIE, MSTATUS_SIE
        li a1, MIP_SSIP
        csrc sip, a1
        /* in U, S interrupts are taken whatever SIE says */
        csrci sstatus, MSTATUS_SIE
        li a1, MIP_SSIP
        csrs sie, a1
        S_ENTER_UMODE
        RESET_IRQ_LOG
        RETURN_TO_MMODE
        li a1, MIP_SSIP
        csrs mip, a1                   /* set SSIP from M while ... */
        ENTER_UMODE                    /* ... U runs */
        WAIT_IRQS 1
        RETURN_TO_MMODE
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_S_SOFT)
        ld a0, irq_mode
        CHECK a0, 1
        li a1, MIP_SSIP
        csrc mip, a1

        /* ---- delegated STI: mip.STIP written by M ---- */
        RESET_IRQ_LOG
        li a1, MIP_STIP
        csrs mie, a1
        csrs mip, a1
        csrr a0, mip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        ENTER_SMODE
        csrr a0, sip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        li a1, MIP_STIP                /* S cannot clear STIP */
        csrc sip, a1
        csrr a0, sip
        CHECK_MASK a0, MIP_STIP, MIP_STIP
        csrsi sstatus, MSTATUS_SIE
        nop
        csrci sstatus, MSTATUS_SIE
        ld a0, irq_count
        CHECK a0, 1
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_S_TIMER)
        RETURN_TO_MMODE
        li a1, MIP_STIP
        csrc mip, a1

        /* ---- not delegated: SSI goes to M, even from S ---- */
        csrw mideleg, zero
        RESET_IRQ_LOG
        li a1, MIP_SSIP
        csrs mie, a1
        csrs mip, a1
        ENTER_SMODE                    /* M-level now (not delegated): taken */
        nop
        RETURN_TO_MMODE
        ld a0, irq_count
        CHECK a0, 1
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_S_SOFT)
        ld a0, irq_mode
        CHECK a0, 3
        li a1, MIP_SSIP
        csrc mip, a1

        /* ---- priority (the full order MSI > MTI > SSI > STI among
           interrupts to the same mode: irq_priority.S) ---- */
        /* MSI before MTI */
        RESET_IRQ_LOG
        li a1, 1
        sw a1, 0(s0)
        sd zero, 0(s1)
        li a1, MIP_MSIP | MIP_MTIP
        csrs mie, a1
        csrsi mstatus, MSTATUS_MIE
        nop
        csrci mstatus, MSTATUS_MIE
        ld a0, irq_count
        CHECK a0, 2
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_SOFT)
        CHECK_IRQ 1, CAUSE_IRQ(IRQ_M_TIMER)
        sw zero, 0(s0)
        li a1, -1
        sd a1, 0(s1)
        /* SSI before STI */
        RESET_IRQ_LOG
        li a1, MIP_SSIP | MIP_STIP
        csrs mip, a1
        csrs mie, a1
        csrsi mstatus, MSTATUS_MIE
        nop
        csrci mstatus, MSTATUS_MIE
        ld a0, irq_count
        CHECK a0, 2
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_S_SOFT)
        CHECK_IRQ 1, CAUSE_IRQ(IRQ_S_TIMER)
        li a1, MIP_SSIP | MIP_STIP
        csrc mip, a1
        /* in S: a pending M timer interrupt (to M) goes before a delegated
           SSI (to S), even though SSI has the lower number */
        RESET_IRQ_LOG
        li a1, MIP_SSIP
        csrw mideleg, a1
        csrs mip, a1
        csrs mie, a1
        sd zero, 0(s1)
        li a1, MIP_MTIP
        csrs mie, a1
        li a1, MSTATUS_SIE
        csrs mstatus, a1
        ENTER_SMODE
        nop
        nop
        RETURN_TO_MMODE
        ld a0, irq_count
        CHECK a0, 2
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_TIMER)
        CHECK_IRQ 1, CAUSE_IRQ(IRQ_S_SOFT)
        li a1, -1
        sd a1, 0(s1)
        li a1, MIP_SSIP
        csrc mip, a1
        csrw mideleg, zero
        li a1, MSTATUS_SIE
        csrc mstatus, a1

        /* ---- wfi with MIE = 0 wakes on a pending-and-enabled interrupt ---- */
        RESET_IRQ_LOG
        csrw mie, zero
        li a1, MIP_MSIP
        csrs mie, a1
        li a1, 1
        sw a1, 0(s0)
        wfi                            /* already pending: must not sleep */
        ld a0, irq_count
        CHECK a0, 0                    /* and nothing is taken */
        sw zero, 0(s0)
        csrw mie, zero
        /* timer in the future: wfi returns once it fires */
        li a1, MIP_MTIP
        csrs mie, a1
        ld a1, 0(s2)
        li a2, 20000                   /* 2 ms */
        add a1, a1, a2
        sd a1, 0(s1)
        li s3, 10000000                /* (a wfi that returns early just loops) */
1:      wfi
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        bnez a0, 2f
        addi s3, s3, -1
        bnez s3, 1b
2:      csrr a0, mip
        CHECK_MASK a0, MIP_MTIP, MIP_MTIP
        ld a0, 0(s2)
        CHECK_LEU a1, a0               /* mtime reached mtimecmp */
        ld a0, irq_count
        CHECK a0, 0
        li a1, -1
        sd a1, 0(s1)
        csrw mie, zero
        /* wfi in S with TW = 0 sleeps until the M timer interrupt, which is
           then taken with mepc = the instruction after the wfi */
        RESET_IRQ_LOG
        li a1, MIP_MTIP
        csrs mie, a1
        ld a1, 0(s2)
        li a2, 5000000                 /* 0.5 s: the timer must not fire before */
        add a1, a1, a2                 /* the wfi, even when the code on the */
        sd a1, 0(s1)                   /* way is being translated meanwhile */
        ENTER_SMODE
s_wfi:  wfi
s_after_wfi:
        RETURN_TO_MMODE
        li a1, -1
        sd a1, 0(s1)
        ld a0, irq_count
        CHECK a0, 1
        CHECK_IRQ 0, CAUSE_IRQ(IRQ_M_TIMER)
        ld a0, irq_epc
        la a1, s_after_wfi
        CHECK_REG a0, a1

        /* ---- vectored mtvec ---- */
        la a1, vtable
        ori a1, a1, 1
        csrw mtvec, a1
        csrr a0, mtvec
        CHECK_REG a0, a1
        RESET_IRQ_LOG
        sd zero, vec_hit0, t0
        sd zero, vec_hit3, t0
        li a1, MIP_MSIP
        csrs mie, a1
        li a1, 1
        sw a1, 0(s0)
        csrsi mstatus, MSTATUS_MIE
        nop
        csrci mstatus, MSTATUS_MIE
        sw zero, 0(s0)
        ld a0, irq_count
        CHECK a0, 1
        ld a0, vec_hit3                /* went through base + 4*3 */
        CHECK_NE a0, 0
        ld a0, vec_hit0
        CHECK a0, 0
        EXPECT_TRAP CAUSE_MACHINE_ECALL, 0, ecall
        ld a0, vec_hit0                /* exceptions use the base */
        CHECK_NE a0, 0
        la a1, mtrap_entry
        csrw mtvec, a1
TEST_END

        /* vector table: 4-byte jumps (no compressed j here) */
        .option push
        .option norvc
        .align 8
vtable:
        j vslot0
        j mtrap_entry
        j mtrap_entry
        j vslot3
        .rept 12
        j mtrap_entry
        .endr
        .option pop
/* mark the slot as used, keeping every register (x0's save slot is free) */
.macro VSLOT flag
        csrrw sp, mscratch, sp
        sd t0, 0(sp)
        la t0, \flag
        sd t0, 0(t0)
        ld t0, 0(sp)
        csrrw sp, mscratch, sp
        j mtrap_entry
.endm
vslot0: VSLOT vec_hit0
vslot3: VSLOT vec_hit3

        .data
        .align 3
vec_hit0: .dword 0
vec_hit3: .dword 0
