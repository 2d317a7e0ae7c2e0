/* zicsr: csrrw/csrrs/csrrc and the immediate forms (old value returned,
   new value written, rd = rs1 swaps); rs1 = x0 / uimm = 0 forms do not
   write (so they are allowed on read-only CSRs) while any other write to
   a read-only CSR traps (mtval = the instruction); privilege checks on
   M- and S-level CSRs from lower modes; fflags/frm/fcsr aliasing; cycle
   and instret readable and increasing, mcycle/minstret writable; mhartid;
   misa (MXL = 64, I M A F D C S U); sstatus as a view of mstatus.
   (The `time` CSR: see counters.S.) */
#include "test.h"

#define MISA_BIT(c) (1 << ((c) - 'A'))

TEST_BEGIN
        /* ---- basic read/write on sscratch ---- */
        li a1, 0x0123456789abcdef
        csrw sscratch, a1
        csrr a0, sscratch
        CHECK a0, 0x0123456789abcdef
        li a1, 0xff00
        csrrw a0, sscratch, a1
        CHECK a0, 0x0123456789abcdef
        csrr a0, sscratch
        CHECK a0, 0xff00
        li a1, 0x0ff0
        csrrs a0, sscratch, a1
        CHECK a0, 0xff00
        csrr a0, sscratch
        CHECK a0, 0xfff0
        li a1, 0xf00f
        csrrc a0, sscratch, a1
        CHECK a0, 0xfff0
        csrr a0, sscratch
        CHECK a0, 0x0ff0
        csrrwi a0, sscratch, 31
        CHECK a0, 0x0ff0
        csrr a0, sscratch
        CHECK a0, 31
        csrrci a0, sscratch, 0x15
        CHECK a0, 31
        csrr a0, sscratch
        CHECK a0, 0x0a
        csrrsi a0, sscratch, 0x11
        CHECK a0, 0x0a
        csrr a0, sscratch
        CHECK a0, 0x1b
        /* zero-extended immediate: csrrwi with 31 is not -1 */
        csrwi sscratch, 0x1f
        csrr a0, sscratch
        CHECK a0, 0x1f
        /* rd == rs1 swaps */
        li a2, 0x55
        csrrw a2, sscratch, a2
        CHECK a2, 0x1f
        csrr a0, sscratch
        CHECK a0, 0x55
        /* rd = x0 still writes */
        li a1, 0x66
        csrrw x0, sscratch, a1
        csrr a0, sscratch
        CHECK a0, 0x66
        /* rs1 = x0 / uimm = 0: read only */
        csrrs a0, sscratch, x0
        CHECK a0, 0x66
        csrrc a0, sscratch, x0
        CHECK a0, 0x66
        csrrsi a0, sscratch, 0
        csrrci a0, sscratch, 0
        csrr a0, sscratch
        CHECK a0, 0x66
        /* mscratch (the trap handler's pointer: restored after) */
        csrr s0, mscratch
        li a1, -1
        csrrw a0, mscratch, a1
        CHECK_REG a0, s0
        csrr a0, mscratch
        CHECK a0, -1
        csrw mscratch, s0
        /* mepc / sepc hold any 2-byte aligned address (bit 0: xepc_align.S) */
        li a1, 0xc000000000000002
        csrw mepc, a1
        csrr a0, mepc
        CHECK a0, 0xc000000000000002
        csrw sepc, a1
        csrr a0, sepc
        CHECK a0, 0xc000000000000002

        /* ---- read-only CSRs ---- */
        csrr a0, mhartid
        CHECK a0, 0
        EXPECT_NO_TRAP csrrs a0, mhartid, x0
        EXPECT_NO_TRAP csrrc a0, mvendorid, x0
        EXPECT_NO_TRAP csrrsi a0, marchid, 0
        EXPECT_NO_TRAP csrrci a0, mimpid, 0
        li a1, 0
        li a2, 1
        /* csrrw/csrrwi always write (even rd = x0 or the same value);
           csrrs/csrrc/csrrsi/csrrci with a non-zero mask write.  (rs1 != x0
           holding 0 also counts as a write: zicsr_strict.S) */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf1459073, csrw mhartid, a1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf1462573, csrrs a0, mhartid, a2
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf1163573, csrrc a0, mvendorid, a2
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf120d573, csrrwi a0, marchid, 1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf130e573, csrrsi a0, mimpid, 1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0059073, csrw cycle, a1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0259073, csrw instret, a1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc0009573, csrrw a0, cycle, x1
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xc020e573, csrrsi a0, instret, 1
        csrr a0, mhartid
        CHECK a0, 0

        /* ---- misa ---- */
        csrr a0, misa
        CHECK_MASK a0, 0xc000000000000000, 0x8000000000000000        /* MXL = 2 */
        li a1, MISA_BIT('I') | MISA_BIT('M') | MISA_BIT('A') | MISA_BIT('F') | MISA_BIT('D') | MISA_BIT('C') | MISA_BIT('S') | MISA_BIT('U')
        and a2, a0, a1
        CHECK_REG a2, a1
        CHECK_MASK a0, MISA_BIT('E'), 0                              /* not RV64E */
        /* ---- mstatus: 64-bit U and S (UXL = SXL = 2) ---- */
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_UXL | MSTATUS_SXL, 0xa00000000

        /* ---- fflags / frm / fcsr aliasing ---- */
        csrw fcsr, zero
        csrwi fflags, 0x1f
        csrr a0, fcsr
        CHECK a0, 0x1f
        csrwi frm, 3
        csrr a0, fcsr
        CHECK a0, 0x7f
        csrr a0, frm
        CHECK a0, 3
        li a1, 0xffffffff
        csrw fcsr, a1                  /* bits above 7 are reserved: read 0 */
        csrr a0, fcsr
        CHECK a0, 0xff
        csrr a0, frm
        CHECK a0, 7
        csrr a0, fflags
        CHECK a0, 0x1f
        csrrci a0, fflags, 0x3
        CHECK a0, 0x1f
        csrr a0, fcsr
        CHECK a0, 0xfc
        li a1, 0x1e5                   /* frm field only takes 3 bits */
        csrw frm, a1
        csrr a0, frm
        CHECK a0, 5
        csrr a0, fcsr
        CHECK a0, 0xbc
        li a1, 0xe3                    /* fflags only takes 5 bits */
        csrw fflags, a1
        csrr a0, fcsr
        CHECK a0, 0xa3
        csrrw a0, fcsr, zero
        CHECK a0, 0xa3
        csrr a0, frm
        CHECK a0, 0
        csrr a0, fflags
        CHECK a0, 0

        /* ---- cycle / instret: readable and increasing ---- */
        rdcycle s0
        rdinstret s1
        li a0, 100
