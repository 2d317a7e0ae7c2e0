#!/usr/bin/env bash
# Build the Linux benchmark guest: the default guest's kernel and /init with /bench-prog added.
#
# Usage: bench/guest-linux/build.sh OUTDIR GUEST_DIR BENCH_GUEST_DIR
#   OUTDIR           where bench-prog (+ bench-prog.dump) is built; OUTDIR/extra is the tree added
#   GUEST_DIR        the default guest (Image, initramfs.cpio.gz); built with guests/build-guest.sh if missing
#   BENCH_GUEST_DIR  the benchmark guest, built with guests/build-guest.sh and EXTRA_DIR=OUTDIR/extra
#
# The benchmark guest is pinned to the default guest's kernel package, so that both boot the same
# kernel, and its package cache is seeded from the default guest's (hard links), so that building it
# downloads nothing the default guest already has. The default guest itself is never changed.
# Needs Debian's gcc-riscv64-linux-gnu.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${1:?usage: build.sh OUTDIR GUEST_DIR BENCH_GUEST_DIR}"
GUEST="${2:?usage: build.sh OUTDIR GUEST_DIR BENCH_GUEST_DIR}"
BGUEST="${3:?usage: build.sh OUTDIR GUEST_DIR BENCH_GUEST_DIR}"
CC="${CROSS:-riscv64-linux-gnu-}gcc"

mkdir -p "$OUT/extra"
# Build to a temporary name: an unchanged binary keeps its time stamp and content, and build-guest.sh
# rebuilds the initramfs only when the content of the extra tree changed.
"$CC" -O2 -static -Wall -Wextra -Werror -o "$OUT/bench-prog.new" "$HERE/benchprog.c" -lm
if cmp -s "$OUT/bench-prog.new" "$OUT/extra/bench-prog"; then rm -f "$OUT/bench-prog.new"
else mv "$OUT/bench-prog.new" "$OUT/extra/bench-prog"; fi
"${CROSS:-riscv64-linux-gnu-}objdump" -d "$OUT/extra/bench-prog" > "$OUT/bench-prog.dump" 2>/dev/null || true

if [ ! -f "$GUEST/Image" ] || [ ! -f "$GUEST/initramfs.cpio.gz" ] || [ ! -f "$GUEST/info.txt" ]; then
    echo "bench: building the default guest into $GUEST ..." >&2
    "$ROOT/guests/build-guest.sh" "$GUEST" >&2
fi
kpkg=$(sed -n 's/^kernel_pkg=\([^ ]*\).*/\1/p' "$GUEST/info.txt")
[ -n "$kpkg" ] || { echo "bench: no kernel_pkg in $GUEST/info.txt" >&2; exit 1; }

# Seed the package cache from the default guest's: same files, no second download.
mkdir -p "$BGUEST/cache/debs"
if [ ! -d "$BGUEST/cache/apt" ] && [ -d "$GUEST/cache/apt" ]; then cp -a "$GUEST/cache/apt" "$BGUEST/cache/apt"; fi
for f in "$GUEST"/cache/debs/*.deb; do
    [ -e "$f" ] || continue
    t="$BGUEST/cache/debs/$(basename "$f")"
    [ -e "$t" ] || ln "$f" "$t" 2>/dev/null || cp "$f" "$t"
done
KERNEL_PKG="$kpkg" EXTRA_DIR="$OUT/extra" "$ROOT/guests/build-guest.sh" "$BGUEST" > "$BGUEST/build.log" 2>&1 || {
    cat "$BGUEST/build.log" >&2; echo "bench: building the benchmark guest failed" >&2; exit 1; }
if ! cmp -s "$GUEST/Image" "$BGUEST/Image"; then
    echo "bench: the benchmark guest's kernel differs from the default guest's ($kpkg)" >&2
    exit 1
fi
