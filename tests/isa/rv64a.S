/* rv64a: lr/sc success and failure (sc without a reservation, sc after a
   successful sc, sc to another address), lr.w sign extension, sc.w writing
   32 bits only; every AMO .w and .d: old value returned (sign-extended for
   .w), memory result, the neighbouring word untouched; aq/rl/aqrl variants;
   AMO with rd = x0 and rd = rs2. */
#include "test.h"

/* TEST_AMO insn, init, operand, memresult: for .d */
.macro TEST_AMO_D insn, init, operand, memres
        la s0, mem
        li a1, \init
        sd a1, 0(s0)
        li a2, \operand
        \insn a0, a2, (s0)
        CHECK a0, \init
        ld a3, 0(s0)
        CHECK a3, \memres
.endm

/* .w on the low word of mem, sentinel in the high word; init/result are
   32-bit values, the old value must come back sign-extended */
.macro TEST_AMO_W insn, init, operand, memres
        la s0, mem
        li a1, 0x5a5a5a5a00000000 | ((\init) & 0xffffffff)
        sd a1, 0(s0)
        li a2, \operand
        \insn a0, a2, (s0)
        CHECK a0, ((\init) & 0x80000000) * 0x1fffffffe | ((\init) & 0xffffffff)
        ld a3, 0(s0)
        CHECK a3, 0x5a5a5a5a00000000 | ((\memres) & 0xffffffff)
.endm

TEST_BEGIN
        la s0, mem
        la s1, mem2
        /* sc with no reservation ever taken fails and does not write */
        li a1, 111
        sd a1, 0(s0)
        li a2, 222
        sc.d a0, a2, (s0)
        CHECK_NE a0, 0
        ld a3, 0(s0)
        CHECK a3, 111

        /* lr.d / sc.d success */
        lr.d a0, (s0)
        CHECK a0, 111
        addi a0, a0, 1
        sc.d a4, a0, (s0)
        CHECK a4, 0
        ld a3, 0(s0)
        CHECK a3, 112
        /* the reservation is gone after an sc */
        li a2, 333
        sc.d a4, a2, (s0)
        CHECK_NE a4, 0
        ld a3, 0(s0)
        CHECK a3, 112
        /* sc to an address other than the lr's fails */
        li a1, 7
        sd a1, 0(s1)
        lr.d a0, (s0)
        sc.d a4, a2, (s1)
        CHECK_NE a4, 0
        ld a3, 0(s1)
        CHECK a3, 7
        /* a failed sc also clears the reservation: the next one fails */
        sc.d a4, a2, (s0)
        CHECK_NE a4, 0
        ld a3, 0(s0)
        CHECK a3, 112

        /* lr.w sign-extends; sc.w writes only 32 bits */
        li a1, 0x1111111180000001
        sd a1, 0(s0)
        lr.w a0, (s0)
        CHECK a0, 0xffffffff80000001
        li a2, 0xffffffff7ffffffe
        sc.w a4, a2, (s0)
        CHECK a4, 0
        ld a3, 0(s0)
        CHECK a3, 0x111111117ffffffe
        /* lr.w / sc.w on the upper word */
        addi s2, s0, 4
        lr.w a0, (s2)
        CHECK a0, 0x11111111
        li a2, 0x22222222
        sc.w a4, a2, (s2)
        CHECK a4, 0
        ld a3, 0(s0)
        CHECK a3, 0x222222227ffffffe
        sc.w a4, a2, (s0)         /* no reservation */
        CHECK_NE a4, 0
        ld a3, 0(s0)
        CHECK a3, 0x222222227ffffffe

        /* a retry loop as compilers emit it (atomic increment) */
        li a1, 41
        sd a1, 0(s0)
