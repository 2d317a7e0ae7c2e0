/* traps: synchronous exceptions and xRET.
   - illegal instruction, mtval = the instruction bits (32- and 16-bit),
     incl. privileged instructions from lower modes
   - ecall from M, S and U (causes 11, 9, 8; mtval 0; mepc = the ecall)
   - ebreak (cause 3, mepc = pc; the mtval = pc rule: ebreak_tval.S)
   - load / store access faults on unmapped addresses (below the boot ROM),
     instruction access fault on a jump there (mepc = mtval = target)
   - mret / sret: MIE/MPIE/MPP and SIE/SPIE/SPP transitions; trap entry
     transitions from M, S and U
   - medeleg / mideleg: delegated exceptions reach S with scause, sepc,
     stval; M-mode exceptions are never delegated (medeleg[11] read-only
     zero: zicsr_strict.S)
   - TSR (sret traps in S), TW (wfi traps in S), TVM (satp/sfence.vma trap in S)
   - mret to M keeps MPRV (xRET below M clears it: xret_mprv.S) */
#include "test.h"

#define UNMAPPED 0x800

TEST_BEGIN
        /* ---- illegal instructions ---- */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xfe000033, .word 0xfe000033   /* OP, bad funct7 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x1234500b, .word 0x1234500b   /* custom-0 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x0000, .2byte 0x0000          /* all-zero */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x0000702f, .word 0x0000702f   /* AMO funct3=7 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00007003, .word 0x00007003   /* LOAD funct3=7 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x0000401b, .word 0x0000401b   /* OP-IMM-32 funct3=4 */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x00001067, .word 0x00001067   /* JALR funct3=1 */
        /* the trap leaves registers alone */
        li a0, 0x1234
        EXPECT_TRAP_C CAUSE_ILLEGAL_INSTRUCTION, .word 0xfe050533            /* rd = a0 */
        CHECK a0, 0x1234

        /* ---- ecall / ebreak in M ---- */
        EXPECT_TRAP CAUSE_MACHINE_ECALL, 0, ecall
        EXPECT_TRAP_C CAUSE_BREAKPOINT, ebreak
        EXPECT_TRAP_C CAUSE_BREAKPOINT, c.ebreak

        /* ---- access faults ---- */
        li s1, UNMAPPED
        EXPECT_TRAP CAUSE_LOAD_ACCESS, UNMAPPED, ld a0, 0(s1)
        EXPECT_TRAP CAUSE_LOAD_ACCESS, UNMAPPED + 4, lw a0, 4(s1)
        EXPECT_TRAP CAUSE_LOAD_ACCESS, 0, lbu a0, 0(zero)
        EXPECT_TRAP CAUSE_STORE_ACCESS, UNMAPPED, sd a0, 0(s1)
        EXPECT_TRAP CAUSE_STORE_ACCESS, UNMAPPED + 2, sh a0, 2(s1)
        EXPECT_TRAP CAUSE_LOAD_ACCESS, UNMAPPED, fld fa0, 0(s1)
        EXPECT_TRAP CAUSE_STORE_ACCESS, UNMAPPED + 8, fsw fa0, 8(s1)
        /* instruction access fault: mepc = mtval = the target */
        TRAP_ARM 1f
        TEST_NEXT
        jalr ra, 0(s1)
        j fail
1:      CHECK_TRAP_CAUSE CAUSE_FETCH_ACCESS
        CHECK_TRAP_TVAL UNMAPPED
        ld a0, trap_epc
        CHECK a0, UNMAPPED

        /* ---- trap entry from M: MPP = M, MPIE = old MIE, MIE = 0 ---- */
        csrsi mstatus, MSTATUS_MIE     /* no interrupt is enabled in mie */
        EXPECT_TRAP CAUSE_MACHINE_ECALL, 0, ecall
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPP_M | MSTATUS_MPIE
        csrr a0, mstatus               /* mret restored MIE from MPIE */
        CHECK_MASK a0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE | MSTATUS_MIE
        csrci mstatus, MSTATUS_MIE

        /* ---- mret: MIE = MPIE, MPIE = 1, MPP = U (least privileged) ---- */
        li a1, MSTATUS_MPIE | MSTATUS_MPP
        csrc mstatus, a1
        li a1, MSTATUS_MPP_M           /* MPP = M, MPIE = 0 */
        csrs mstatus, a1
        csrsi mstatus, MSTATUS_MIE
        la a1, 1f
        csrw mepc, a1
        mret
1:      csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE
        /* MPIE = 1 -> MIE = 1 after mret */
        li a1, MSTATUS_MPIE | MSTATUS_MPP_M
        csrs mstatus, a1
        la a1, 1f
        csrw mepc, a1
        mret
