#!/usr/bin/env bash
# Trapeze vs qemu-system-riscv64 on the same work, in the same run, ratio printed.
#
# Usage: bench/run.sh [--runs N] [--busybox-runs N] [--only FIGURES] [--json FILE] [--timeout SEC]
#   --runs N          runs per figure, median reported (default 3, or $BENCH_RUNS)
#   --busybox-runs N  runs of the Linux busybox workload, the longest figure (default 1)
#   --only LIST       figures: startup,intmix,fpmix,uboot,autoboot,linux-boot,linux-busybox,linux-prog
#                     or groups: baremetal, linux, all (default all)
#
# The Linux figures boot the default guest (${TRAPEZE_GUEST_DIR:-~/.cache/trapeze/guest}, built with
# guests/build-guest.sh when missing) and a benchmark guest with /bench-prog added
# (${TRAPEZE_BENCH_GUEST_DIR:-~/.cache/trapeze/bench-guest}), both from Debian packages.
#
# Installs nothing: it says what is missing and exits 2. See bench/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT="$HERE/out"
OPENSBI=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
UBOOT=/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin

missing=()
apt=()
need() {  # need KIND(cmd|file) WHAT DEBIAN-PACKAGE
    if { [ "$1" = cmd ] && ! command -v "$2" >/dev/null 2>&1; } || { [ "$1" = file ] && [ ! -f "$2" ]; }; then
        missing+=("$2 (Debian package $3)"); apt+=("$3")
    fi
}
need cmd python3 python3
need cmd qemu-system-riscv64 qemu-system-misc
need cmd riscv64-unknown-elf-gcc gcc-riscv64-unknown-elf
need cmd riscv64-unknown-elf-objdump binutils-riscv64-unknown-elf
need file "$OPENSBI" opensbi
need file "$UBOOT" u-boot-qemu

# Linux figures wanted? (all of them unless --only names none)
only=all
prev=""
for a in "$@"; do
    case $a in --only=*) only=${a#--only=} ;; esac
    [ "$prev" = --only ] && only=$a
    prev=$a
done
linux=0
case ",$only," in *,all,*|*,linux,*|*,linux-*) linux=1 ;; esac
CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"
GUEST_DIR="${TRAPEZE_GUEST_DIR:-$CACHE_HOME/trapeze/guest}"
BENCH_GUEST_DIR="${TRAPEZE_BENCH_GUEST_DIR:-$CACHE_HOME/trapeze/bench-guest}"
if [ $linux = 1 ]; then
    need cmd riscv64-linux-gnu-gcc gcc-riscv64-linux-gnu
    need file /usr/riscv64-linux-gnu/include/stdio.h libc6-dev-riscv64-cross
    need cmd cpio cpio
    need cmd depmod kmod
    need cmd xz xz-utils
    need cmd file file
fi
command -v dotnet >/dev/null 2>&1 || missing+=("dotnet (the .NET 10 SDK)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: missing prerequisites (nothing was installed):" >&2
    printf '  %s\n' "${missing[@]}" >&2
    [ ${#apt[@]} -eq 0 ] || echo "  e.g.: apt-get install ${apt[*]}" >&2
    exit 2
fi

echo "bench: building the guest programs and Trapeze (Release)..." >&2
"$HERE/guest/build.sh" "$OUT"
linux_args=()
if [ $linux = 1 ]; then
    echo "bench: building the Linux benchmark guest (the first time also the default guest: Debian packages)..." >&2
    "$HERE/guest-linux/build.sh" "$OUT/linux" "$GUEST_DIR" "$BENCH_GUEST_DIR"
    linux_args=(--linux-guest "$GUEST_DIR" --linux-bench-guest "$BENCH_GUEST_DIR")
fi
"$ROOT/trapeze" --version >/dev/null
# Measure the built CLI itself: the launcher's up-to-date check (bash + find) is not Trapeze.
TRAPEZE="dotnet $ROOT/.build/cli/trapeze.dll"

args=("$@")
if [ -n "${BENCH_RUNS:-}" ]; then args=(--runs "$BENCH_RUNS" "${args[@]}"); fi
exec python3 "$HERE/bench.py" --trapeze "$TRAPEZE" --guest-dir "$OUT" "${linux_args[@]}" "${args[@]}"
