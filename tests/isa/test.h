/*
 * test.h - shared macros for Trapeze's RISC-V ISA test programs.
 *
 * Every test is `NAME.S` = #include "test.h", then TEST_BEGIN ... TEST_END.
 * crt.S (linked into every test) provides _start, the M- and S-mode trap
 * handlers, the HTIF console, `pass` and `fail`.
 *
 * Reporting follows the riscv-tests / Spike / TinyEMU HTIF convention:
 *   tohost = 1                     pass
 *   tohost = (testnum << 1) | 1    fail, testnum = number of the failing check
 *   tohost = (1<<56)|(1<<48)|ch    console putchar (then wait for tohost == 0)
 *
 * Register conventions inside a test:
 *   gp (x3)   TESTNUM: number of the check being done (first check is 2)
 *   t5, t6    scratch for the macros: never pass them to CHECK & co.
 *   sp        a small stack set up by crt.S
 *   a7        clobbered by RETURN_TO_MMODE (magic ecall)
 *   mscratch / sscratch belong to the trap handlers (they point at save areas).
 *   pmp15     is set by crt.S to NAPOT "all memory, RWX" so S/U can run;
 *             tests may use pmp0..pmp14 (which win over 15).
 */
#ifndef TRAPEZE_TEST_H
#define TRAPEZE_TEST_H

/* ---------------------------------------------------------------- CSR bits */
#define MSTATUS_SIE     0x2
#define MSTATUS_MIE     0x8
#define MSTATUS_SPIE    0x20
#define MSTATUS_UBE     0x40
#define MSTATUS_MPIE    0x80
#define MSTATUS_SPP     0x100
#define MSTATUS_VS      0x600
#define MSTATUS_MPP     0x1800
#define MSTATUS_MPP_S   0x0800
#define MSTATUS_MPP_M   0x1800
#define MSTATUS_FS      0x6000
#define MSTATUS_FS_OFF      0x0000
#define MSTATUS_FS_INITIAL  0x2000
#define MSTATUS_FS_CLEAN    0x4000
#define MSTATUS_FS_DIRTY    0x6000
#define MSTATUS_XS      0x18000
#define MSTATUS_MPRV    0x20000
#define MSTATUS_SUM     0x40000
#define MSTATUS_MXR     0x80000
#define MSTATUS_TVM     0x100000
#define MSTATUS_TW      0x200000
#define MSTATUS_TSR     0x400000
#define MSTATUS_UXL     0x300000000
#define MSTATUS_SXL     0xC00000000
#define MSTATUS_SD      0x8000000000000000

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* mip / mie bits */
#define MIP_SSIP  (1 << 1)
#define MIP_MSIP  (1 << 3)
#define MIP_STIP  (1 << 5)
#define MIP_MTIP  (1 << 7)
#define MIP_SEIP  (1 << 9)
#define MIP_MEIP  (1 << 11)

/* exception causes */
#define CAUSE_MISALIGNED_FETCH    0
#define CAUSE_FETCH_ACCESS        1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT          3
#define CAUSE_MISALIGNED_LOAD     4
#define CAUSE_LOAD_ACCESS         5
#define CAUSE_MISALIGNED_STORE    6
#define CAUSE_STORE_ACCESS        7
#define CAUSE_USER_ECALL          8
#define CAUSE_SUPERVISOR_ECALL    9
#define CAUSE_MACHINE_ECALL       11
#define CAUSE_FETCH_PAGE_FAULT    12
#define CAUSE_LOAD_PAGE_FAULT     13
#define CAUSE_STORE_PAGE_FAULT    15

/* interrupt causes (mcause with the top bit set) */
#define IRQ_BIT  0x8000000000000000
#define IRQ_S_SOFT   1
#define IRQ_M_SOFT   3
#define IRQ_S_TIMER  5
#define IRQ_M_TIMER  7
#define IRQ_S_EXT    9
#define IRQ_M_EXT    11
#define CAUSE_IRQ(n) (IRQ_BIT | (n))

