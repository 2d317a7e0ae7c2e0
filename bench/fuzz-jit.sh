#!/usr/bin/env bash
# The long differential fuzz of the binary translator against the interpreter.
#   bench/fuzz-jit.sh [INSTRUCTIONS] [extra fuzz-jit options]
# INSTRUCTIONS: instructions retired per tier before stopping (default 1e8). Prints totals every 30 s;
# exits 1 after printing a shrunk report if the two tiers ever differ.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${1:-1e8}
shift || true
exec "$root/trapeze" fuzz-jit --instructions "$n" --seconds 86400 "$@"
