#!/usr/bin/env bash
# where.sh NAME N [OUTDIR]: the source line of check N of test NAME
# (debugging aid; needs riscv64-unknown-elf-nm/addr2line).  When one macro
# (e.g. EXPECT_TRAP) makes several checks, says which of them N is.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ELF="${3:-$HERE/out}/$1.elf"
line_of() {
    local addr
    addr="$(riscv64-unknown-elf-nm "$ELF" | awk -v s="__test_$1" '$3 == s { print $1 }')"
    [ -n "$addr" ] || return 1
    riscv64-unknown-elf-addr2line -e "$ELF" "0x$addr"
}
loc="$(line_of "$2")" || { echo "no check $2 in $ELF" >&2; exit 1; }
k=1; n=$(( $2 - 1 ))
while [ "$n" -ge 2 ] && [ "$(line_of "$n" || true)" = "$loc" ]; do k=$((k + 1)); n=$((n - 1)); done
m=$(( $2 + 1 )); t=$k
while [ "$(line_of "$m" || true)" = "$loc" ]; do t=$((t + 1)); m=$((m + 1)); done
if [ "$t" -gt 1 ]; then echo "$loc (check $k of the $t made there)"; else echo "$loc"; fi
