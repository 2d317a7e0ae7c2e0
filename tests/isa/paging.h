/*
 * paging.h - page-table helpers shared by paging_sv39/48/57.S and mprv.S.
 *
 * Define PT_LEVELS (3, 4 or 5) before including.  PAGING_LIB (after
 * TEST_END) emits:
 *   pt_init                       root = a fresh zeroed table from pt_pool
 *   map_page(a0 va, a1 pa, a2 flags, a3 level) -> a0 = &PTE
 *                                 level 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB,
 *                                 3 = 512 GiB, 4 = 256 TiB leaf; tables on
 *                                 the way are allocated (non-leaf PTE = V);
 *                                 flags are written as given (V included)
 *   satp_value -> a0              (mode << 60) | root PPN
 * Clobbers t0-t4 (not t5/t6), a0.
 */
#ifndef TRAPEZE_PAGING_H
#define TRAPEZE_PAGING_H

#define PGSIZE 4096
#define PT_POOL_PAGES 48

#if PT_LEVELS == 3
#define SATP_MODE_THIS SATP_MODE_SV39
#elif PT_LEVELS == 4
#define SATP_MODE_THIS SATP_MODE_SV48
#else
#define SATP_MODE_THIS SATP_MODE_SV57
#endif

/* MAP va, pa, flags, level  (M-mode, before satp is set, or any mode that
   can write the tables) */
.macro MAP va, pa, flags, level
        li a0, \va
        li a1, \pa
        li a2, \flags
        li a3, \level
        call map_page
.endm
/* same with the PA taken from a label */
.macro MAPL va, label, flags, level
        li a0, \va
        la a1, \label
        li a2, \flags
        li a3, \level
        call map_page
.endm

.macro PAGING_LIB
        .text
pt_init:
        la t0, pt_pool
        li t1, PT_POOL_PAGES * PGSIZE
        add t1, t1, t0
1:      sd zero, 0(t0)
        addi t0, t0, 8
        bltu t0, t1, 1b
        la t0, pt_pool
        sd t0, pt_root, t1
        li t1, PGSIZE
        add t0, t0, t1
        sd t0, pt_next, t1
        ret

map_page:
        ld t0, pt_root
        li t1, PT_LEVELS - 1
1:      slli t2, t1, 3
        add t2, t2, t1                 /* 9 * level */
        addi t2, t2, 12
        srl t3, a0, t2
        andi t3, t3, 511
        slli t3, t3, 3
        add t3, t3, t0                 /* &PTE at this level */
        beq t1, a3, 3f
        ld t4, 0(t3)
        andi t2, t4, PTE_V
        bnez t2, 2f
        ld t4, pt_next                 /* allocate the next-level table */
        li t2, PGSIZE
        add t2, t2, t4
        sd t2, pt_next, t0
        srli t4, t4, 12
        slli t4, t4, PTE_PPN_SHIFT
        ori t4, t4, PTE_V
        sd t4, 0(t3)
2:      srli t4, t4, PTE_PPN_SHIFT
        slli t0, t4, 12
        addi t1, t1, -1
        j 1b
3:      srli t4, a1, 12
        slli t4, t4, PTE_PPN_SHIFT
        or t4, t4, a2
        sd t4, 0(t3)
        mv a0, t3
        ret

satp_value:
        ld a0, pt_root
        srli a0, a0, 12
        li t0, (SATP_MODE_THIS << SATP_MODE_SHIFT)
        or a0, a0, t0
        ret

        .data
        .align 3
pt_root: .dword 0
pt_next: .dword 0
        .bss
        .align 12
pt_pool: .fill PT_POOL_PAGES * PGSIZE, 1, 0
.endm

#endif
