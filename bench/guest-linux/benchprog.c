/*
 * benchprog.c - a CPU-bound Linux user program for the Linux benchmark guest.
 *
 * Built with Debian's riscv64-linux-gnu-gcc -O2 -static and run as /bench-prog
 * by the guest's /init (kernel command line `run=/bench-prog`). Each part runs
 * a fixed amount of work, is timed with the guest's CLOCK_MONOTONIC and folds
 * its results into one checksum, which must be the same under every emulator:
 *
 *   sha256   SHA-256 of a 1 MiB buffer, chained     (32-bit ALU, rotates by shifts, loads)
 *   crc32    table-driven CRC-32 of the same buffer (byte loads, table loads)
 *   interp   a small bytecode interpreter           (indirect jumps through a switch table)
 *   nbody    5-body simulation in double precision  (fmadd/fdiv/fsqrt, FP loads/stores)
 *   sort     libc qsort + a merge sort of 256 K ints (calls through a pointer, branches)
 *   strings  sprintf/strtoul/strstr/memcmp on text  (libc string routines, byte ops)
 *   alloc    binary trees of malloc'd nodes         (allocator, fresh pages: guest page faults)
 *
 * Output (one line each): `PROG name ms`, then `PROG total ms`, then
 * `PROG checksum 0x...`. Exit status 0. SCALE (compile time) multiplies the work. With an argument
 * (a part's name) only that part runs, for looking at one part alone; the checksum then differs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SCALE
#define SCALE 1
#endif

static uint64_t checksum;

static void fold(uint64_t v)
{
    checksum = (checksum ^ v) * 0x100000001b3ULL;
    checksum ^= checksum >> 29;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ sha256 */

#define BUF_BYTES (1u << 20)
static uint8_t buf[BUF_BYTES];

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

/* SHA-256 of the whole buffer (a multiple of 64 bytes; padding block appended). */
static void sha256(const uint8_t *p, size_t n, uint32_t out[8])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    for (size_t i = 0; i < n; i += 64) sha256_block(h, p + i);
    uint8_t pad[64] = {0x80};
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) pad[63 - i] = (uint8_t)(bits >> (8 * i));
    sha256_block(h, pad);
    memcpy(out, h, sizeof h);
}

static void part_sha256(void)
{
    for (int round = 0; round < 36 * SCALE; round++) {
        uint32_t d[8];
        sha256(buf, BUF_BYTES, d);
        for (int i = 0; i < 8; i++) fold(d[i]);
        memcpy(buf + (d[0] & (BUF_BYTES - 64)), d, sizeof d);   /* next round hashes different data */
    }
}

/* ------------------------------------------------------------------- crc32 */

static uint32_t crc_table[256];

static void part_crc32(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    for (int round = 0; round < 80 * SCALE; round++) {
        uint32_t c = 0xFFFFFFFFu;
        for (size_t i = 0; i < BUF_BYTES; i++) c = crc_table[(c ^ buf[i]) & 0xff] ^ (c >> 8);
        fold(~c);
        buf[(c >> 3) & (BUF_BYTES - 1)] ^= (uint8_t)c;
    }
}

/* ------------------------------------------------------------------ interp */

enum { OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_MUL, OP_MOD, OP_LT, OP_JZ, OP_JMP, OP_XOR, OP_SHL, OP_HALT };

/* Counts the primes below N by trial division and folds them into an accumulator.
 * Variables: v0 = n, v1 = d, v2 = acc, v3 = count. The number on the left is the index of the first
 * word of the line: jump targets refer to them.
 */
#define PRIMES_BELOW_AT 7   /* index of N, patched in */
static const int32_t program[] = {
    /*  0 */ OP_PUSH, 2, OP_STORE, 0,                                    /* n = 2 */
    /*  4 */ OP_LOAD, 0, OP_PUSH, 0, OP_LT, OP_JZ, 70,                   /* while (n < N) { */
    /* 11 */ OP_PUSH, 2, OP_STORE, 1,                                    /*   d = 2 */
    /* 15 */ OP_LOAD, 1, OP_LOAD, 1, OP_MUL, OP_LOAD, 0, OP_PUSH, 1, OP_ADD, OP_LT, OP_JZ, 44,
                                                                         /*   while (d * d < n + 1) { */
    /* 28 */ OP_LOAD, 0, OP_LOAD, 1, OP_MOD, OP_JZ, 61,                  /*     if (n % d == 0) goto next */
    /* 35 */ OP_LOAD, 1, OP_PUSH, 1, OP_ADD, OP_STORE, 1, OP_JMP, 15,    /*     d++ } */
    /* 44 */ OP_LOAD, 3, OP_PUSH, 1, OP_ADD, OP_STORE, 3,                /*   count++ */
    /* 51 */ OP_LOAD, 2, OP_PUSH, 5, OP_SHL, OP_LOAD, 0, OP_XOR, OP_STORE, 2, /* acc = (acc << 5) ^ n */
    /* 61 */ OP_LOAD, 0, OP_PUSH, 1, OP_ADD, OP_STORE, 0, OP_JMP, 4,     /* next: n++ } */
    /* 70 */ OP_HALT,
};

