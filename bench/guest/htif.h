/* htif.h - console output through the HTIF tohost mailbox, and the few
 * freestanding helpers the compiler may call. */
#ifndef BENCH_HTIF_H
#define BENCH_HTIF_H
#include <stdint.h>
#include <stddef.h>

void putch(char c);
void puts_(const char *s);
void put_hex(uint64_t v);
void put_dec(uint64_t v);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

static inline uint64_t rdinstret(void)
{
    uint64_t v;
    __asm__ volatile("csrr %0, minstret" : "=r"(v));
    return v;
}
#endif
