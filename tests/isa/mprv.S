/* mprv: mstatus.MPRV makes M-mode loads, stores and AMOs use the
   translation and protection of the mode in MPP (here Sv39), while M-mode
   instruction fetch stays untranslated (the identity map used for data is
   not executable).  MPP = S: S pages fine, U pages need SUM; MPP = U: only
   U pages; MXR applies; A/D bits are updated; faults are page faults with
   mtval = VA; MPP = M (or MPRV = 0): no translation at all. */
#define PT_LEVELS 3
#include "test.h"
#include "paging.h"

#define TVA(n)  (0x2000000000 + (n) * PGSIZE)
#define PAT_A 0x1111111111111111
#define PAT_C 0x3333333333333333

/* MPRV = 1 with MPP = prv (a trap taken in M resets MPP, so redo it) */
.macro MPRV_AS prv
        li t6, MSTATUS_MPP
        csrc mstatus, t6
        li t6, MSTATUS_MPRV | ((\prv) << 11)
        csrs mstatus, t6
.endm
.macro MPRV_OFF
        li t6, MSTATUS_MPRV
        csrc mstatus, t6
.endm

/* An access under MPRV = 1 that must trap to M. The trap is armed, and its
   records read back, with MPRV off: after the handler's MRET, MPRV is still
   set and MPP = U, so those M-mode data accesses would otherwise be
   translated as U-mode accesses (Priv. spec 3.1.6.3). s7 holds the mstatus
   seen on return from the trap. */
.macro EXPECT_MPRV_TRAP prv, cause, tval, insn:vararg
        MPRV_OFF
        TRAP_ARM .Lmres\@
        TEST_NEXT
        MPRV_AS \prv
.Lminsn\@:
        \insn
        j fail
.Lmres\@:
        csrr s7, mstatus
        MPRV_OFF
        CHECK_TRAP_CAUSE \cause
        CHECK_TRAP_MODE 3
        CHECK_TRAP_EPC_LABEL .Lminsn\@
        CHECK_TRAP_TVAL \tval
.endm

TEST_BEGIN
        li a1, PAT_A
        la a0, pageA
        sd a1, 0(a0)
        li a1, PAT_C
        la a0, pageC
        sd a1, 0(a0)
        call pt_init
        /* DRAM identity map: data only, no X, so that a translated fetch
           would fault */
        MAP 0x80000000, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D, 2
        MAPL TVA(0), pageA, PTE_V | PTE_R | PTE_W | PTE_A, 0    /* D = 0 */
        sd a0, pte0, t0
        MAPL TVA(2), pageA, PTE_V | PTE_X | PTE_A, 0            /* execute-only */
        MAPL TVA(5), pageC, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D, 0
        call satp_value
        csrw satp, a0
        sfence.vma

        /* MPRV = 0: M-mode is untranslated */
        la a0, pageA
        ld a1, 0(a0)
        CHECK a1, PAT_A
        li s0, TVA(0)
        li s2, TVA(2)
        li s5, TVA(5)
        EXPECT_TRAP CAUSE_LOAD_ACCESS, TVA(0), ld a0, 0(s0)

        /* MPRV = 1, MPP = M: still untranslated */
        MPRV_AS PRV_M
        la a0, pageA
        ld a1, 0(a0)
        CHECK a1, PAT_A

        /* MPRV = 1, MPP = S */
        MPRV_AS PRV_S
        ld a0, 0(s0)
        CHECK a0, PAT_A
        ld a1, pte0                    /* the tables are reachable too */
        ld a1, 0(a1)
        CHECK_MASK a1, PTE_D, 0
        li a1, 0x600d
        sd a1, 8(s0)                   /* a store: sets D */
        ld a0, 8(s0)
        CHECK a0, 0x600d
        ld a1, pte0
        ld a1, 0(a1)
        CHECK_MASK a1, PTE_A | PTE_D, PTE_A | PTE_D
        li a1, 1
        amoadd.d a0, a1, (s0)
        CHECK a0, PAT_A
        /* U page without SUM */
        EXPECT_MPRV_TRAP PRV_S, CAUSE_LOAD_PAGE_FAULT, TVA(5), ld a0, 0(s5)
        mv a0, s7                      /* the trap reset MPP to U (mret) */
        CHECK_MASK a0, MSTATUS_MPRV | MSTATUS_MPP, MSTATUS_MPRV
        MPRV_AS PRV_S
        EXPECT_MPRV_TRAP PRV_S, CAUSE_STORE_PAGE_FAULT, TVA(5), sd a0, 0(s5)
        MPRV_AS PRV_S
        li a1, MSTATUS_SUM
        csrs mstatus, a1
        ld a0, 0(s5)
        CHECK a0, PAT_C
        li a1, MSTATUS_SUM
        csrc mstatus, a1
        /* execute-only page: MXR */
        EXPECT_MPRV_TRAP PRV_S, CAUSE_LOAD_PAGE_FAULT, TVA(2), ld a0, 0(s2)
        MPRV_AS PRV_S
        li a1, MSTATUS_MXR
        csrs mstatus, a1
        ld a0, 0(s2)
        CHECK a0, PAT_A + 1
        li a1, MSTATUS_MXR
        csrc mstatus, a1
        /* unmapped VA: a page fault, not an access fault */
        li a2, TVA(7)
        EXPECT_MPRV_TRAP PRV_S, CAUSE_LOAD_PAGE_FAULT, TVA(7), ld a0, 0(a2)

        /* MPRV = 1, MPP = U: only U pages */
        MPRV_AS PRV_U
        ld a0, 0(s5)
        CHECK a0, PAT_C
        sd a0, 8(s5)
        EXPECT_MPRV_TRAP PRV_U, CAUSE_LOAD_PAGE_FAULT, TVA(0), ld a0, 0(s0)
        EXPECT_MPRV_TRAP PRV_U, CAUSE_STORE_PAGE_FAULT, TVA(0), sd a0, 0(s0)

        /* all this time the code ran from the non-executable map: fetches
           were never translated */
        MPRV_OFF
        csrw satp, zero
        sfence.vma
        la a0, pageA
        ld a1, 0(a0)
        CHECK a1, PAT_A + 1
        ld a1, 8(a0)
        CHECK a1, 0x600d
        la a0, pageC
        ld a1, 8(a0)
        CHECK a1, PAT_C
TEST_END

        PAGING_LIB

        .data
        .align 3
pte0:   .dword 0
        .bss
        .align 12
pageA:  .fill PGSIZE, 1, 0
pageC:  .fill PGSIZE, 1, 0