1:      addi a0, a0, -1
        bnez a0, 1b
        rdinstret s3
        sub a0, s3, s1
        li a1, 200                     /* at least the 200 loop instructions */
        CHECK_LEU a1, a0
        WAIT_CHANGE s0, s2, rdcycle s2 /* cycle may tick slowly: wait */
        CHECK_LTU s0, s2
        csrr a0, mcycle                /* the same counter, M name */
        CHECK_LEU s2, a0
        csrr a0, minstret
        CHECK_LTU s3, a0
        /* mcycle / minstret are writable in M-mode */
        li a1, 0x100000000000
        csrw mcycle, a1
        csrr a0, mcycle
        CHECK_LEU a1, a0
        rdcycle a2
        CHECK_LEU a1, a2
        li a3, 0x100000000000 + 0x10000000000
        CHECK_LTU a2, a3               /* and counts on from there */
        csrw minstret, a1
        rdinstret a0
        CHECK_LEU a1, a0
        li a1, 0x100000000000 + 0x100000000   /* near the written value (QEMU's */
        CHECK_LTU a0, a1               /* instret follows host ticks, not exact) */

        /* ---- privilege of CSR addresses ---- */
        ENTER_SMODE
        csrr a0, sscratch              /* S CSR in S: fine */
        CHECK a0, 0x66
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x30002573, csrr a0, mstatus
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x34029073, csrw mscratch, t0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xf1402573, csrr a0, mhartid
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xb0002573, csrr a0, mcycle
        rdcycle a0                     /* allowed: mcounteren.CY = 1 */
        S_ENTER_UMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x14002573, csrr a0, sscratch
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x10002573, csrr a0, sstatus
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x30002573, csrr a0, mstatus
        csrr a0, fcsr                  /* user FP CSRs are fine in U */
        CHECK a0, 0
        RETURN_TO_MMODE

        /* ---- sstatus is a restricted view of mstatus ---- */
        li a1, MSTATUS_SUM
        csrs sstatus, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SUM, MSTATUS_SUM
        csrc mstatus, a1
        csrr a0, sstatus
        CHECK_MASK a0, MSTATUS_SUM, 0
        li a1, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TSR | MSTATUS_TW | MSTATUS_MPRV
        csrr s0, mstatus
        csrs sstatus, a1               /* M-only bits: ignored */
        csrr a0, mstatus
        CHECK_REG a0, s0
        csrr a0, sstatus
        CHECK_MASK a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TSR | MSTATUS_TW | MSTATUS_MPRV, 0
        li a1, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_MXR
        csrs sstatus, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_MXR, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_MXR
        csrc sstatus, a1
        csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_MXR, 0
TEST_END
