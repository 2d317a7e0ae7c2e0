/*
 * paging_body.h - the body of paging_sv39.S / paging_sv48.S / paging_sv57.S
 * (define PT_LEVELS first).  All traps go to M (medeleg = 0); S-mode code
 * runs from the 1 GiB identity map of DRAM, U-mode code from a 1 GiB U
 * alias of it at ALIAS_VA.
 *
 * Covered: identity and non-identity maps; 4 KiB, 2 MiB, 1 GiB (and 512
 * GiB for Sv48/57, 256 TiB for Sv57) leaves; misaligned superpages fault;
 * the highest VA (sign extension) and a non-canonical VA (fault, tval =
 * VA); R/W/X permissions with load/store/fetch page faults (cause 13/15/12,
 * tval = VA, epc); W without R is reserved (fault); V = 0; a reserved PTE
 * bit (60) faults; MXR; SUM (and S never executes U pages); U cannot use S
 * pages; hardware A/D updates checked in the PTEs in memory (A on read and
 * fetch, D on write, nothing on a faulting access); sfence.vma (all, by
 * address, by ASID) after remapping; writing satp with an unsupported mode
 * is ignored.
 */
#include "test.h"
#include "paging.h"

#define ALIAS_VA     0x40000000       /* U alias of PA 0x80000000 */
#define ALIAS_DELTA  0x40000000       /* PA - alias VA */
#define TVA(n)       (0x2000000000 + (n) * PGSIZE)
#define VA_MEGA      0x2000200000
#define VA_MEGA_BAD  0x2000400000
#define PA_MEGA      0x80400000
#define VA_GIGA      0x100000000
#define VA_GIGA_BAD  0x140000000
#define VA_TOP       0xfffffffffffff000
#define VA_TERA      0x8000000000       /* 2^39: a 512 GiB leaf (Sv48+) */
#define VA_TERA_BAD  0x10000000000
#define VA_PETA      0x1000000000000    /* 2^48: a 256 TiB leaf (Sv57) */
#define VA_PETA_BAD  0x2000000000000
#if PT_LEVELS == 3
#define VA_NONCANON  0x4000000000       /* bit 38 set, 63:39 clear */
#elif PT_LEVELS == 4
#define VA_NONCANON  0x800000000000     /* bit 47 */
#else
#define VA_NONCANON  0x100000000000000  /* bit 56 */
#endif

#define RWXAD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define RWAD  (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

#define PAT_A 0x1111111111111111
#define PAT_B 0x2222222222222222
#define PAT_C 0x3333333333333333
#define PAT_D 0x4444444444444444
#define PAT_M 0x5555555555555555

/* from U (alias mapping): trap back to M at the next instruction (physical) */
.macro U_EXIT_TO_M
        la t6, .Lback\@
        li t5, ALIAS_DELTA
        add t6, t6, t5
        sd t6, trap_resume, t5
        li t6, 2
        sd t6, trap_expected, t5
        ecall
.Lback\@:
.endm

/* save the PTE address returned by map_page */
.macro SAVE_PTE var
        sd a0, \var, t0
.endm

/* the PTE at `var` has (pte & mask) == val */
.macro CHECK_PTE var, mask, val
        ld t5, \var
        ld t5, 0(t5)
        CHECK_MASK t5, \mask, \val
.endm

