/* rv64c: every RV64C instruction with its result checked (immediate
   scaling and sign extension, the x8-x15 register fields, sp-relative
   forms, c.fld/c.fsd/c.fldsp/c.fsdsp), c.j/c.jr/c.jalr/c.beqz/c.bnez with
   link values (pc + 2), c.ebreak through the trap handler, and reserved
   encodings raising illegal instruction with mtval = the 16 bits. */
#include "test.h"

TEST_BEGIN
        /* ---- quadrant 1: integer computation ---- */
        li a0, 5
        c.addi a0, 31
        CHECK a0, 36
        c.addi a0, -32
        CHECK a0, 4
        c.li a1, -32
        CHECK a1, -32
        c.li a1, 31
        CHECK a1, 31
        li a2, 0x7fffffff
        c.addiw a2, 1                  /* 32-bit add, sign-extended */
        CHECK a2, 0xffffffff80000000
        li a2, 0x12345678ffffffff
        c.addiw a2, 0                  /* sext.w */
        CHECK a2, -1
        c.lui a3, 1
        CHECK a3, 0x1000
        c.lui a3, 0x1f
        CHECK a3, 0x1f000
        c.lui a3, 0xfffe0              /* nzimm[17] set: sign-extended */
        CHECK a3, 0xfffffffffffe0000
        c.lui a3, 0xfffff
        CHECK a3, 0xfffffffffffff000
        li a4, 0x8000000000000000
        c.srli a4, 63
        CHECK a4, 1
        li a4, 0x8000000000000000
        c.srli a4, 32
        CHECK a4, 0x80000000
        li a4, 0x8000000000000000
        c.srai a4, 63
        CHECK a4, -1
        li a4, 0x8000000000000000
        c.srai a4, 1
        CHECK a4, 0xc000000000000000
        li a5, 0xff00ff00ff00ff00
        c.andi a5, -16                 /* 0x...f0 */
        CHECK a5, 0xff00ff00ff00ff00
        li a5, 0xff00ff00ff00ffff
        c.andi a5, 15
        CHECK a5, 0xf
        li s0, 10
        li s1, 3
        c.sub s0, s1
        CHECK s0, 7
        li s0, 0xff00
        li s1, 0x0ff0
        c.xor s0, s1
        CHECK s0, 0xf0f0
        li s0, 0xff00
        c.or s0, s1
        CHECK s0, 0xfff0
        li s0, 0xff00
        c.and s0, s1
        CHECK s0, 0x0f00
        li s0, 0x80000000
        li s1, 1
        c.subw s0, s1                  /* 0x7fffffff */
        CHECK s0, 0x7fffffff
        li s0, 0
        c.subw s0, s1
        CHECK s0, -1
        li s0, 0x7fffffff
        c.addw s0, s1
        CHECK s0, 0xffffffff80000000
        li s0, 0x100000005
        li s1, 0x200000003
        c.addw s0, s1                  /* upper bits ignored */
        CHECK s0, 8
        li a0, 9
        c.nop
        CHECK a0, 9

        /* ---- quadrant 2: integer ---- */
        li a0, 1
        c.slli a0, 63
        CHECK a0, 0x8000000000000000
        li t0, 3
        c.slli t0, 32                  /* any register */
        CHECK t0, 0x300000000
        li t1, 0x1234
        c.mv t2, t1
        CHECK t2, 0x1234
        li t1, 40
        li t2, 2
        c.add t1, t2
        CHECK t1, 42

        /* ---- sp-based: c.addi16sp, c.addi4spn, loads/stores ---- */
        mv s11, sp
        la sp, cbuf
        c.addi16sp sp, 496
        la a0, cbuf + 496
        CHECK_REG sp, a0
        c.addi16sp sp, -512
        la a0, cbuf - 16
        CHECK_REG sp, a0
        c.addi16sp sp, 16
        c.addi4spn a0, sp, 1020        /* max, scaled by 4 */
        la a1, cbuf + 1020
        CHECK_REG a0, a1
        c.addi4spn s1, sp, 4
        la a1, cbuf + 4
        CHECK_REG s1, a1

        li t0, 0x8877665544332211
        c.sdsp t0, 504(sp)             /* max offset, scaled by 8 */
        c.ldsp t1, 504(sp)
        CHECK t1, 0x8877665544332211
        ld t2, 504(sp)
        CHECK_REG t2, t0
        li t0, 0xfffffffff0e0d0c0
        c.swsp t0, 252(sp)             /* max offset, scaled by 4 */
        c.lwsp t1, 252(sp)             /* sign-extends */
        CHECK t1, 0xfffffffff0e0d0c0
        lwu t2, 252(sp)
        CHECK t2, 0xf0e0d0c0
        c.sdsp zero, 0(sp)
        c.swsp t0, 4(sp)
        ld t2, 0(sp)
        CHECK t2, 0xf0e0d0c000000000
        li t0, 0x400921fb54442d18      /* pi */
        fmv.d.x ft3, t0
        c.fsdsp ft3, 496(sp)
        c.fldsp fa5, 496(sp)
        CHECK_D fa5, 0x400921fb54442d18
        ld t2, 496(sp)
        CHECK t2, 0x400921fb54442d18

        /* register-based with x8-x15 */
        la s0, cbuf + 256
        li a1, 0x0123456789abcdef
        c.sd a1, 248(s0)               /* max, scaled by 8 */
        c.ld a2, 248(s0)
        CHECK a2, 0x0123456789abcdef
        c.sd a1, 0(s0)
        li a1, 0x89abcdef
        c.sw a1, 124(s0)               /* max, scaled by 4 */
        c.lw a3, 124(s0)
        CHECK a3, 0xffffffff89abcdef
        c.lw a3, 4(s0)
        CHECK a3, 0x01234567
        c.lw a3, 0(s0)
        CHECK a3, 0xffffffff89abcdef
        li a1, 0xc00921fb54442d18      /* -pi */
        fmv.d.x fs1, a1
        c.fsd fs1, 8(s0)
        c.fld fa4, 8(s0)
        CHECK_D fa4, 0xc00921fb54442d18
        c.ld a4, 8(s0)
        CHECK_REG a4, a1
        c.fsd fs1, 248(s0)
        ld a4, 248(s0)
        CHECK_REG a4, a1
        mv sp, s11

        /* ---- control transfer ---- */
        TEST_NEXT
        c.j 1f
        j fail
