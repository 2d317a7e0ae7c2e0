/*
 * fpmix.c - floating-point compute benchmark (F and D extensions): a fixed
 * mix repeated ROUNDS times and folded into a checksum of result bit
 * patterns, which must match EXPECTED.
 *
 *   matmul      32x32 double matrix product             (fld, fmadd.d, loops)
 *   mandel      escape-time iteration on a 40x30 grid   (fmul/fadd/fsub.d, flt.d branches)
 *   saxpy/dot   single-precision vector kernels         (flw/fsw, fmadd.s)
 *   normalize   sqrt and divide over 3-vectors          (fsqrt.d, fdiv.d)
 *   convert     int <-> float conversions and rounding  (fcvt.*, fsgnj, fmin/fmax)
 *
 * The compiler is free to fuse multiply-adds (GCC's default), so EXPECTED is
 * the value QEMU computes for the same ELF; a different result means an
 * emulator computed an instruction wrongly.
 */
#include <stdint.h>
#include <stddef.h>

#ifndef ROUNDS
#define ROUNDS 96
#endif
#define EXPECTED 0x6bd48dc75cc1e9e3ULL

#define MN 32
#define VN 1024

static double ma[MN][MN], mb[MN][MN], mc[MN][MN];
static float vx[VN], vy[VN];
static double px[VN / 4], py[VN / 4], pz[VN / 4];

static uint64_t bits_d(double d) { union { double d; uint64_t u; } x = { d }; return x.u; }
static uint64_t bits_f(float f) { union { float f; uint32_t u; } x = { f }; return x.u; }
static float fmax_s(float a, float b) { float r; __asm__("fmax.s %0, %1, %2" : "=f"(r) : "f"(a), "f"(b)); return r; }
static float fmin_s(float a, float b) { float r; __asm__("fmin.s %0, %1, %2" : "=f"(r) : "f"(a), "f"(b)); return r; }
static uint64_t mix(uint64_t s, uint64_t v) { return (s << 5 | s >> 59) ^ v; }

static uint32_t seed;
static uint32_t lcg(void) { seed = seed * 1664525u + 1013904223u; return seed; }
static double unit(void) { return (double)(lcg() >> 8) * (1.0 / 16777216.0) - 0.5; }

static uint64_t matmul(void)
{
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) { ma[i][j] = unit(); mb[i][j] = unit(); }
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            double s = 0;
            for (int k = 0; k < MN; k++) s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    double tr = 0;
    for (int i = 0; i < MN; i++) tr += mc[i][i] + mc[i][MN - 1 - i];
    return bits_d(tr);
}

static uint64_t mandel(double cx0, double cy0)
{
    uint64_t total = 0;
    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 40; x++) {
            double cr = cx0 + x * (2.8 / 40), ci = cy0 + y * (2.2 / 30);
            double zr = 0, zi = 0;
            int n = 0;
            while (n < 64 && zr * zr + zi * zi < 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                n++;
            }
            total += (uint64_t)n;
        }
    return total;
}

static uint64_t vectors(void)
{
    for (int i = 0; i < VN; i++) { vx[i] = (float)unit(); vy[i] = (float)unit(); }
    float a = 0.75f;
    for (int rep = 0; rep < 4; rep++)
        for (int i = 0; i < VN; i++) vy[i] = a * vx[i] + vy[i];
    float dot = 0, mx = -1e30f, mn = 1e30f;
    for (int i = 0; i < VN; i++) {
        dot += vx[i] * vy[i];
        mx = fmax_s(mx, vy[i]);
        mn = fmin_s(mn, vy[i]);
    }
    return mix(mix(bits_f(dot), bits_f(mx)), bits_f(mn));
}

static uint64_t normalize(void)
{
    for (int i = 0; i < VN / 4; i++) { px[i] = unit(); py[i] = unit(); pz[i] = unit() + 1.0; }
    double acc = 0;
    for (int i = 0; i < VN / 4; i++) {
        double len = __builtin_sqrt(px[i] * px[i] + py[i] * py[i] + pz[i] * pz[i]);
        px[i] /= len; py[i] /= len; pz[i] /= len;
        acc += px[i] - py[i] * pz[i];
    }
    return bits_d(acc);
}

static uint64_t convert(void)
{
    uint64_t s = 0;
    for (int i = 0; i < 2000; i++) {
        double d = unit() * 1e6;
        int64_t l = (int64_t)d;
        int32_t w = (int32_t)(float)d;
        uint32_t u = (uint32_t)__builtin_fabs(d);
        float f = (float)l;
        double back = (double)w + (double)u + __builtin_copysign(0.5, d);
        s = mix(s, (uint64_t)l ^ (uint64_t)(uint32_t)w ^ u ^ bits_f(f) ^ bits_d(back));
    }
    return s;
}

uint64_t fpmix(void)
{
    uint64_t sum = 0;
    for (int r = 0; r < ROUNDS; r++) {
        seed = 12345u + (uint32_t)r * 7919u;
        sum = mix(sum, matmul());
        sum = mix(sum, mandel(-2.1 + r * 0.01, -1.1));
        sum = mix(sum, vectors());
        sum = mix(sum, normalize());
        sum = mix(sum, convert());
    }
    return sum;
}

#include "htif.h"
int main(void)
{
    uint64_t i0 = rdinstret();
    uint64_t sum = fpmix();
    uint64_t i1 = rdinstret();
    puts_("fpmix checksum ");
    put_hex(sum);
    puts_(" minstret ");
    put_dec(i1 - i0);
    puts_("\n");
    return sum == EXPECTED ? 0 : 1;
}