TEST_BEGIN
        /* ---- test data ---- */
        li a1, PAT_A
        la a0, pageA
        sd a1, 0(a0)
        li a1, PAT_B
        la a0, pageB
        sd a1, 0(a0)
        li a1, PAT_C
        la a0, pageC
        sd a1, 0(a0)
        li a1, PAT_D
        la a0, pageD
        sd a1, 0(a0)
        la a0, pageE
        sd a1, 0(a0)
        li a0, PA_MEGA
        li a1, PAT_M
        sd a1, 0(a0)
        li a2, 0x1ff000
        add a2, a2, a0
        sd a1, 8(a2)
        /* a function in pageF: addi a0, zero, 42; ret */
        la a0, pageF
        li a1, 0x02a00513
        sw a1, 0(a0)
        li a1, 0x00008067
        sw a1, 4(a0)
        fence.i

        /* ---- page tables ---- */
        call pt_init
        MAP 0x80000000, 0x80000000, RWXAD, 2            /* identity, 1 GiB */
        MAP ALIAS_VA, 0x80000000, RWXAD | PTE_U, 2      /* U alias, 1 GiB */
        MAPL TVA(0), pageA, RWAD, 0
        SAVE_PTE pte0
        MAPL TVA(1), pageA, PTE_V | PTE_R | PTE_A, 0
        MAPL TVA(2), pageB, PTE_V | PTE_X | PTE_A, 0    /* execute-only */
        MAPL TVA(3), pageB, PTE_V | PTE_W | PTE_A | PTE_D, 0   /* reserved */
        MAPL TVA(4), pageB, RWAD & ~PTE_V, 0            /* invalid */
        MAPL TVA(5), pageC, RWAD | PTE_U, 0             /* user page */
        MAPL TVA(6), pageD, PTE_V | PTE_R | PTE_W, 0    /* A = D = 0 */
        SAVE_PTE pte6
        MAPL TVA(7), pageE, PTE_V | PTE_R | PTE_W | PTE_A, 0   /* D = 0 */
        SAVE_PTE pte7
        MAPL TVA(8), pageF, PTE_V | PTE_X, 0            /* code, A = 0 */
        SAVE_PTE pte8
        MAPL TVA(9), pageA, RWAD, 0
        ld t0, 0(a0)                                    /* reserved bit 60 */
        li t1, 1 << 60
        or t0, t0, t1
        sd t0, 0(a0)
        MAPL TVA(10), pageD, PTE_V | PTE_R | PTE_A, 0   /* read-only, D = 0 */
        SAVE_PTE pte10
        MAPL TVA(11), pageF, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A, 0  /* U code */
        MAPL TVA(12), pageD, PTE_V | PTE_R, 0           /* read-only, A = 0 */
        SAVE_PTE pte12
        MAP VA_MEGA, PA_MEGA, RWAD, 1
        MAP VA_MEGA_BAD, PA_MEGA + 0x1000, RWAD, 1      /* misaligned 2 MiB */
        MAP VA_GIGA, 0x80000000, RWAD, 2
        MAP VA_GIGA_BAD, 0x80200000, RWAD, 2            /* misaligned 1 GiB */
        MAPL VA_TOP, pageA, RWAD, 0
#if PT_LEVELS >= 4
        MAP VA_TERA, 0, RWAD, 3
        MAP VA_TERA_BAD, 0x80000000, RWAD, 3
#endif
#if PT_LEVELS >= 5
        MAP VA_PETA, 0, RWAD, 4
        MAP VA_PETA_BAD, 0x80000000, RWAD, 4
