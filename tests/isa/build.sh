#!/usr/bin/env bash
# Build every Trapeze ISA test: tests/isa/NAME.S -> OUTDIR/NAME.elf (+ NAME.dump).
# Usage: tests/isa/build.sh [OUTDIR]        (default: tests/isa/out)
# Needs Debian's gcc-riscv64-unknown-elf + binutils-riscv64-unknown-elf.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/out}"
CROSS="${CROSS:-riscv64-unknown-elf-}"
CC="${CROSS}gcc"
OBJDUMP="${CROSS}objdump"

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "build.sh: $CC not found." >&2
    echo "  install it with: apt-get install gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf" >&2
    exit 2
fi

mkdir -p "$OUT"
# EXTRA_CFLAGS: e.g. -DREPORT_QEMU_VIRT (see crt.S; used by run-qemu.sh only)
CFLAGS=(${EXTRA_CFLAGS:-} -march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -nostartfiles -static
        -T "$HERE/link.ld" -I "$HERE" -g -Wa,--fatal-warnings -Wl,--no-warn-rwx-segments)

n=0; bad=0
for src in "$HERE"/*.S; do
    name="$(basename "$src" .S)"
    [ "$name" = crt ] && continue
    if "$CC" "${CFLAGS[@]}" -o "$OUT/$name.elf" "$HERE/crt.S" "$src"; then
        if command -v "$OBJDUMP" >/dev/null 2>&1; then
            "$OBJDUMP" -d -M no-aliases "$OUT/$name.elf" > "$OUT/$name.dump" || true
        fi
        n=$((n + 1))
    else
        echo "build.sh: FAILED to build $name" >&2
        bad=$((bad + 1))
    fi
done
echo "built $n test(s) into $OUT${bad:+, $bad failed}" | sed 's/, 0 failed//'
[ "$bad" -eq 0 ]
