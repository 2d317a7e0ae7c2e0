/* rv64i_loadstore: lb/lbu/lh/lhu/lw/lwu/ld and sb/sh/sw/sd — sign and zero
   extension, positive/negative/max immediates, stores touching only their
   own bytes, rd == base register, store-to-load forwarding through memory,
   fence / fence.tso / pause / fence.i accepted. */
#include "test.h"

TEST_BEGIN
        la s0, data
        /* data: 0x8182838485868788 at +0, 0x7172737475767778 at +8 */
        lb a0, 0(s0)
        CHECK a0, 0xffffffffffffff88
        lbu a0, 0(s0)
        CHECK a0, 0x88
        lb a0, 7(s0)
        CHECK a0, 0xffffffffffffff81
        lb a0, 8(s0)
        CHECK a0, 0x78
        lbu a0, 15(s0)
        CHECK a0, 0x71
        lh a0, 0(s0)
        CHECK a0, 0xffffffffffff8788
        lhu a0, 0(s0)
        CHECK a0, 0x8788
        lh a0, 6(s0)
        CHECK a0, 0xffffffffffff8182
        lh a0, 8(s0)
        CHECK a0, 0x7778
        lhu a0, 14(s0)
        CHECK a0, 0x7172
        lw a0, 0(s0)
        CHECK a0, 0xffffffff85868788
        lwu a0, 0(s0)
        CHECK a0, 0x85868788
        lw a0, 4(s0)
        CHECK a0, 0xffffffff81828384
        lw a0, 8(s0)
        CHECK a0, 0x75767778
        lwu a0, 12(s0)
        CHECK a0, 0x71727374
        ld a0, 0(s0)
        CHECK a0, 0x8182838485868788
        ld a0, 8(s0)
        CHECK a0, 0x7172737475767778

        /* negative offsets */
        addi s1, s0, 16
        ld a0, -16(s1)
        CHECK a0, 0x8182838485868788
        lw a0, -4(s1)
        CHECK a0, 0x71727374
        lh a0, -10(s1)
        CHECK a0, 0xffffffffffff8182
        lbu a0, -9(s1)
        CHECK a0, 0x81
        /* maximal immediates */
        la s1, data + 2048
        ld a0, -2048(s1)
        CHECK a0, 0x8182838485868788
        la s1, data + 16 - 2047
        lb a0, 2047(s1)           /* data + 16: first byte of `pattern` */
        CHECK a0, 0x11
        /* rd == base */
        la a0, data
        ld a0, 8(a0)
        CHECK a0, 0x7172737475767778

        /* stores write exactly their width */
        la s1, buf
        li a0, -1
        sd a0, 0(s1)
        sd a0, 8(s1)
        sb zero, 1(s1)
        ld a0, 0(s1)
        CHECK a0, 0xffffffffffff00ff
        li a1, 0x1234
        sh a1, 2(s1)
        ld a0, 0(s1)
        CHECK a0, 0xffffffff123400ff
        li a1, 0xdeadbeefcafef00d
        sw a1, 4(s1)              /* only the low 32 bits */
        ld a0, 0(s1)
        CHECK a0, 0xcafef00d123400ff
        ld a0, 8(s1)
        CHECK a0, -1
        sd a1, 8(s1)
        ld a0, 8(s1)
        CHECK a0, 0xdeadbeefcafef00d
        li a1, 0x5a5a5a5a5a5a5aa5
        sb a1, 15(s1)             /* only the low byte */
        ld a0, 8(s1)
        CHECK a0, 0xa5adbeefcafef00d
        /* negative store offsets */
        addi s2, s1, 16
        li a1, 0x0102030405060708
        sd a1, -16(s2)
        sw zero, -12(s2)
        ld a0, 0(s1)
        CHECK a0, 0x0000000005060708
        sh a1, -14(s2)
        ld a0, 0(s1)
        CHECK a0, 0x0000000007080708
        sb a1, -1(s2)
        ld a0, 8(s1)
        CHECK a0, 0x08adbeefcafef00d
        /* load what was stored, at each width, back to back */
        li a1, 0xfedcba9876543210
        sd a1, 16(s1)
        lb a0, 16(s1)
        CHECK a0, 0x10
        lb a0, 23(s1)
        CHECK a0, 0xfffffffffffffffe
        lhu a0, 22(s1)
        CHECK a0, 0xfedc
        lw a0, 20(s1)
        CHECK a0, 0xfffffffffedcba98
        lwu a0, 20(s1)
        CHECK a0, 0xfedcba98
        /* stores of x0, loads into x0 (discarded, still a load) */
        sd zero, 16(s1)
        ld x0, 0(s0)
        ld a0, 16(s1)
        CHECK a0, 0
        /* memory ordering instructions are accepted (no trap, no effect
           visible to a single hart) */
        EXPECT_NO_TRAP fence
        EXPECT_NO_TRAP fence rw, rw
        EXPECT_NO_TRAP fence iorw, iorw
        EXPECT_NO_TRAP fence r, w
        EXPECT_NO_TRAP .word 0x8330000f      /* fence.tso */
        EXPECT_NO_TRAP .word 0x0100000f      /* pause (Zihintpause hint) */
        EXPECT_NO_TRAP fence.i
        ld a0, 8(s1)
        CHECK a0, 0x08adbeefcafef00d
        /* same register as base and data */
        la a1, buf + 24
        sd a1, 0(a1)
        ld a0, 24(s1)
        CHECK_REG a0, a1
TEST_END

        .data
        .align 4
data:   .dword 0x8182838485868788
        .dword 0x7172737475767778
pattern:
        .byte 0x11, 0x22, 0x33, 0x44
        .fill 2100, 1, 0
        .align 4
buf:    .fill 8, 8, 0
