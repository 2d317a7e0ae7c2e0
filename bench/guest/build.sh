#!/usr/bin/env bash
# Build the benchmark guests: bench/guest/NAME.c -> OUTDIR/NAME.elf (+ NAME.dump).
# Usage: bench/guest/build.sh OUTDIR
# Needs Debian's gcc-riscv64-unknown-elf (+ binutils-riscv64-unknown-elf).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:?usage: build.sh OUTDIR}"
CROSS="${CROSS:-riscv64-unknown-elf-}"

mkdir -p "$OUT"
# -fno-math-errno lets sqrt() be fsqrt.d; -fno-tree-loop-distribute-patterns
# keeps GCC from turning memset/memcpy loops into calls to themselves.
CFLAGS=(-march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -fno-math-errno
        -ffreestanding -fno-tree-loop-distribute-patterns -Wall -Wextra -Werror
        -nostdlib -nostartfiles -static -T "$HERE/link.ld" -Wl,--no-warn-rwx-segments)

for name in intmix fpmix empty; do
    "${CROSS}gcc" "${CFLAGS[@]}" -o "$OUT/$name.elf" "$HERE/crt.S" "$HERE/htif.c" "$HERE/$name.c" -lgcc
    "${CROSS}objdump" -d "$OUT/$name.elf" > "$OUT/$name.dump" 2>/dev/null || true
done