/* satp */
#define SATP_MODE_SHIFT 60
#define SATP_MODE_BARE  0
#define SATP_MODE_SV39  8
#define SATP_MODE_SV48  9
#define SATP_MODE_SV57  10

/* page-table entries */
#define PTE_V 0x001
#define PTE_R 0x002
#define PTE_W 0x004
#define PTE_X 0x008
#define PTE_U 0x010
#define PTE_G 0x020
#define PTE_A 0x040
#define PTE_D 0x080
#define PTE_PPN_SHIFT 10

/* pmpcfg fields */
#define PMP_R     0x01
#define PMP_W     0x02
#define PMP_X     0x04
#define PMP_OFF   0x00
#define PMP_TOR   0x08
#define PMP_NA4   0x10
#define PMP_NAPOT 0x18
#define PMP_L     0x80

/* fflags */
#define FFLAG_NX 0x01
#define FFLAG_UF 0x02
#define FFLAG_OF 0x04
#define FFLAG_DZ 0x08
#define FFLAG_NV 0x10

/* rounding modes */
#define RM_RNE 0
#define RM_RTZ 1
#define RM_RDN 2
#define RM_RUP 3
#define RM_RMM 4
#define RM_DYN 7

/* CLINT (same offsets on QEMU spike and Trapeze virt) */
#define CLINT_BASE      0x2000000
#define CLINT_MSIP      (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP  (CLINT_BASE + 0x4000)
#define CLINT_MTIME     (CLINT_BASE + 0xbff8)

/* CSRs that an older assembler may not know by name */
#define CSR_MENVCFG   0x30a
#define CSR_SENVCFG   0x10a
#define CSR_STIMECMP  0x14d

/* magic value in a7 for an ecall that returns to M-mode (see crt.S) */
#define SYS_MMODE 0x4d4d4d4d

/* ------------------------------------------------------------ test bodies */
#define TESTNUM gp

        .set __testnum, 1

.macro TEST_BEGIN
        .text
        .globl main
        .align 2
main:
.endm

.macro TEST_END
        j pass
.endm

/* a symbol __test_N marks where check N starts (see where.sh) */
.macro __TEST_MARK n
__test_\n:
.endm

/* advance to the next check number (in gp) */
.macro TEST_NEXT
        .set __testnum, __testnum + 1
        .altmacro
        __TEST_MARK %__testnum
        .noaltmacro
        li TESTNUM, __testnum
.endm

.macro FAIL
        j fail
.endm

.macro PASS
        j pass
.endm

/* ---------------------------------------------------------------- checks */

/* reg == 64-bit constant */
.macro CHECK reg, val
        TEST_NEXT
        li t6, \val
        beq \reg, t6, .Lok\@
        j fail
.Lok\@:
.endm

/* reg == reg */
.macro CHECK_REG reg, reg2
        TEST_NEXT
        beq \reg, \reg2, .Lok\@
        j fail
.Lok\@:
.endm

/* reg != constant */
.macro CHECK_NE reg, val
        TEST_NEXT
        li t6, \val
        bne \reg, t6, .Lok\@
        j fail
.Lok\@:
.endm

/* (reg & mask) == val */
.macro CHECK_MASK reg, mask, val
        TEST_NEXT
        li t6, \mask
        and t6, \reg, t6
        li t5, \val
        beq t5, t6, .Lok\@
        j fail
.Lok\@:
.endm

/* reg (unsigned) < reg2 */
.macro CHECK_LTU reg, reg2
        TEST_NEXT
        bltu \reg, \reg2, .Lok\@
        j fail
.Lok\@:
.endm

/* reg (unsigned) <= reg2 */
.macro CHECK_LEU reg, reg2
        TEST_NEXT
        bgeu \reg2, \reg, .Lok\@
        j fail
.Lok\@:
.endm

/* spin (bounded: ~50M tries) until `insn` (which writes `tmp`) yields a
   value other than `reg`: for counters that may tick slowly (time, cycle) */