1:      li s0, 0
        TEST_NEXT
        c.beqz s0, 2f
        j fail
2:      li s0, 1
        TEST_NEXT
        c.beqz s0, 3f
        c.j 4f
3:      j fail
4:      TEST_NEXT
        c.bnez s0, 5f
        j fail
5:      li s1, 0
        TEST_NEXT
        c.bnez s1, 6f
        c.j 7f
6:      j fail
        /* c.bnez with a negative 64-bit value: the whole register counts */
7:      li s1, 0x100000000
        TEST_NEXT
        c.bnez s1, 8f
        j fail
8:
        /* c.jr: no link */
        la t0, 9f
        li ra, 0x66
        c.jr t0
        j fail
9:      CHECK ra, 0x66
        /* c.jalr: ra = pc + 2 */
        la t0, 10f
cjalr:  c.jalr t0
        j fail
10:     la t1, cjalr + 2
        CHECK_REG ra, t1
        /* c.jalr through ra itself: target is the old ra */
        la ra, 11f
cjalr2: c.jalr ra
        j fail
11:     la t1, cjalr2 + 2
        CHECK_REG ra, t1
        /* c.jr = jalr x0, 0(rs1): bit 0 of the target is cleared */
        la t0, 12f
        addi t0, t0, 1
        c.jr t0
        j fail
12:
        /* c.jr ra as a return */
        call cfunc
        CHECK a0, 77

        /* ---- c.ebreak ---- */
        EXPECT_TRAP_C CAUSE_BREAKPOINT, c.ebreak

        /* ---- reserved / illegal encodings: mtval = the 16 bits ---- */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0, .2byte 0x0000         /* c.unimp / all zero */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x6101, .2byte 0x6101    /* c.addi16sp imm=0 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x6481, .2byte 0x6481    /* c.lui s1, 0 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x2001, .2byte 0x2001    /* c.addiw x0 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x4002, .2byte 0x4002    /* c.lwsp x0 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x6002, .2byte 0x6002    /* c.ldsp x0 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x8002, .2byte 0x8002    /* c.jr x0 */
TEST_END

cfunc:  li a0, 77
        c.jr ra

        .data
        .align 4
        .fill 32, 1, 0
cbuf:   .fill 1024, 1, 0
        .fill 32, 1, 0
