/* counters: cycle, time and instret readable and increasing in every mode;
   `time` agrees with the CLINT's mtime; mcounteren gates S (and U) access,
   scounteren gates U access (bits CY, TM, IR, HPM3); a gated read is an
   illegal instruction with mtval = the instruction.
   (QEMU 7.2 validation: runs on -M virt, since its spike machine has no
   `time` CSR.) */
#include "test.h"

#define CY 1
#define TM 2
#define IR 4
#define HPM3 8

/* in the current mode, reading CSR `csr` must (ok = 1) or must not work */
.macro READ_OK insn:vararg
        EXPECT_NO_TRAP \insn
.endm

TEST_BEGIN
        /* ---- time follows mtime ---- */
        li s0, CLINT_MTIME
        ld s1, 0(s0)
        rdtime s2
        ld s3, 0(s0)
        TEST_NEXT
        bltu s2, s1, 1f
        bltu s3, s2, 1f
        j 2f
1:      j fail
2:      WAIT_CHANGE s2, s4, rdtime s4
        CHECK_LTU s2, s4

        /* ---- everything allowed: S and U read all three ---- */
        li a1, CY | TM | IR | HPM3
        csrw mcounteren, a1
        csrw scounteren, a1
        ENTER_SMODE
        rdcycle s1
        rdtime s2
        rdinstret s3
        csrr s4, hpmcounter3
        li a0, 100
1:      addi a0, a0, -1
        bnez a0, 1b
        rdinstret a1
        CHECK_LTU s3, a1
        WAIT_CHANGE s1, a1, rdcycle a1
        CHECK_LTU s1, a1
        WAIT_CHANGE s2, a1, rdtime a1
        CHECK_LTU s2, a1
        S_ENTER_UMODE
        rdinstret s7
        CHECK_LTU s3, s7
        WAIT_CHANGE s1, s5, rdcycle s5
        CHECK_LTU s1, s5
        WAIT_CHANGE s2, s6, rdtime s6
        CHECK_LTU s2, s6
        READ_OK csrr a0, hpmcounter3
        RETURN_TO_MMODE

        /* ---- mcounteren = 0: S and U both trap ---- */
        csrw mcounteren, zero
        ENTER_SMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0002573, rdcycle a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0102573, rdtime a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0202573, rdinstret a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0302573, csrr a0, hpmcounter3
        S_ENTER_UMODE                  /* scounteren still all ones */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0002573, rdcycle a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0102573, rdtime a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0202573, rdinstret a0
        RETURN_TO_MMODE
        /* M is never gated */
        rdcycle a0
        rdtime a0
        rdinstret a0

        /* ---- one bit at a time ---- */
        li a1, TM
        csrw mcounteren, a1
        ENTER_SMODE
        READ_OK rdtime a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdcycle a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdinstret a0
        RETURN_TO_MMODE
        li a1, CY
        csrw mcounteren, a1
        ENTER_SMODE
        READ_OK rdcycle a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdtime a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdinstret a0
        RETURN_TO_MMODE
        li a1, IR
        csrw mcounteren, a1
        ENTER_SMODE
        READ_OK rdinstret a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdcycle a0
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdtime a0
        RETURN_TO_MMODE

        /* ---- U needs both mcounteren and scounteren ---- */
        li a1, CY | TM | IR
        csrw mcounteren, a1
        li a1, TM
        csrw scounteren, a1
        ENTER_UMODE
        READ_OK rdtime a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0002573, rdcycle a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0202573, rdinstret a0
        RETURN_TO_MMODE
        ENTER_SMODE                    /* scounteren does not gate S */
        READ_OK rdcycle a0
        READ_OK rdinstret a0
        RETURN_TO_MMODE
        li a1, CY | IR
        csrw mcounteren, a1
        li a1, CY | TM | IR
        csrw scounteren, a1
        ENTER_UMODE
        READ_OK rdcycle a0
        READ_OK rdinstret a0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0102573, rdtime a0
        RETURN_TO_MMODE
        /* scounteren is an S CSR: S may change it */
        ENTER_SMODE
        csrw scounteren, zero
        csrr a0, scounteren
        CHECK a0, 0
        RETURN_TO_MMODE
        ENTER_UMODE
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, rdcycle a0
        RETURN_TO_MMODE

        li a1, CY | TM | IR
        csrw mcounteren, a1
        csrw scounteren, a1
TEST_END