static int64_t run_vm(const int32_t *code, int64_t *vars)
{
    int64_t stack[16];
    int sp = 0;
    int pc = 0;
    for (;;) {
        switch (code[pc++]) {
        case OP_PUSH:  stack[sp++] = code[pc++]; break;
        case OP_LOAD:  stack[sp++] = vars[code[pc++]]; break;
        case OP_STORE: vars[code[pc++]] = stack[--sp]; break;
        case OP_ADD:   sp--; stack[sp - 1] += stack[sp]; break;
        case OP_MUL:   sp--; stack[sp - 1] *= stack[sp]; break;
        case OP_MOD:   sp--; stack[sp - 1] %= stack[sp]; break;
        case OP_LT:    sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case OP_JZ:    { int32_t t = code[pc++]; if (stack[--sp] == 0) pc = t; break; }
        case OP_JMP:   pc = code[pc]; break;
        case OP_XOR:   sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHL:   sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] << (stack[sp] & 63)); break;
        case OP_HALT:  return sp;
        default:       return -1;
        }
    }
}

static void part_interp(void)
{
    int32_t code[sizeof program / sizeof program[0]];
    memcpy(code, program, sizeof program);
    code[PRIMES_BELOW_AT] = 90000 * SCALE;
    int64_t vars[4] = {0, 0, 0, 0};
    int64_t sp = run_vm(code, vars);
    fold((uint64_t)sp);
    fold((uint64_t)vars[2]);
    fold((uint64_t)vars[3]);
}

/* ------------------------------------------------------------------- nbody */

struct body { double x, y, z, vx, vy, vz, m; };