.macro WAIT_CHANGE reg, tmp, insn:vararg
        li t6, 50000000
.Lw\@:  \insn
        bne \tmp, \reg, .Ld\@
        addi t6, t6, -1
        bnez t6, .Lw\@
.Ld\@:
.endm

/* doubleword at label == constant */
.macro CHECK_MEM64 label, val
        ld t5, \label
        CHECK t5, \val
.endm

/* FP register holds the double with this bit pattern */
.macro CHECK_D freg, bits
        fmv.x.d t5, \freg
        CHECK t5, \bits
.endm

/* FP register holds a properly NaN-boxed single with this bit pattern */
.macro CHECK_S freg, bits
        fmv.x.d t5, \freg
        CHECK t5, (0xffffffff00000000 | (\bits))
.endm

/* fflags == val, then clear fflags */
.macro CHECK_FFLAGS val
        csrrw t5, fflags, zero
        CHECK t5, \val
.endm

/* ------------------------------------------------------- operation tests */

/* rd = op(rs1=a, rs2=b) */
.macro TEST_RR op, res, a, b
        li a1, \a
        li a2, \b
        \op a0, a1, a2
        CHECK a0, \res
.endm

/* rd = op(rs1=a, imm) */
.macro TEST_RI op, res, a, imm
        li a1, \a
        \op a0, a1, \imm
        CHECK a0, \res
.endm

/* rd = op(rs1=a) */
.macro TEST_R op, res, a
        li a1, \a
        \op a0, a1
        CHECK a0, \res
.endm

/* double: fd = op(fa, fb); result bits and fflags */
.macro TEST_FRR_D op, res, a, b, flags
        li t5, \a
        fmv.d.x fa1, t5
        li t5, \b
        fmv.d.x fa2, t5
        csrw fflags, zero
        \op fa0, fa1, fa2
        CHECK_D fa0, \res
        CHECK_FFLAGS \flags
.endm

/* single: boxed operands */
.macro TEST_FRR_S op, res, a, b, flags
        li t5, \a
        fmv.w.x fa1, t5
        li t5, \b
        fmv.w.x fa2, t5
        csrw fflags, zero
        \op fa0, fa1, fa2
        CHECK_S fa0, \res
        CHECK_FFLAGS \flags
.endm

/* ------------------------------------------------------ trap expectation */
/*
 * Arm the trap handlers for exactly one trap.  When it happens, the handler
 * (M or S, whichever takes it) records cause/tval/epc/mode/status into
 * trap_cause, trap_tval, trap_epc, trap_mode (3 = M handler, 1 = S handler),
 * trap_status (mstatus or sstatus at handler entry), increments trap_count,
 * and resumes at `label`:
 *   how = 1: in the privilege mode that trapped
 *   how = 2: in the handler's own mode (M for the M handler, S for the S one)
 *   (how = 2 resumes with MIE = 0 / SIE = 0.)
 * An unexpected trap prints its cause and fails with the current TESTNUM.
 */
.macro TRAP_ARM label, how=1
        la t6, \label
        sd t6, trap_resume, t5
        li t6, \how
        sd t6, trap_expected, t5
.endm

.macro TRAP_DISARM
        sd zero, trap_expected, t5
.endm

/* after a trap: recorded values */
.macro CHECK_TRAP_CAUSE cause
        ld t5, trap_cause
        CHECK t5, \cause
.endm
.macro CHECK_TRAP_TVAL tval
        ld t5, trap_tval
        CHECK t5, \tval
.endm
.macro CHECK_TRAP_TVAL_REG reg
        ld t5, trap_tval
        CHECK_REG t5, \reg
.endm
.macro CHECK_TRAP_MODE mode
        ld t5, trap_mode
        CHECK t5, \mode
.endm
.macro CHECK_TRAP_EPC_LABEL label
        ld t5, trap_epc
        la t6, \label
        TEST_NEXT
        beq t5, t6, .Lok\@
        j fail
