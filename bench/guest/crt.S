/*
 * crt.S - start-up for the benchmark programs (M-mode, no traps expected).
 * Enables the FPU, zeroes .bss, calls main() and reports its result through
 * HTIF: tohost = 1 when main returns 0, (code << 1) | 1 otherwise.
 */
        .section .tohost, "aw", @progbits
        .align 6
        .globl tohost
        .type tohost, @object
        .size tohost, 8         /* QEMU's HTIF wants the symbol's size */
tohost: .dword 0
        .align 6
        .globl fromhost
        .type fromhost, @object
        .size fromhost, 8
fromhost: .dword 0

        .section .text.init, "ax", @progbits
        .globl _start
_start:
        la t0, trap
        csrw mtvec, t0
        li t0, 0x2000           /* mstatus.FS = Initial */
        csrw mstatus, t0
        csrw fcsr, zero
        la t0, __bss_start
        la t1, __bss_end
1:      bgeu t0, t1, 2f
        sd zero, 0(t0)
        addi t0, t0, 8
        j 1b
2:      la sp, __stack_top
        li a0, 0
        li a1, 0
        call main
        beqz a0, 3f
        slli a0, a0, 1          /* fail: (code << 1) | 1 */
3:      ori a0, a0, 1
        la t0, tohost
        sd a0, 0(t0)
4:      j 4b

        /* Any trap is a bug in the emulator or the program: report code 127. */
        .align 2
trap:   li a0, (127 << 1) | 1
        la t0, tohost
        sd a0, 0(t0)
5:      j 5b