1:      csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE | MSTATUS_MIE
        csrci mstatus, MSTATUS_MIE

        /* ---- ecall / ebreak / illegal from S and U, to M ---- */
        li a1, MSTATUS_MPIE            /* so that MIE = 1 in S */
        csrs mstatus, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_SUPERVISOR_ECALL, 0, ecall
        ld a0, trap_status             /* MPP = S, MPIE = 1 (MIE was 1), MIE = 0 */
        CHECK_MASK a0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPP_S | MSTATUS_MPIE
        EXPECT_TRAP_C CAUSE_BREAKPOINT, ebreak
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x30200073, mret        /* mret in S */
        EXPECT_TRAP CAUSE_LOAD_ACCESS, UNMAPPED, ld a0, 0(s1)
        S_ENTER_UMODE
        EXPECT_TRAP CAUSE_USER_ECALL, 0, ecall
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_MPP, 0
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x30200073, mret
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x10200073, sret
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x12000073, sfence.vma
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x10500073, wfi
        EXPECT_TRAP CAUSE_STORE_ACCESS, UNMAPPED, sd a0, 0(s1)
        RETURN_TO_MMODE
        csrr a0, mstatus               /* really back in M: this would trap otherwise */

        /* ---- delegation ---- */
        li a1, (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_BREAKPOINT) | (1 << CAUSE_LOAD_ACCESS) | (1 << CAUSE_USER_ECALL) | (1 << CAUSE_STORE_ACCESS)
        csrw medeleg, a1
        csrr a0, medeleg
        CHECK_REG a0, a1
        /* in M: not delegated */
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0xfe000033, .word 0xfe000033
        EXPECT_TRAP CAUSE_LOAD_ACCESS, UNMAPPED, ld a0, 0(s1)
        /* from S: to S, with SPP = S, SPIE = old SIE, SIE = 0 */
        ENTER_SMODE
        csrsi sstatus, MSTATUS_SIE
        EXPECT_STRAP CAUSE_ILLEGAL_INSTRUCTION, 0xfe000033, .word 0xfe000033
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP | MSTATUS_SPIE
        csrr a0, sstatus               /* sret: SIE = SPIE, SPIE = 1, SPP = U */
        CHECK_MASK a0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE | MSTATUS_SIE
        csrci sstatus, MSTATUS_SIE
        EXPECT_STRAP CAUSE_LOAD_ACCESS, UNMAPPED + 16, ld a0, 16(s1)
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP
        EXPECT_STRAP CAUSE_STORE_ACCESS, UNMAPPED, sw a0, 0(s1)
        EXPECT_STRAP_C CAUSE_BREAKPOINT, ebreak
        /* S-mode ecall is not delegated: to M */
        EXPECT_TRAP CAUSE_SUPERVISOR_ECALL, 0, ecall
        /* from U: to S, SPP = U */
        S_ENTER_UMODE
        EXPECT_STRAP CAUSE_USER_ECALL, 0, ecall
        ld a0, trap_status
        CHECK_MASK a0, MSTATUS_SPP, 0
        EXPECT_STRAP CAUSE_ILLEGAL_INSTRUCTION, 0x10200073, sret
        EXPECT_STRAP CAUSE_LOAD_ACCESS, UNMAPPED, lhu a0, 0(s1)
        /* back to M: the magic ecall from U goes to S (delegated) which
           returns to S; the second ecall (from S) goes to M */
        RETURN_TO_MMODE
        csrr a0, mstatus
        /* scause / stval hold the last delegated trap: the magic ecall */
        csrr a0, scause
        CHECK a0, CAUSE_USER_ECALL
        csrr a0, stval
        CHECK a0, 0
        csrw medeleg, zero

        /* ---- sret from M, SPP = S: lands in S ---- */
        li a1, MSTATUS_SPP
        csrs mstatus, a1
        la a1, 1f
        csrw sepc, a1
        sret
1:      EXPECT_TRAP CAUSE_SUPERVISOR_ECALL, 0, ecall      /* proves we are in S */
        RETURN_TO_MMODE

        /* ---- TSR: sret in S traps, sret in M still works ---- */
        li a1, MSTATUS_TSR
        csrs mstatus, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x10200073, sret
        RETURN_TO_MMODE
        li a1, MSTATUS_SPP
        csrc mstatus, a1
        la a1, 1f
        csrw sepc, a1
        sret                           /* from M: allowed; to U */
1:      EXPECT_TRAP CAUSE_USER_ECALL, 0, ecall
        RETURN_TO_MMODE
        li a1, MSTATUS_TSR
        csrc mstatus, a1

        /* ---- TW: wfi in S traps ---- */
        li a1, MSTATUS_TW
        csrs mstatus, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x10500073, wfi
        RETURN_TO_MMODE
        li a1, MSTATUS_TW
        csrc mstatus, a1

        /* ---- TVM: satp and sfence.vma trap in S ---- */
        li a1, MSTATUS_TVM
        csrs mstatus, a1
        ENTER_SMODE
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x18002573, csrr a0, satp
        EXPECT_TRAP CAUSE_ILLEGAL_INSTRUCTION, 0x12000073, sfence.vma
        RETURN_TO_MMODE
        li a1, MSTATUS_TVM
        csrc mstatus, a1
        ENTER_SMODE
        csrr a0, satp                  /* allowed again */
        CHECK a0, 0
        sfence.vma
        RETURN_TO_MMODE

        /* ---- mret to M keeps MPRV (lower modes clear it: xret_mprv.S) ---- */
        li a1, MSTATUS_MPRV            /* MPRV with MPP = M: no effect */
        li a2, MSTATUS_MPP
        csrs mstatus, a2
        csrs mstatus, a1
        la a2, 1f
        csrw mepc, a2
        mret
1:      csrr a0, mstatus
        CHECK_MASK a0, MSTATUS_MPRV, MSTATUS_MPRV
        li a1, MSTATUS_MPRV
        csrc mstatus, a1
TEST_END
