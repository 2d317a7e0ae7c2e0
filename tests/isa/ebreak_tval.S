/* ebreak_tval: EBREAK and C.EBREAK set mtval (or stval when delegated) to
   the address of the instruction, as Spike does and Trapeze promises (the
   privileged spec allows 0 or the pc).  TRAPEZE-ONLY: QEMU 7.2 writes 0. */
#include "test.h"

TEST_BEGIN
        la a1, 1f
        TRAP_ARM 2f
1:      ebreak
        j fail
2:      CHECK_TRAP_CAUSE CAUSE_BREAKPOINT
        CHECK_TRAP_TVAL_REG a1
        la a1, 1f
        TRAP_ARM 2f
1:      c.ebreak
        j fail
2:      CHECK_TRAP_CAUSE CAUSE_BREAKPOINT
        CHECK_TRAP_TVAL_REG a1
        /* from U, delegated to S */
        li a1, (1 << CAUSE_BREAKPOINT)
        csrw medeleg, a1
        ENTER_UMODE
        la a1, 1f
        TRAP_ARM 2f
1:      ebreak
        j fail
2:      CHECK_TRAP_CAUSE CAUSE_BREAKPOINT
        CHECK_TRAP_MODE 1
        CHECK_TRAP_TVAL_REG a1
        RETURN_TO_MMODE
        csrw medeleg, zero
TEST_END
