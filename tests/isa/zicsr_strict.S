/* zicsr_strict: two CSR rules of the specs that QEMU 7.2 does not follow.
   TRAPEZE-ONLY (fails on QEMU 7.2 at its first check):
   1. mepc[0] / sepc[0] always read as zero (privileged spec, mepc: "The
      low bit of mepc (mepc[0]) is always zero"); QEMU keeps bit 0.
   2. CSRRS/CSRRC with rs1 != x0 attempt a write even when the register
      holds 0 (Zicsr: "if rs1 specifies a register holding a zero value
      other than x0, the instruction will still attempt to write the
      unmodified value back"), so on a read-only CSR they raise illegal
      instruction; QEMU decides on the value, not on the register.
   3. medeleg[11] (ecall from M) is read-only zero (privileged spec,
      medeleg); QEMU 7.2 lets it be set (harmless: M traps never delegate). */
#include "test.h"

TEST_BEGIN
        li a1, 0x8000000000000003
        csrw mepc, a1
        csrr a0, mepc
        CHECK a0, 0x8000000000000002
        csrw sepc, a1
        csrr a0, sepc
        CHECK a0, 0x8000000000000002
        li a1, -1
        csrw mepc, a1
        csrr a0, mepc
        CHECK a0, -2

        li a1, 0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf145a573, csrrs a0, mhartid, a1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf115b573, csrrc a0, mvendorid, a1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc005a573, csrrs a0, cycle, a1
        /* the same with x0 does not write and does not trap */
        EXPECT_NO_TRAP csrrs a0, mhartid, x0

        li a1, -1
        csrw medeleg, a1
        csrr a0, medeleg
        csrw medeleg, zero
        CHECK_MASK a0, (1 << CAUSE_MACHINE_ECALL), 0
TEST_END