#endif

        /* ---- satp ---- */
        call satp_value
        mv s11, a0
        csrw satp, a0
        sfence.vma
        csrr a0, satp
        CHECK_REG a0, s11
        /* unsupported modes: the write is ignored */
        li a1, (1 << SATP_MODE_SHIFT) | 0x1234
        csrw satp, a1
        csrr a0, satp
        CHECK_REG a0, s11
        li a1, (7 << SATP_MODE_SHIFT)
        csrw satp, a1
        csrr a0, satp
        CHECK_REG a0, s11
        li a1, (15 << SATP_MODE_SHIFT) | 0x80000
        csrw satp, a1
        csrr a0, satp
        CHECK_REG a0, s11
        /* M-mode is not translated: PA 0x2000000000 is not TVA(0) */
        la a0, pageA
        ld a1, 0(a0)
        CHECK a1, PAT_A

        /* ================= S-mode ================= */
        ENTER_SMODE
        /* 4 KiB non-identity map */
        li s0, TVA(0)
        ld a0, 0(s0)
        CHECK a0, PAT_A
        li a1, 0x0badcafe
        sd a1, 8(s0)
        li s1, TVA(1)                  /* same page through a read-only alias */
        ld a0, 8(s1)
        CHECK a0, 0x0badcafe
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(1) + 16, sd a1, 16(s1)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(1), amoadd.d a0, a1, (s1)
        /* execute-only page; MXR makes it readable */
        li s2, TVA(2)
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(2), ld a0, 0(s2)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(2), sd a0, 0(s2)
        li a1, MSTATUS_MXR
        csrs sstatus, a1
        ld a0, 0(s2)
        CHECK a0, PAT_B
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(2) + 8, sd a0, 8(s2)   /* MXR: loads only */
        li a1, MSTATUS_MXR
        csrc sstatus, a1
        /* W without R */
        li s3, TVA(3)
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(3), ld a0, 0(s3)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(3), sd a0, 0(s3)
        /* V = 0 */
        li s4, TVA(4)
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(4) + 0x7f8, ld a0, 0x7f8(s4)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(4), sb a0, 0(s4)
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(4), lr.d a0, (s4)
        TRAP_ARM 1f
        TEST_NEXT
        jalr ra, 0(s4)
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_PAGE_FAULT
        CHECK_TRAP_TVAL TVA(4)
        ld a0, trap_epc
        CHECK a0, TVA(4)
        /* reserved PTE bit */
        li a2, TVA(9)
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(9), ld a0, 0(a2)
        /* U page from S: SUM */
        li s5, TVA(5)
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(5), ld a0, 0(s5)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(5), sd a0, 0(s5)
        li a1, MSTATUS_SUM
        csrs sstatus, a1
        ld a0, 0(s5)
        CHECK a0, PAT_C
        li a1, PAT_C + 1
        sd a1, 8(s5)
        ld a0, 8(s5)
        CHECK a0, PAT_C + 1
        /* S never executes from a U page, even with SUM */
        li a2, TVA(11)
        TRAP_ARM 1f
        TEST_NEXT
        jalr ra, 0(a2)
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_PAGE_FAULT
        CHECK_TRAP_TVAL TVA(11)
        li a1, MSTATUS_SUM
        csrc sstatus, a1
        /* fetch from a page without X */
        TRAP_ARM 1f
        TEST_NEXT
        jalr ra, 0(s0)
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_PAGE_FAULT
        CHECK_TRAP_TVAL TVA(0)

        /* ---- A/D bits, as seen in memory ---- */
        CHECK_PTE pte6, PTE_A | PTE_D, 0
        li s6, TVA(6)
        ld a0, 0(s6)
        CHECK a0, PAT_D
        CHECK_PTE pte6, PTE_A | PTE_D, PTE_A            /* read: A only */
        sd a0, 16(s6)
        CHECK_PTE pte6, PTE_A | PTE_D, PTE_A | PTE_D    /* write: D */
        CHECK_PTE pte7, PTE_A | PTE_D, PTE_A
        li a2, TVA(7)
        amoadd.d a0, a0, (a2)                           /* an AMO writes */
        CHECK_PTE pte7, PTE_A | PTE_D, PTE_A | PTE_D
        CHECK_PTE pte8, PTE_A, 0
        li a2, TVA(8)
        li a0, 0
        jalr ra, 0(a2)                                  /* fetch sets A */
        CHECK a0, 42
        CHECK_PTE pte8, PTE_A | PTE_D, PTE_A
        /* a faulting access sets nothing */
        li a2, TVA(10)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(10), sd a0, 0(a2)
        CHECK_PTE pte10, PTE_A | PTE_D, PTE_A
        li a2, TVA(12)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(12), sw a0, 0(a2)
        CHECK_PTE pte12, PTE_A | PTE_D, 0
        ld a0, 0(a2)                                    /* now a read: A */
        CHECK a0, PAT_D
        CHECK_PTE pte12, PTE_A | PTE_D, PTE_A

        /* ---- superpages ---- */
        li a2, VA_MEGA
        ld a0, 0(a2)
        CHECK a0, PAT_M
        li a3, 0x1ff000
        add a2, a2, a3
        ld a0, 8(a2)                   /* the last 4 KiB of the 2 MiB page */
        CHECK a0, PAT_M
        li a2, VA_MEGA_BAD
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, VA_MEGA_BAD, ld a0, 0(a2)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, VA_MEGA_BAD + 8, sd a0, 8(a2)
        la a2, pageA                   /* 1 GiB: VA_GIGA + (pageA - DRAM) */
        li a3, VA_GIGA - 0x80000000
        add a2, a2, a3
        ld a0, 0(a2)
        CHECK a0, PAT_A
        li a2, VA_GIGA_BAD
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, VA_GIGA_BAD, ld a0, 0(a2)
#if PT_LEVELS >= 4
        la a2, pageA                   /* 512 GiB leaf mapping PA 0 */
        li a3, VA_TERA
        add a2, a2, a3
        ld a0, 0(a2)
        CHECK a0, PAT_A
        li a2, VA_TERA_BAD
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, VA_TERA_BAD, ld a0, 0(a2)
#endif
#if PT_LEVELS >= 5
        la a2, pageA                   /* 256 TiB leaf mapping PA 0 */
        li a3, VA_PETA
        add a2, a2, a3
        ld a0, 0(a2)
        CHECK a0, PAT_A
        li a2, VA_PETA_BAD
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, VA_PETA_BAD, ld a0, 0(a2)
#endif
        /* the top of the address space (all upper bits set) */
        li a2, VA_TOP
        ld a0, 0(a2)
        CHECK a0, PAT_A
        /* non-canonical */
        li a2, VA_NONCANON
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, VA_NONCANON, ld a0, 0(a2)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, VA_NONCANON, sd a0, 0(a2)

        /* ---- sfence.vma after remapping TVA(0) ---- */
        ld s7, pte0
        ld s8, 0(s7)                   /* PTE -> pageA */
        la a1, pageB
        srli a1, a1, 12
        slli a1, a1, PTE_PPN_SHIFT
        ori a1, a1, RWAD
        sd a1, 0(s7)                   /* -> pageB */
        sfence.vma
        ld a0, 0(s0)
        CHECK a0, PAT_B
        sd s8, 0(s7)                   /* -> pageA, flush by address */
        sfence.vma s0, zero
        ld a0, 0(s0)
        CHECK a0, PAT_A
        sd a1, 0(s7)                   /* -> pageB, flush by ASID 0 */
        li a2, 0
        sfence.vma zero, a2
        ld a0, 0(s0)
        CHECK a0, PAT_B
        sd s8, 0(s7)                   /* -> pageA, address + ASID */
        sfence.vma s0, a2
        ld a0, 0(s0)
        CHECK a0, PAT_A
        RETURN_TO_MMODE

        /* ================= U-mode (alias) ================= */
        ENTER_MODE_AT PRV_U, -ALIAS_DELTA
        li s5, TVA(5)
        ld a0, 0(s5)
        CHECK a0, PAT_C
        sd a0, 16(s5)
        li s0, TVA(0)                  /* S page */
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(0), ld a0, 0(s0)
        EXPECT_TRAP CAUSE_STORE_PAGE_FAULT, TVA(0), sd a0, 0(s0)
        li a2, TVA(11)                 /* U code page */
        li a0, 0
        jalr ra, 0(a2)
        CHECK a0, 42
        li a2, TVA(8)                  /* S code page */
        TRAP_ARM 1f
        TEST_NEXT
        jalr ra, 0(a2)
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_PAGE_FAULT
        CHECK_TRAP_TVAL TVA(8)
        li s2, TVA(2)                  /* an S page (execute-only) */
        EXPECT_TRAP CAUSE_LOAD_PAGE_FAULT, TVA(2), ld a0, 0(s2)
        U_EXIT_TO_M

        /* ---- back in M: what S and U wrote landed in the right pages ---- */
        csrw satp, zero
        sfence.vma
        la a0, pageA
        ld a1, 8(a0)
        CHECK a1, 0x0badcafe
        ld a1, 16(a0)
        CHECK a1, 0                    /* the faulting store did nothing */
        la a0, pageC
        ld a1, 8(a0)
        CHECK a1, PAT_C + 1
        ld a1, 16(a0)
        CHECK a1, PAT_C
        la a0, pageD
        ld a1, 16(a0)
        CHECK a1, PAT_D
TEST_END

        PAGING_LIB

        .data
        .align 3
pte0:   .dword 0
pte6:   .dword 0
pte7:   .dword 0
pte8:   .dword 0
pte10:  .dword 0
pte12:  .dword 0
        .bss
        .align 12
pageA:  .fill PGSIZE, 1, 0
pageB:  .fill PGSIZE, 1, 0
pageC:  .fill PGSIZE, 1, 0
pageD:  .fill PGSIZE, 1, 0
pageE:  .fill PGSIZE, 1, 0
pageF:  .fill PGSIZE, 1, 0
