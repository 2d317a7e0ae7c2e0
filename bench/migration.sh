#!/usr/bin/env bash
# Live migration: total time, rounds and downtime of migrating a running guest between two machines in one
# process over loopback TCP (the transport of `trapeze migrate`).
#
# Usage: bench/migration.sh [--memory MIB] [--runs N]
#   --memory MIB  guest memory (default 512)
#   --runs N      migrations, one line each (default 3)
#
# The guest is a bare-metal workload on two harts (translated code): half of RAM holds data, and each hart
# keeps rewriting and checking 4 MiB of its own; its checks must still pass on the destination. Harts and the
# clock are moved by the test's own state transfer, so no device takes part.
#
# Prints one line per run:
#   MIGRATION guest=baremetal memory=512MiB rounds=R converged=B total_ms=T downtime_ms=D sent_mib=S final_pages=F round_pages=...
# downtime = from the source's pause to the destination's acknowledgement that the guest runs there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
memory=512
runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --memory) memory=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: bench/migration.sh [--memory MIB] [--runs N]" >&2; exit 2 ;;
    esac
done
command -v dotnet >/dev/null 2>&1 || { echo "bench: the .NET 10 SDK (dotnet) is missing; nothing was installed" >&2; exit 2; }

cd "$ROOT"
MSBUILDDISABLENODEREUSE=1 dotnet build tests/Trapeze.Machine.Tests -c Release -warnaserror -v quiet -nologo >/dev/null
echo "bench: migration of a ${memory} MiB guest, ${runs} run(s); host $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(TRAPEZE_MIGRATION_BENCH=$memory TRAPEZE_MIGRATION_BENCH_RUNS=$runs \
    dotnet test tests/Trapeze.Machine.Tests -c Release --no-build \
    --filter "FullyQualifiedName~Migration.LiveMigrationTests.Bench" --logger "console;verbosity=detailed" 2>&1) || {
    echo "$out" | tail -40 >&2
    echo "bench: the migration benchmark failed" >&2
    exit 1
}
# The line also appears indented in the test's own output; the unindented copy is the console's.
lines=$(echo "$out" | grep -E '^MIGRATION ' || true)
[ -n "$lines" ] || { echo "$out" | tail -40 >&2; echo "bench: no result line" >&2; exit 1; }
echo "$lines"
echo "$lines" | python3 -c '
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in sys.stdin if line.strip()]
med = lambda k: statistics.median(float(r[k]) for r in rows)
print("median of %d: total %.0f ms, rounds %.0f, downtime %.1f ms" % (len(rows), med("total_ms"), med("rounds"), med("downtime_ms")))
'