1:      lr.d.aq a0, (s0)
        addi a0, a0, 1
        sc.d.rl a4, a0, (s0)
        bnez a4, 1b
        ld a3, 0(s0)
        CHECK a3, 42

        /* AMO .d */
        TEST_AMO_D amoswap.d, 0x1234, 0xffffffff00000000, 0xffffffff00000000
        TEST_AMO_D amoadd.d, 0x7fffffffffffffff, 1, 0x8000000000000000
        TEST_AMO_D amoadd.d, -1, -1, -2
        TEST_AMO_D amoxor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf0f0f0f0f0f0f0f0
        TEST_AMO_D amoand.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f000f000f000f00
        TEST_AMO_D amoor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xfff0fff0fff0fff0
        TEST_AMO_D amomin.d, -5, 3, -5
        TEST_AMO_D amomin.d, 3, -5, -5
        TEST_AMO_D amomin.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000
        TEST_AMO_D amomax.d, -5, 3, 3
        TEST_AMO_D amomax.d, 0x8000000000000000, 0x7fffffffffffffff, 0x7fffffffffffffff
        TEST_AMO_D amominu.d, -5, 3, 3
        TEST_AMO_D amominu.d, 0x8000000000000000, 0x7fffffffffffffff, 0x7fffffffffffffff
        TEST_AMO_D amomaxu.d, -5, 3, -5
        TEST_AMO_D amomaxu.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000

        /* AMO .w */
        TEST_AMO_W amoswap.w, 0x80000000, 0x1234567812345678, 0x12345678
        TEST_AMO_W amoadd.w, 0x7fffffff, 1, 0x80000000
        TEST_AMO_W amoadd.w, 0xffffffff, 1, 0          /* no carry into the high word */
        TEST_AMO_W amoadd.w, 0x00000005, 0xffffffff00000003, 8
        TEST_AMO_W amoxor.w, 0xff00ff00, 0x0ff00ff0, 0xf0f0f0f0
        TEST_AMO_W amoand.w, 0xff00ff00, 0xffffffff0ff00ff0, 0x0f000f00
        TEST_AMO_W amoor.w, 0xff00ff00, 0x0ff00ff0, 0xfff0fff0
        /* min/max compare the 32-bit values (signed or unsigned), not 64 */
        TEST_AMO_W amomin.w, 0xfffffffb, 3, 0xfffffffb
        TEST_AMO_W amomin.w, 3, 0x00000000fffffffb, 0xfffffffb
        TEST_AMO_W amomin.w, 0x80000000, 0x7fffffff, 0x80000000
        TEST_AMO_W amomax.w, 0xfffffffb, 3, 3
        TEST_AMO_W amomax.w, 0x7fffffff, 0x0000000080000000, 0x7fffffff
        TEST_AMO_W amominu.w, 0xfffffffb, 3, 3
        TEST_AMO_W amominu.w, 0x80000000, 0xffffffff7fffffff, 0x7fffffff
        TEST_AMO_W amomaxu.w, 0xfffffffb, 3, 0xfffffffb
        TEST_AMO_W amomaxu.w, 0x7fffffff, 0xffffffff80000000, 0x80000000

        /* aq / rl / aqrl encodings assemble and behave the same */
        TEST_AMO_D amoadd.d.aq, 10, 5, 15
        TEST_AMO_D amoadd.d.rl, 10, 5, 15
        TEST_AMO_D amoadd.d.aqrl, 10, 5, 15
        TEST_AMO_W amoswap.w.aq, 1, 2, 2
        TEST_AMO_W amoswap.w.rl, 1, 2, 2
        TEST_AMO_W amoswap.w.aqrl, 1, 2, 2
        TEST_AMO_W amoor.w.aqrl, 1, 2, 3
        TEST_AMO_D amomaxu.d.aqrl, 1, 2, 2
        TEST_AMO_W amominu.w.aq, 1, 2, 1
        lr.w.aqrl a0, (s0)
        sc.w.aqrl a4, a0, (s0)
        CHECK a4, 0
        lr.d.aq a0, (s0)
        sc.d.aq a4, a0, (s0)
        CHECK a4, 0
        lr.w.rl a0, (s0)
        sc.w.rl a4, a0, (s0)
        CHECK a4, 0

        /* rd = x0: the memory operation still happens */
        li a1, 100
        sd a1, 0(s0)
        li a2, 23
        amoadd.d x0, a2, (s0)
        ld a3, 0(s0)
        CHECK a3, 123
        /* rd == rs2: old value lands in rd, new value from the old rs2 */
        li a2, 7
        amoadd.d a2, a2, (s0)
        CHECK a2, 123
        ld a3, 0(s0)
        CHECK a3, 130
        /* rd == rs1 (the address register) */
        mv a5, s0
        li a2, 1
        amoswap.d a5, a2, (a5)
        CHECK a5, 130
TEST_END

        .data
        .align 4
mem:    .dword 0, 0
mem2:   .dword 0, 0
