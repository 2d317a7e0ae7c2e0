/* pmp: 16 entries (pmpaddr0..15 and pmpcfg0/2 read back; pmpcfg1/3 do not
   exist on RV64); G = 0 granularity (pmpaddr reads back as written, NA4
   works); NA4, NAPOT and TOR matching; the lowest-numbered matching entry
   decides (also when a later entry would allow); an access matching an
   entry only partially fails (for M too); R/W/X checked for S and U (load/store/fetch
   access faults, tval = address) while M ignores unlocked entries; S/U
   accesses with no matching entry fail once entry 15 (crt.S's catch-all)
   is gone, M's succeed; locked entries bind M too and cannot be rewritten
   (nor the pmpaddr below a locked TOR entry). */
#include "test.h"

#define NAPOT(base, size) (((base) | ((size) / 2 - 1)) >> 2)

.macro PMPCFG_SET i, val
.if \i < 8
        li t6, 0xff << (8 * \i)
        csrc pmpcfg0, t6
        li t6, (\val) << (8 * \i)
        csrs pmpcfg0, t6
.else
        li t6, 0xff << (8 * (\i - 8))
        csrc pmpcfg2, t6
        li t6, (\val) << (8 * (\i - 8))
        csrs pmpcfg2, t6
.endif
.endm

/* pmpaddr_i = a register value */
.macro PMPADDR_SET i, reg
        csrw pmpaddr\i, \reg
.endm

/* the function at pcode: a0 = 42 */
.macro CALL_PCODE
        la t0, pcode
        jalr ra, 0(t0)
.endm

