#!/usr/bin/env bash
# where.sh NAME N [OUTDIR]: source line of check N of test NAME (debugging aid).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ELF="${3:-$HERE/out}/$1.elf"
addr="$(riscv64-unknown-elf-nm "$ELF" | awk -v s="__test_$2" '$3 == s { print $1 }')"
[ -n "$addr" ] || { echo "no check $2 in $ELF" >&2; exit 1; }
riscv64-unknown-elf-addr2line -e "$ELF" "0x$addr"