.Lok\@:
.endm

/*
 * EXPECT_TRAP_FULL mode, cause, tval, checktval, insn...
 * The instruction must trap (else fail), to the handler of `mode`
 * (3 or 1) with `cause`; mepc/sepc must be the instruction's address; if
 * checktval != 0, mtval/stval must be `tval`.  Execution continues after
 * the instruction, in the mode that trapped.
 */
.macro EXPECT_TRAP_FULL mode, cause, tval, checktval, insn:vararg
        TRAP_ARM .Lres\@
        TEST_NEXT
.Linsn\@:
        \insn
        j fail
.Lres\@:
        CHECK_TRAP_CAUSE \cause
        CHECK_TRAP_MODE \mode
        CHECK_TRAP_EPC_LABEL .Linsn\@
.if \checktval
        CHECK_TRAP_TVAL \tval
.endif
.endm

/* trap to M with cause and tval */
.macro EXPECT_TRAP cause, tval, insn:vararg
        EXPECT_TRAP_FULL 3, \cause, \tval, 1, \insn
.endm
/* trap to M with cause, tval not checked */
.macro EXPECT_TRAP_C cause, insn:vararg
        EXPECT_TRAP_FULL 3, \cause, 0, 0, \insn
.endm
/* trap to S (delegated) with cause and tval */
.macro EXPECT_STRAP cause, tval, insn:vararg
        EXPECT_TRAP_FULL 1, \cause, \tval, 1, \insn
.endm
.macro EXPECT_STRAP_C cause, insn:vararg
        EXPECT_TRAP_FULL 1, \cause, 0, 0, \insn
.endm

/* the instruction must not trap (trap_count unchanged) */
.macro EXPECT_NO_TRAP insn:vararg
        ld t6, trap_count
        sd t6, trap_count_saved, t5
        \insn
        ld t5, trap_count
        ld t6, trap_count_saved
        CHECK_REG t5, t6
.endm

/* ------------------------------------------------------- privilege modes */

/* mret into `prv` (PRV_U/PRV_S/PRV_M) at the next instruction */
.macro ENTER_MODE prv
        la t6, .Lent\@
        csrw mepc, t6
        li t6, MSTATUS_MPP
        csrc mstatus, t6
        li t6, ((\prv) << 11)
        csrs mstatus, t6
        mret
.Lent\@:
.endm

.macro ENTER_SMODE
        ENTER_MODE PRV_S
.endm

.macro ENTER_UMODE
        ENTER_MODE PRV_U
.endm

/* mret into `prv` at the next instruction seen at address + offset
   (an alias mapping of the image when paging is on) */
.macro ENTER_MODE_AT prv, offset
        la t6, .Lent\@
        li t5, \offset
        add t6, t6, t5
        csrw mepc, t6
        li t6, MSTATUS_MPP
        csrc mstatus, t6
        li t6, ((\prv) << 11)
        csrs mstatus, t6
        mret
.Lent\@:
.endm

/* from S-mode: sret into U-mode at the next instruction */
.macro S_ENTER_UMODE
        la t6, .Lent\@
        csrw sepc, t6
        li t6, MSTATUS_SPP
        csrc sstatus, t6
        sret
.Lent\@:
.endm

/*
 * Back to M-mode from any mode (identity-mapped code): a magic ecall makes
 * the M handler return in M-mode to the next instruction (the S handler
 * returns in S-mode instead, hence two of them).  Clobbers a7.  Arrives
 * with mstatus.MIE = 0 (and MPP = U, as after any mret).
 */
.macro RETURN_TO_MMODE
        li a7, SYS_MMODE
        ecall
        ecall
        li a7, 0
.endm

/* ------------------------------------------------------------- console */
/* print a string literal (M-mode or any mode that can reach tohost) */
.macro PRINT str
        .pushsection .rodata
.Lstr\@:
        .asciz "\str"
        .popsection
        la a0, .Lstr\@
        call print_str
.endm

#endif