TEST_BEGIN
        /* code for the fetch checks */
        la a0, pcode
        li a1, 0x02a00513              /* addi a0, zero, 42 */
        sw a1, 0(a0)
        li a1, 0x00008067              /* ret */
        sw a1, 4(a0)
        fence.i

        /* ---- 16 pmpaddr registers, G = 0 ---- */
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14
        li a1, 0x2000000 + \i * 0x111
        csrw pmpaddr\i, a1
        .endr
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14
        csrr a0, pmpaddr\i
        CHECK a0, 0x2000000 + \i * 0x111
        .endr
        li a1, -1
        csrw pmpaddr0, a1
        csrr a0, pmpaddr0
        CHECK_MASK a0, 0x003fffffffffffff, 0x003fffffffffffff   /* bits 53:0 */
        li a1, 0x0000000123456789      /* odd low bits: kept with G = 0 */
        csrw pmpaddr1, a1
        csrr a0, pmpaddr1
        CHECK a0, 0x0000000123456789
        /* pmpcfg: entries off (A = 0) keep their R/W/X/L=0 bits */
        li a1, 0x0005040307010000
        csrw pmpcfg0, a1
        csrr a0, pmpcfg0
        CHECK a0, 0x0005040307010000
        csrr s0, pmpcfg2               /* entry 15 (crt.S) */
        CHECK s0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
        li a1, 0x0001030507000000 | ((PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56)
        csrw pmpcfg2, a1
        csrr a0, pmpcfg2
        CHECK_REG a0, a1
        csrw pmpcfg2, s0
        csrw pmpcfg0, zero
        /* RV64 has no odd pmpcfg registers */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x3a102573, csrr a0, pmpcfg1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x3a302573, csrr a0, pmpcfg3

        /* ---- NA4 beats NAPOT, NAPOT beats entry 15 ---- */
        la s1, ppage                   /* 4 KiB, aligned */
        li a1, 0x1111111111111111
        sd a1, 0(s1)
        sd a1, 8(s1)
        srli a1, s1, 2
        PMPADDR_SET 0, a1              /* NA4: ppage[0..3], R only */
        li a2, 4096
        add a2, a2, s1
        addi a2, a2, -1
        srli a1, s1, 2
        ori a1, a1, 0x1ff              /* NAPOT: the whole 4 KiB, R/W */
        PMPADDR_SET 1, a1
        PMPCFG_SET 0, PMP_NA4 | PMP_R
        PMPCFG_SET 1, PMP_NAPOT | PMP_R | PMP_W
        ENTER_SMODE
        lw a0, 0(s1)
        CHECK a0, 0x11111111
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sw a0, 0(s1)
        mv a2, s1
        CHECK_TRAP_TVAL_REG a2
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sb a0, 3(s1)
        li a1, 0x2222
        sw a1, 4(s1)                   /* entry 1: R/W */
        lw a0, 4(s1)
        CHECK a0, 0x2222
        sd a1, 8(s1)
        /* an 8-byte access only partly inside entry 0 fails */
        EXPECT_TRAP_C CAUSE_LOAD_ACCESS, ld a0, 0(s1)
        /* no X in entry 1 */
        TRAP_ARM 1f
        TEST_NEXT
        jalr ra, 0(s1)
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_ACCESS
        CHECK_TRAP_TVAL_REG s1
        /* U obeys the same entries */
        S_ENTER_UMODE
        lw a0, 4(s1)
        CHECK a0, 0x2222
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sw a0, 0(s1)
        RETURN_TO_MMODE
        /* M ignores unlocked entries */
        li a1, 0x3333
        sw a1, 0(s1)
        lw a0, 0(s1)
        CHECK a0, 0x3333
        /* but a partial match fails even for M, whatever L/R/W/X say */
        EXPECT_TRAP_C CAUSE_LOAD_ACCESS, ld a0, 0(s1)
        lw a0, 4(s1)
        CHECK a0, 0x2222

        /* ---- TOR: [pmpaddr3, pmpaddr4) with no permissions ---- */
        csrw pmpcfg0, zero
        addi a1, s1, 256
        srli a1, a1, 2
        PMPADDR_SET 3, a1
        addi a1, s1, 512
        srli a1, a1, 2
        PMPADDR_SET 4, a1
        PMPCFG_SET 4, PMP_TOR          /* entry 3 stays OFF: only a bottom */
        ENTER_SMODE
        ld a0, 248(s1)                 /* below: entry 15 */
        EXPECT_TRAP_C CAUSE_LOAD_ACCESS, ld a0, 256(s1)
        EXPECT_TRAP_C CAUSE_LOAD_ACCESS, lbu a0, 511(s1)
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sd a0, 384(s1)
        EXPECT_TRAP_C CAUSE_LOAD_ACCESS, ld a0, 252(s1)   /* straddles the bottom */
        ld a0, 512(s1)                 /* at the top: outside */
        RETURN_TO_MMODE
        /* a TOR entry granting X makes code fetchable */
        csrw pmpcfg0, zero
        la a1, pcode
        srli a1, a1, 2
        PMPADDR_SET 3, a1
        addi a1, a1, 2                 /* 8 bytes */
        PMPADDR_SET 4, a1
        PMPCFG_SET 4, PMP_TOR | PMP_R
        ENTER_SMODE
        TRAP_ARM 1f
        TEST_NEXT
        CALL_PCODE
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_ACCESS
        RETURN_TO_MMODE
        PMPCFG_SET 4, PMP_TOR | PMP_R | PMP_X
        ENTER_SMODE
        li a0, 0
        CALL_PCODE
        CHECK a0, 42
        RETURN_TO_MMODE

        /* ---- lower entry wins even when it denies ---- */
        csrw pmpcfg0, zero
        srli a1, s1, 2
        ori a1, a1, 0x1ff
        PMPADDR_SET 5, a1
        PMPADDR_SET 6, a1
        PMPCFG_SET 5, PMP_NAPOT        /* no permission */
        PMPCFG_SET 6, PMP_NAPOT | PMP_R | PMP_W
        ENTER_SMODE
        EXPECT_TRAP_C CAUSE_LOAD_ACCESS, ld a0, 0(s1)
        RETURN_TO_MMODE
        PMPCFG_SET 5, PMP_NAPOT | PMP_R   /* now 5 allows reads only */
        ENTER_SMODE
        ld a0, 8(s1)
        CHECK a0, 0x2222
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sd a0, 0(s1)
        RETURN_TO_MMODE
        csrw pmpcfg0, zero

        /* ---- without entry 15, S/U need a matching entry ---- */
        li a1, 0x80000000 >> 2
        PMPADDR_SET 13, a1
        la a1, _end                    /* the whole image: RWX */
        srli a1, a1, 2
        PMPADDR_SET 14, a1
        PMPCFG_SET 14, PMP_TOR | PMP_R | PMP_W | PMP_X
        PMPCFG_SET 15, 0               /* catch-all gone */
        ENTER_SMODE
        ld a0, 8(s1)                   /* inside the image */
        CHECK a0, 0x2222
        li s2, 0x80800000              /* DRAM, outside every entry */
        EXPECT_TRAP CAUSE_LOAD_ACCESS, 0x80800000, ld a0, 0(s2)
        EXPECT_TRAP CAUSE_STORE_ACCESS, 0x80800000, sd a0, 0(s2)
        S_ENTER_UMODE
        EXPECT_TRAP CAUSE_LOAD_ACCESS, 0x80800000, ld a0, 0(s2)
        RETURN_TO_MMODE
        li a1, 0x4444
        sd a1, 0(s2)                   /* M: no match -> allowed */
        ld a0, 0(s2)
        CHECK a0, 0x4444
        /* an entry covering it restores S access */
        li a1, NAPOT(0x80800000, 0x1000)
        PMPADDR_SET 7, a1
        PMPCFG_SET 7, PMP_NAPOT | PMP_R
        ENTER_SMODE
        ld a0, 0(s2)
        CHECK a0, 0x4444
        EXPECT_TRAP CAUSE_STORE_ACCESS, 0x80800000, sd a0, 0(s2)
        RETURN_TO_MMODE
        PMPCFG_SET 7, 0
        li a1, -1
        PMPADDR_SET 15, a1
        PMPCFG_SET 15, PMP_NAPOT | PMP_R | PMP_W | PMP_X
        PMPCFG_SET 14, 0

        /* ---- locked entries (last: they stay until reset) ---- */
        la s3, lpage
        li a1, 0x5555
        sd a1, 0(s3)
        srli a1, s3, 2
        ori a1, a1, 0x1ff
        PMPADDR_SET 12, a1
        PMPCFG_SET 12, PMP_L | PMP_NAPOT | PMP_R   /* M too: read-only */
        ld a0, 0(s3)
        CHECK a0, 0x5555
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sd a0, 0(s3)
        CHECK_TRAP_TVAL_REG s3
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, amoadd.d a0, a1, (s3)
        ld a0, 0(s3)
        CHECK a0, 0x5555
        /* the locked entry and its address cannot be changed */
        csrr s4, pmpaddr12
        li a1, 0
        csrw pmpaddr12, a1
        csrr a0, pmpaddr12
        CHECK_REG a0, s4
        PMPCFG_SET 12, PMP_NAPOT | PMP_R | PMP_W
        csrr a0, pmpcfg2
        CHECK_MASK a0, 0xff << 32, (PMP_L | PMP_NAPOT | PMP_R) << 32
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sd a0, 0(s3)
        /* a locked TOR entry also locks the pmpaddr below it */
        li a1, 0x20000000 >> 2         /* [0x20000000, 0x20001000): nothing */
        csrw pmpaddr10, a1             /* there on either board */
        li a1, 0x20001000 >> 2
        csrw pmpaddr11, a1
        PMPCFG_SET 11, PMP_L | PMP_TOR | PMP_R | PMP_W
        li a1, 0x1234
        csrw pmpaddr10, a1
        csrr a0, pmpaddr10
        CHECK a0, 0x20000000 >> 2
        csrw pmpaddr11, a1
        csrr a0, pmpaddr11
        CHECK a0, 0x20001000 >> 2
        /* the rest of the memory is still usable from S */
        ENTER_SMODE
        ld a0, 0(s3)
        CHECK a0, 0x5555
        EXPECT_TRAP_C CAUSE_STORE_ACCESS, sd a0, 0(s3)
        ld a0, 8(s1)
        CHECK a0, 0x2222
        RETURN_TO_MMODE
TEST_END

        .data
        .align 12
ppage:  .fill 4096, 1, 0
lpage:  .fill 4096, 1, 0
pcode:  .fill 16, 1, 0
