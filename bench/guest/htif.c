/* htif.c - HTIF console (device 1, command 1: putchar) and freestanding helpers. */
#include "htif.h"

extern volatile uint64_t tohost;
extern volatile uint64_t fromhost;

void putch(char c)
{
    tohost = (1ULL << 56) | (1ULL << 48) | (uint8_t)c;
    while (tohost != 0) { }
    fromhost = 0;
}

void puts_(const char *s)
{
    while (*s) putch(*s++);
}

void put_hex(uint64_t v)
{
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
}

void put_dec(uint64_t v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(buf + i);
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--) *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--) *p++ = *q++;
    return d;
}
