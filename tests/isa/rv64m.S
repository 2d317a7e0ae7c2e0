/* rv64m: mul, mulh, mulhsu, mulhu, div, divu, rem, remu and mulw, divw,
   divuw, remw, remuw: signs, division by zero, INT_MIN / -1 overflow,
   sign extension of the W results and the W forms ignoring upper bits. */
#include "test.h"

#define MIN64 0x8000000000000000
#define MAX64 0x7fffffffffffffff
#define MIN32 0xffffffff80000000

TEST_BEGIN
        TEST_RR mul, 0, 0, 0
        TEST_RR mul, 6, 2, 3
        TEST_RR mul, -6, -2, 3
        TEST_RR mul, 6, -2, -3
        TEST_RR mul, 0x0000000100000000, 0x10000, 0x10000
        TEST_RR mul, 0xfffffffe00000001, 0xffffffff, 0xffffffff   /* low 64 of 2^64-2^33+1 */
        TEST_RR mul, MIN64, MIN64, -1
        TEST_RR mul, 1, -1, -1
        TEST_RR mul, 0xd555555555555553, 0x1c71c71c71c71c71, 0x8000000000000003

        TEST_RR mulh, 0, 0, 0
        TEST_RR mulh, 0, 1, 1
        TEST_RR mulh, -1, -1, 1                  /* -1: high half all ones */
        TEST_RR mulh, 0, -1, -1                  /* +1 */
        TEST_RR mulh, 0x4000000000000000, MIN64, MIN64
        TEST_RR mulh, 0xc000000000000000, MIN64, MAX64
        TEST_RR mulh, 0x3fffffffffffffff, MAX64, MAX64
        TEST_RR mulh, 0, 0xffffffff, 0xffffffff
        TEST_RR mulh, 0xffffffffffffffff, 0x100000000, 0xffffffff00000000

        TEST_RR mulhu, 0, 0, 0
        TEST_RR mulhu, 0xfffffffffffffffe, -1, -1
        TEST_RR mulhu, 0x4000000000000000, MIN64, MIN64
        TEST_RR mulhu, 0x3fffffffffffffff, MAX64, MAX64
        TEST_RR mulhu, 0, -1, 1
        TEST_RR mulhu, 0x7fffffffffffffff, -1, MIN64
        TEST_RR mulhu, 0x00000000fffffffe, 0xffffffff00000000, 0xffffffff

        /* mulhsu: rs1 signed, rs2 unsigned */
        TEST_RR mulhsu, 0, 0, 0
        TEST_RR mulhsu, -1, -1, 1
        TEST_RR mulhsu, -1, -1, -1              /* -1 * (2^64-1) = -2^64+1: high = -1 */
        TEST_RR mulhsu, 0, 1, -1                 /* 1 * (2^64-1): high half 0 */
        TEST_RR mulhsu, 0xc000000000000000, MIN64, MIN64
        TEST_RR mulhsu, 0x3fffffffffffffff, MAX64, MIN64
        TEST_RR mulhsu, MIN64, MIN64, -1

        /* division: round toward zero */
        TEST_RR div, 3, 20, 6
        TEST_RR div, -3, -20, 6
        TEST_RR div, -3, 20, -6
        TEST_RR div, 3, -20, -6
        TEST_RR div, 0, 5, 6
        TEST_RR div, -1, 0, 0               /* x / 0 = -1 */
        TEST_RR div, -1, MIN64, 0
        TEST_RR div, MIN64, MIN64, -1            /* overflow: INT_MIN */
        TEST_RR div, MIN64, MIN64, 1
        TEST_RR div, 1, MIN64, MIN64
        TEST_RR divu, 3, 20, 6
        TEST_RR divu, 0x2aaaaaaaaaaaaaa7, -20, 6
        TEST_RR divu, 0, 20, -6
        TEST_RR divu, -1, 7, 0                   /* x / 0 = 2^64 - 1 */
        TEST_RR divu, -1, 0, 0
        TEST_RR divu, 0, MIN64, -1
        TEST_RR divu, 1, -1, -1

        TEST_RR rem, 2, 20, 6
        TEST_RR rem, -2, -20, 6                  /* sign of the dividend */
        TEST_RR rem, 2, 20, -6
        TEST_RR rem, -2, -20, -6
        TEST_RR rem, 20, 20, 0                   /* x % 0 = x */
        TEST_RR rem, MIN64, MIN64, 0
        TEST_RR rem, 0, MIN64, -1                /* overflow: 0 */
        TEST_RR rem, 0, MIN64, 1
        TEST_RR remu, 2, 20, 6
        TEST_RR remu, 2, -20, 6                  /* 2^64-20 = 6*0x2aaaaaaaaaaaaaa7 + 2 */
        TEST_RR remu, 20, 20, -6
        TEST_RR remu, -20, -20, 0                /* x % 0 = x */
        TEST_RR remu, MIN64, MIN64, -1
        TEST_RR remu, 0, -1, -1

        /* W forms: 32-bit operands (upper bits ignored), sign-extended result */
        TEST_RR mulw, 6, 2, 3
        TEST_RR mulw, -6, -2, 3
        TEST_RR mulw, 0, 0x10000, 0x10000
        TEST_RR mulw, MIN32, 0x40000000, 2       /* sign-extends bit 31 */
        TEST_RR mulw, 1, 0xffffffff, 0xffffffff
        TEST_RR mulw, 6, 0x1234567800000002, 0x9abcdef000000003
        TEST_RR mulw, 0x7fffffff, 0x7fffffff, 1

        TEST_RR divw, 3, 20, 6
        TEST_RR divw, -3, -20, 6
        TEST_RR divw, -3, 0x1ffffffec, 6         /* low word = -20 */
        TEST_RR divw, -1, 5, 0                   /* / 0 */
        TEST_RR divw, -1, 5, 0x100000000         /* low word 0 */
        TEST_RR divw, MIN32, 0x80000000, -1      /* overflow */
        TEST_RR divw, MIN32, 0x80000000, 1
        TEST_RR divw, 0x40000000, 0x80000000, -2
        TEST_RR divuw, 3, 20, 6
        TEST_RR divuw, 0x2aaaaaa7, -20, 6        /* (2^32-20)/6 */
        TEST_RR divuw, -1, 7, 0                  /* 0xffffffff sign-extended */
        TEST_RR divuw, MIN32, 0x80000000, 1      /* result sign-extended */
        TEST_RR divuw, 0, 0x80000000, -1
        TEST_RR divuw, 1, 0xffffffff, 0x7ffffffff

        TEST_RR remw, 2, 20, 6
        TEST_RR remw, -2, -20, 6
        TEST_RR remw, 2, 20, -6
        TEST_RR remw, 20, 20, 0                  /* % 0 = dividend (sign-extended) */
        TEST_RR remw, MIN32, 0x80000000, 0
        TEST_RR remw, MIN32, 0x1234567880000000, 0   /* upper bits ignored */
        TEST_RR remw, 0, 0x80000000, -1          /* overflow */
        TEST_RR remuw, 2, 20, 6
        TEST_RR remuw, 2, -20, 6                 /* 2^32-20 = 6*0x2aaaaaa7 + 2 */
        TEST_RR remuw, -20, -20, 0               /* 0xffffffec sign-extended */
        TEST_RR remuw, MIN32, 0x80000000, 0xffffffff
        TEST_RR remuw, 0, 0xffffffff, 0xffffffff

        /* rd == rs1 == rs2 */
        li a0, 7
        mul a0, a0, a0
        CHECK a0, 49
        div a0, a0, a0
        CHECK a0, 1
TEST_END
