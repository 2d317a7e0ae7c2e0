/* rv64i_alu: every RV64I computational instruction, incl. the W forms,
   with edge operands (0, -1, INT_MIN, INT_MAX), shift amounts 0/31/32/63,
   sign extension of W results, lui/auipc, and x0 as a destination. */
#include "test.h"

#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff

TEST_BEGIN
        /* add / sub */
        TEST_RR add, 0, 0, 0
        TEST_RR add, 2, 1, 1
        TEST_RR add, -2, -1, -1
        TEST_RR add, MIN64, MAX64, 1
        TEST_RR add, MAX64, MIN64, -1
        TEST_RR add, 0x100000000, 0xffffffff, 1
        TEST_RR sub, 0, 0, 0
        TEST_RR sub, -1, 0, 1
        TEST_RR sub, MAX64, MIN64, 1
        TEST_RR sub, MIN64, 0, MIN64
        TEST_RR sub, 0xffffffff00000001, 0xffffffff, 0x1fffffffe

        /* addi (12-bit signed immediate) */
        TEST_RI addi, 0, 0, 0
        TEST_RI addi, 2047, 0, 2047
        TEST_RI addi, -2048, 0, -2048
        TEST_RI addi, MIN64, MAX64, 1
        TEST_RI addi, MAX64, MIN64, -1
        TEST_RI addi, 0x7ff + 0x12345, 0x12345, 0x7ff
        TEST_RI addi, -1, 0, -1

        /* slt / sltu / slti / sltiu */
        TEST_RR slt, 0, 0, 0
        TEST_RR slt, 1, -1, 0
        TEST_RR slt, 0, 0, -1
        TEST_RR slt, 1, MIN64, MAX64
        TEST_RR slt, 0, MAX64, MIN64
        TEST_RR sltu, 0, -1, 0
        TEST_RR sltu, 1, 0, -1
        TEST_RR sltu, 0, MIN64, MAX64
        TEST_RR sltu, 1, MAX64, MIN64
        TEST_RR sltu, 0, 5, 5
        TEST_RI slti, 1, -1, 0
        TEST_RI slti, 0, 0, -1
        TEST_RI slti, 1, MIN64, -2048
        TEST_RI slti, 0, 2047, 2047
        TEST_RI sltiu, 1, 0, -1          /* imm sign-extended, then unsigned */
        TEST_RI sltiu, 0, -1, -1
        TEST_RI sltiu, 1, 0xfffffffffffff7fe, -2048  /* 0x..f7fe < 0x..f800 */
        TEST_RI sltiu, 1, 0, 1            /* seqz */
        TEST_RI sltiu, 0, 1, 1

        /* logic */
        TEST_RR and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR or,  0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR and, 0, -1, 0
        TEST_RR or, -1, MIN64, MAX64
        TEST_RR xor, 0, -1, -1
        TEST_RI andi, 0x0000000000000700, 0xff00ff00ff00ff00, 0x70f
        TEST_RI andi, 0xff00ff00ff00ff00, 0xff00ff00ff00ff00, -1
        TEST_RI andi, 0xff00ff00ff00f800, 0xff00ff00ff00ff00, -2048
        TEST_RI ori,  0xffffffffffffffff, 0x0ff00ff00ff00ff0, -241    /* imm sign-extended */
        TEST_RI ori,  0x0ff00ff00ff00fff, 0x0ff00ff00ff00ff0, 0x70f
        TEST_RI xori, 0xf00ff00ff00ff0ff, 0x0ff00ff00ff00ff0, -241
        TEST_RI xori, 0xf00ff00ff00ff00f, 0x0ff00ff00ff00ff0, -1       /* not */

        /* 64-bit shifts: amount from the low 6 bits of rs2 */
        TEST_RR sll, 0x8000000000000001, 0x8000000000000001, 0
        TEST_RR sll, 0x0000000080000000, 1, 31
        TEST_RR sll, 0x0000000100000000, 1, 32
        TEST_RR sll, MIN64, 1, 63
        TEST_RR sll, 0x2, 1, 65          /* only 6 bits used */
        TEST_RR sll, MIN64, -1, -1
        TEST_RR srl, 0x8000000000000001, 0x8000000000000001, 0
        TEST_RR srl, 0x0000000100000000, MIN64, 31
        TEST_RR srl, 0x0000000080000000, MIN64, 32
        TEST_RR srl, 1, MIN64, 63
        TEST_RR srl, 0x4000000000000000, MIN64, 0x41
        TEST_RR sra, MIN64, MIN64, 0
        TEST_RR sra, 0xffffffff00000000, MIN64, 31
        TEST_RR sra, 0xffffffff80000000, MIN64, 32
        TEST_RR sra, -1, MIN64, 63
        TEST_RR sra, 0x3fffffffffffffff, MAX64, 1
        TEST_RR sra, 0xc000000000000000, MIN64, 0x41
        TEST_RI slli, 0x8000000000000001, 0x8000000000000001, 0
        TEST_RI slli, 0x0000000080000000, 1, 31
        TEST_RI slli, 0x0000000100000000, 1, 32
        TEST_RI slli, MIN64, 1, 63
        TEST_RI srli, 0x0000000100000000, MIN64, 31
        TEST_RI srli, 0x0000000080000000, MIN64, 32
        TEST_RI srli, 1, MIN64, 63
        TEST_RI srli, -1, -1, 0
        TEST_RI srai, 0xffffffff00000000, MIN64, 31
        TEST_RI srai, 0xffffffff80000000, MIN64, 32
        TEST_RI srai, -1, MIN64, 63
        TEST_RI srai, 0, MAX64, 63
        TEST_RI srai, 0x0000000000000fff, 0x0000000000007fff, 3

        /* W forms: 32-bit operation, result sign-extended to 64 bits */
        TEST_RR addw, 0, 0, 0
        TEST_RR addw, 0xffffffff80000000, 0x7fffffff, 1     /* overflow wraps, sign-extends */
        TEST_RR addw, 0x7fffffff, 0xffffffff80000000, -1
        TEST_RR addw, 0, 0x123456700000000, 0x1200000000    /* upper bits ignored */
        TEST_RR addw, 0xffffffffffffffff, 0x00000000ffffffff, 0
        TEST_RR subw, 0xffffffff80000000, 0x7fffffff, -1       /* overflow wraps */
        TEST_RR subw, 0xffffffffffffffff, 0, 1
        TEST_RR subw, 0x7fffffff, 0xffffffff80000000, 1
        TEST_RR subw, 0, 0x1ffffffff, 0xffffffff
        TEST_RI addiw, 0xffffffff80000000, 0x7fffffff, 1
        TEST_RI addiw, 0x7ff, 0, 2047
        TEST_RI addiw, 0xfffffffffffff800, 0, -2048
        TEST_RI addiw, 0xffffffffffffffff, 0xffffffff, 0     /* sext.w */
        TEST_RI addiw, 0x12345678, 0xaaaaaaaa12345678, 0     /* sext.w drops high bits */
        TEST_RR sllw, 0xffffffff80000000, 1, 31
        TEST_RR sllw, 0x1, 1, 32          /* only 5 bits of rs2 */
        TEST_RR sllw, 0xffffffff80000000, 0xffffffffffffffff, 31
        TEST_RR sllw, 0x12345678, 0xffffffff12345678, 0      /* 0 shift still sign-extends */
        TEST_RR sllw, 0xffffffff87654321, 0x87654321, 0
        TEST_RR srlw, 1, 0xffffffff80000000, 31
        TEST_RR srlw, 0xffffffff80000000, 0x80000000, 32     /* amount 0: sign-extend */
        TEST_RR srlw, 0x7fffffff, 0xffffffffffffffff, 1      /* high bits ignored */
        TEST_RR srlw, 0x00ffffff, 0x12345678ffffffff, 8
        TEST_RR sraw, 0xffffffffffffffff, 0x80000000, 31
        TEST_RR sraw, 0xffffffffc0000000, 0x80000000, 1
        TEST_RR sraw, 0x3fffffff, 0xffffffff7fffffff, 1
        TEST_RR sraw, 0xffffffff80000000, 0x80000000, 32
        TEST_RI slliw, 0xffffffff80000000, 1, 31
        TEST_RI slliw, 0, 0x100000000, 0
        TEST_RI slliw, 0xfffffffff0000000, 0xf, 28
        TEST_RI srliw, 1, 0x80000000, 31
        TEST_RI srliw, 0xffffffff80000000, 0x80000000, 0
        TEST_RI srliw, 0x0fffffff, 0xfffffffffffffff0, 4
        TEST_RI sraiw, 0xffffffffffffffff, 0x80000000, 31
        TEST_RI sraiw, 0xfffffffff8000000, 0x80000000, 4
        TEST_RI sraiw, 0x07ffffff, 0xff7fffffff, 4

        /* lui / auipc */
        lui a0, 0x12345
        CHECK a0, 0x12345000
        lui a0, 0x80000
        CHECK a0, 0xffffffff80000000     /* sign-extended */
        lui a0, 0xfffff
        CHECK a0, 0xfffffffffffff000
        lui a0, 0
        CHECK a0, 0
1:      auipc a0, 0
        la a1, 1b
        CHECK_REG a0, a1
2:      auipc a0, 0x1
        la a1, 2b
        sub a0, a0, a1
        CHECK a0, 0x1000
3:      auipc a0, 0xfffff
        la a1, 3b
        sub a0, a0, a1
        CHECK a0, -0x1000

        /* writes to x0 are discarded */
        li a1, 5
        add x0, a1, a1
        addi x0, x0, 7
        lui x0, 0x12345
        mv a0, x0
        CHECK a0, 0
        /* same source and destination */
        li a0, 21
        add a0, a0, a0
        CHECK a0, 42
TEST_END
