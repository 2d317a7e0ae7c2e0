/*
 * intmix.c - integer compute benchmark: a fixed mix of everyday kernels,
 * repeated ROUNDS times, each round seeded differently, folded into one
 * checksum that must match EXPECTED (so a wrong result fails the run).
 *
 *   fill    xorshift64* PRNG fills a 16 KiB buffer        (mul, shifts, stores)
 *   crc32   table-driven CRC-32 of the buffer             (byte loads, table loads, xor)
 *   sort    quicksort + insertion sort of 2048 words       (loads/stores, data-dependent branches)
 *   hash    FNV-1a keys into an open-addressing table      (mul, loads/stores, probing loops)
 *   gcd     binary GCD and integer division/remainder      (div/rem, unpredictable branches)
 *   strops  byte-wise run-length encode + decode           (byte loads/stores, short loops)
 *
 * Builds for the host too (make-free: `cc -O2 -DHOST intmix.c`) to print the
 * checksum the guest must reproduce.
 */
#include <stdint.h>
#include <stddef.h>

#ifndef ROUNDS
#define ROUNDS 120
#endif
#define EXPECTED 0x997fb293f1a6647dULL

#define BUF_BYTES   16384
#define SORT_N      2048
#define HASH_SLOTS  4096        /* power of two */
#define HASH_KEYS   2800

static uint8_t  buf[BUF_BYTES];
static uint8_t  rle[BUF_BYTES * 2];
static uint8_t  back[BUF_BYTES];
static uint32_t sortv[SORT_N];
static uint32_t crc_table[256];
static uint64_t hkeys[HASH_SLOTS];
static uint32_t hvals[HASH_SLOTS];

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void fill(uint8_t *p, size_t n)
{
    /* Runs of repeated bytes now and then, so that the RLE pass has work. */
    for (size_t i = 0; i < n; ) {
        uint64_t r = rng();
        if ((r & 7) == 0) {
            size_t run = 2 + ((r >> 8) & 15);
            for (size_t k = 0; k < run && i < n; k++) p[i++] = (uint8_t)(r >> 16);
        } else {
            for (int k = 0; k < 8 && i < n; k++) p[i++] = (uint8_t)(r >> (8 * k));
        }
    }
}

static void insertion_sort(uint32_t *a, int lo, int hi)
{
    for (int i = lo + 1; i <= hi; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void quicksort(uint32_t *a, int lo, int hi)
{
    while (hi - lo > 16) {
        uint32_t x = a[lo], y = a[(lo + hi) / 2], z = a[hi];
        uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { uint32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
        else { quicksort(a, i, hi); hi = j; }
    }
    insertion_sort(a, lo, hi);
}

static uint64_t sort_pass(void)
{
    for (int i = 0; i < SORT_N; i++) sortv[i] = (uint32_t)(rng() >> 20);
    quicksort(sortv, 0, SORT_N - 1);
    uint64_t s = 0;
    for (int i = 1; i < SORT_N; i++) {
        if (sortv[i - 1] > sortv[i]) return 0xBAD;   /* not sorted */
        s = s * 31 + sortv[i];
    }
    return s;
}

static uint64_t fnv1a(uint64_t key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 8; i++) { h ^= (key >> (8 * i)) & 0xFF; h *= 0x100000001b3ULL; }
    return h;
}

static uint64_t hash_pass(void)
{
    for (int i = 0; i < HASH_SLOTS; i++) { hkeys[i] = 0; hvals[i] = 0; }
    uint64_t found = 0, probes = 0;
    for (int i = 0; i < HASH_KEYS; i++) {
        uint64_t key = (rng() & 0x3FFF) | 1;  /* small key space: many repeats */
        uint64_t h = fnv1a(key);
        uint32_t slot = (uint32_t)h & (HASH_SLOTS - 1);
        while (hkeys[slot] != 0 && hkeys[slot] != key) { slot = (slot + 1) & (HASH_SLOTS - 1); probes++; }
        if (hkeys[slot] == key) { hvals[slot]++; found++; }
        else { hkeys[slot] = key; hvals[slot] = 1; }
    }
    uint64_t s = found * 1000003 + probes;
    for (int i = 0; i < HASH_SLOTS; i += 7) s = (s ^ hvals[i]) * 0x9E3779B97F4A7C15ULL;
    return s;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    if (a == 0) return b;
    if (b == 0) return a;
    int shift = __builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) { uint64_t t = a; a = b; b = t; }
        b -= a;
    } while (b);
    return a << shift;
}

static uint64_t arith_pass(void)
{
    uint64_t s = 0;
    for (int i = 0; i < 600; i++) {
        uint64_t a = rng() >> 16, b = (rng() >> 40) | 1;
        s += gcd(a, b);
        s ^= a / b + a % b;
        int64_t sa = (int64_t)rng() >> 3, sb = ((int64_t)rng() >> 50) | 1;
        s += (uint64_t)(sa / sb) ^ (uint64_t)(sa % sb);
        s += (uint32_t)a / (uint32_t)b;
    }
    return s;
}

static size_t rle_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; ) {
        uint8_t c = in[i];
        size_t run = 1;
        while (i + run < n && in[i + run] == c && run < 255) run++;
        out[o++] = (uint8_t)run;
        out[o++] = c;
        i += run;
    }
    return o;
}

static size_t rle_decode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        for (uint8_t k = 0; k < in[i]; k++) out[o++] = in[i + 1];
    return o;
}

static uint64_t rle_pass(void)
{
    size_t n = rle_encode(buf, BUF_BYTES, rle);
    size_t m = rle_decode(rle, n, back);
    if (m != BUF_BYTES) return 0xBAD1;
    for (size_t i = 0; i < BUF_BYTES; i++)
        if (back[i] != buf[i]) return 0xBAD2;
    return n;
}

uint64_t intmix(void)
{
    uint64_t sum = 0;
    crc_init();
    for (int r = 0; r < ROUNDS; r++) {
        rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(r + 1) * 0xD1B54A32D192ED03ULL;
        fill(buf, BUF_BYTES);
        sum = (sum << 7 | sum >> 57) ^ crc32(buf, BUF_BYTES);
        sum = (sum << 7 | sum >> 57) ^ rle_pass();
        sum = (sum << 7 | sum >> 57) ^ sort_pass();
        sum = (sum << 7 | sum >> 57) ^ hash_pass();
        sum = (sum << 7 | sum >> 57) ^ arith_pass();
    }
    return sum;
}

#ifdef HOST
#include <stdio.h>
int main(void)
{
    printf("0x%016llx\n", (unsigned long long)intmix());
    return 0;
}
#else
#include "htif.h"
int main(void)
{
    uint64_t i0 = rdinstret();
    uint64_t sum = intmix();
    uint64_t i1 = rdinstret();
    puts_("intmix checksum ");
    put_hex(sum);
    puts_(" minstret ");
    put_dec(i1 - i0);
    puts_("\n");
    return sum == EXPECTED ? 0 : 1;
}
#endif