static void part_nbody(void)
{
    const double pi = 3.141592653589793, days = 365.24, sm = 4 * pi * pi;
    struct body b[5] = {
        {0, 0, 0, 0, 0, 0, sm},
        {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
         1.66007664274403694e-03 * days, 7.69901118419740425e-03 * days, -6.90460016972063023e-05 * days,
         9.54791938424326609e-04 * sm},
        {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
         -2.76742510726862411e-03 * days, 4.99852801234917238e-03 * days, 2.30417297573763929e-05 * days,
         2.85885980666130812e-04 * sm},
        {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
         2.96460137564761618e-03 * days, 2.37847173959480950e-03 * days, -2.96589568540237556e-05 * days,
         4.36624404335156298e-05 * sm},
        {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
         2.68067772490389322e-03 * days, 1.62824170038242295e-03 * days, -9.51592254519715870e-05 * days,
         5.15138902046611451e-05 * sm},
    };
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < 5; i++) { px += b[i].vx * b[i].m; py += b[i].vy * b[i].m; pz += b[i].vz * b[i].m; }
    b[0].vx = -px / sm; b[0].vy = -py / sm; b[0].vz = -pz / sm;
    const double dt = 0.01;
    for (int step = 0; step < 300000 * SCALE; step++) {
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++) {
                double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = dt / (d2 * sqrt(d2));
                b[i].vx -= dx * b[j].m * mag; b[i].vy -= dy * b[j].m * mag; b[i].vz -= dz * b[j].m * mag;
                b[j].vx += dx * b[i].m * mag; b[j].vy += dy * b[i].m * mag; b[j].vz += dz * b[i].m * mag;
            }
        for (int i = 0; i < 5; i++) { b[i].x += dt * b[i].vx; b[i].y += dt * b[i].vy; b[i].z += dt * b[i].vz; }
    }
    double e = 0;
    for (int i = 0; i < 5; i++) {
        e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (int j = i + 1; j < 5; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            e -= b[i].m * b[j].m / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    uint64_t bits;
    memcpy(&bits, &e, sizeof bits);
    fold(bits);
}

/* -------------------------------------------------------------------- sort */

#define SORT_N (256 * 1024)
static int32_t sortv[SORT_N], sortw[SORT_N], tmpv[SORT_N];

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void merge_sort(int32_t *v, int32_t *t, size_t n)
{
    if (n < 16) {
        for (size_t i = 1; i < n; i++) {
            int32_t x = v[i];
            size_t j = i;
            while (j > 0 && v[j - 1] > x) { v[j] = v[j - 1]; j--; }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(v, t, h);
    merge_sort(v + h, t + h, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) t[k++] = v[i] <= v[j] ? v[i++] : v[j++];
    while (i < h) t[k++] = v[i++];
    while (j < n) t[k++] = v[j++];
    memcpy(v, t, n * sizeof *v);
}

static void part_sort(void)
{
    for (int round = 0; round < 2 * SCALE; round++) {
        for (size_t i = 0; i < SORT_N; i++) sortv[i] = sortw[i] = (int32_t)rng();
        qsort(sortv, SORT_N, sizeof sortv[0], cmp_i32);
        merge_sort(sortw, tmpv, SORT_N);
        uint64_t h = 0;
        for (size_t i = 0; i < SORT_N; i++) {
            if (sortv[i] != sortw[i] || (i > 0 && sortv[i - 1] > sortv[i])) { fold(0xbad); break; }
            h = h * 31 + (uint32_t)sortv[i];
        }
        fold(h);
    }
}

/* ----------------------------------------------------------------- strings */

static void part_strings(void)
{
    static const char *words[] = {"hart", "trap", "csr", "satp", "sfence", "plic", "clint", "virtio",
                                  "opensbi", "ecall", "mret", "sret", "pmp", "tlb", "fence", "amo"};
    enum { TEXT = 1 << 18 };
    char *text = malloc(TEXT + 64);
    char line[96];
    for (int round = 0; round < 15 * SCALE; round++) {
        size_t len = 0;
        while (len < TEXT) {
            uint64_t r = rng();
            int n = snprintf(line, sizeof line, "%s-%lu:%s ", words[r & 15], (unsigned long)(r >> 40),
                             words[(r >> 4) & 15]);
            memcpy(text + len, line, (size_t)n);
            len += (size_t)n;
        }
        text[len] = 0;
        uint64_t found = 0, sum = 0;
        for (int w = 0; w < 16; w++) {
            const char *p = text;
            while ((p = strstr(p, words[w])) != NULL) { found++; p += strlen(words[w]); }
        }
        for (char *p = text; (p = strchr(p, '-')) != NULL; ) {
            char *end;
            sum += strtoul(p + 1, &end, 10);
            p = end;
        }
        size_t same = 0;
        for (size_t i = 64; i + 64 < len; i += 61) same += memcmp(text + i, text + i - 61, 8) == 0;
        fold(found);
        fold(sum);
        fold(same);
        fold(strlen(text));
    }
    free(text);
}

/* ------------------------------------------------------------------- alloc */

struct node { struct node *l, *r; uint64_t v; };

static struct node *tree(int depth, uint64_t v)
{
    struct node *n = malloc(sizeof *n);
    n->v = v;
    n->l = depth > 0 ? tree(depth - 1, 2 * v) : NULL;
    n->r = depth > 0 ? tree(depth - 1, 2 * v + 1) : NULL;
    return n;
}

static uint64_t check(const struct node *n)
{
    return n->l ? n->v ^ (check(n->l) + 3 * check(n->r)) : n->v;
}

static void release(struct node *n)
{
    if (n->l) { release(n->l); release(n->r); }
    free(n);
}

static void part_alloc(void)
{
    struct node *keep = tree(16, 1);                  /* long-lived: ~3 MiB */
    for (int round = 0; round < 24 * SCALE; round++) {
        struct node *t = tree(13 + round % 4, (uint64_t)round);
        fold(check(t));
        release(t);
    }
    fold(check(keep));
    release(keep);
}

/* -------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static const struct { const char *name; void (*run)(void); } parts[] = {
        {"sha256", part_sha256}, {"crc32", part_crc32}, {"interp", part_interp}, {"nbody", part_nbody},
        {"sort", part_sort}, {"strings", part_strings}, {"alloc", part_alloc},
    };
    for (size_t i = 0; i < BUF_BYTES; i++) buf[i] = (uint8_t)(rng() >> 56);
    double t0 = now_ms();
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (argc > 1 && strcmp(argv[1], parts[i].name) != 0) continue;   /* one part only, to study it */
        double s = now_ms();
        parts[i].run();
        printf("PROG %s %.0f ms\n", parts[i].name, now_ms() - s);
        fflush(stdout);
    }
    printf("PROG total %.0f ms\n", now_ms() - t0);
    printf("PROG checksum 0x%016llx\n", (unsigned long long)checksum);
    return 0;
}
