/* misaligned: integer and FP loads/stores at every misalignment, inside a
   page and across a page boundary (Trapeze performs them, as QEMU does);
   misaligned LR must still trap (address-misaligned or access-fault, as
   the A extension requires without Zam). */
#include "test.h"

/* memory at `mis` holds byte B(i) at mis + i, i = 0..31; mis + 8 is the
   start of a page, so accesses at offsets 1..7 cross a page boundary */
#define B(i) (0x80 + (i))
#define E16(o) (B(o) | (B((o)+1) << 8))
#define E32(o) (E16(o) | (E16((o)+2) << 16))
#define E64(o) (E32(o) | (E32((o)+4) << 32))
#define SX16(v) (0xffffffffffff0000 | (v))
#define SX32(v) (0xffffffff00000000 | (v))

#define X64 0x0102030405060708
#define CHECK_ONEOF_CAUSE(c1, c2) \
        ld t5, trap_cause; TEST_NEXT; li t6, c1; beq t5, t6, 9f; li t6, c2; beq t5, t6, 9f; j fail; 9:

TEST_BEGIN
        la s0, mis
        /* loads at every offset 0..23 */
.irp o, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23
        ld a0, \o(s0)
        CHECK a0, E64(\o)
        lw a0, \o(s0)
        CHECK a0, SX32(E32(\o))
        lwu a0, \o(s0)
        CHECK a0, E32(\o)
        lh a0, \o(s0)
        CHECK a0, SX16(E16(\o))
        lhu a0, \o(s0)
        CHECK a0, E16(\o)
        flw fa0, \o(s0)
        CHECK_S fa0, E32(\o)
        fld fa0, \o(s0)
        CHECK_D fa0, E64(\o)
.endr
        /* rd == base with a misaligned address */
        addi a0, s0, 3
        ld a0, 0(a0)
        CHECK a0, E64(3)

        /* sd at every offset 1..15: check the two or three dwords around */
        li s1, X64
.irp o, 1,2,3,4,5,6,7,9,10,11,12,13,14,15
        la s2, sbuf
        sd zero, 0(s2)
        sd zero, 8(s2)
        sd zero, 16(s2)
        sd s1, \o(s2)
.if \o < 8
        ld a0, 0(s2)
        CHECK a0, (X64 << (8*\o)) & 0xffffffffffffffff
        ld a0, 8(s2)
        CHECK a0, X64 >> (64 - 8*\o)
.else
        ld a0, 8(s2)
        CHECK a0, (X64 << (8*(\o-8))) & 0xffffffffffffffff
        ld a0, 16(s2)
        CHECK a0, X64 >> (64 - 8*(\o-8))
.endif
.endr
        /* sw / sh / fsw / fsd at misaligned offsets, read back with bytes */
.irp o, 1,2,3,5,6,7,9,13,15
        la s2, sbuf
        sd zero, 0(s2)
        sd zero, 8(s2)
        sd zero, 16(s2)
        li a1, 0xa1b2c3d4
        sw a1, \o(s2)
        lbu a0, \o(s2)
        CHECK a0, 0xd4
        lbu a0, \o+3(s2)
        CHECK a0, 0xa1
        lwu a0, \o(s2)
        CHECK a0, 0xa1b2c3d4
        lbu a0, \o+4(s2)
        CHECK a0, 0
        li a1, 0xbeef
        sh a1, \o+4(s2)
        lhu a0, \o+4(s2)
        CHECK a0, 0xbeef
        lbu a0, \o+6(s2)
        CHECK a0, 0
        li a1, 0x3ff0000000000001
        fmv.d.x fa1, a1
        fsd fa1, \o(s2)
        ld a0, \o(s2)
        CHECK a0, 0x3ff0000000000001
        li a1, 0x40490fdb
        fmv.w.x fa1, a1
        fsw fa1, \o+8(s2)
        lwu a0, \o+8(s2)
        CHECK a0, 0x40490fdb
.endr
        /* a store across the page boundary, read back with the other side's
           aligned loads */
        la s2, mis
        li a1, 0x1122334455667788
        sd a1, 5(s2)
        lwu a0, 8(s2)           /* first word of the next page */
        CHECK a0, 0x22334455
        lbu a0, 7(s2)
        CHECK a0, 0x66

        /* misaligned LR still traps (address-misaligned or access fault);
           misaligned AMO / SC: see misaligned_amo.S */
        la s2, abuf
        addi s3, s2, 1
        TRAP_ARM 2f
        TEST_NEXT
        lr.w a0, (s3)
        j fail
2:      CHECK_ONEOF_CAUSE(CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS)
        CHECK_TRAP_TVAL_REG s3
        addi s3, s2, 4
        TRAP_ARM 2f
        TEST_NEXT
        lr.d a0, (s3)
        j fail
2:      CHECK_ONEOF_CAUSE(CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS)
        CHECK_TRAP_TVAL_REG s3
TEST_END

        .data
        .align 12
        .fill 4096 - 8, 1, 0
mis:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .byte B(\i)
        .endr
        .align 4
sbuf:   .fill 4, 8, 0
abuf:   .fill 4, 8, 0
