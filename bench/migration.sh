#!/usr/bin/env bash
# Live migration: total time, rounds and downtime of migrating a running guest between two machines in one
# process over loopback TCP (the transport of `trapeze migrate`).
#
# Usage: bench/migration.sh [--guest linux|baremetal|all] [--memory MIB] [--runs N]
#   --guest G     linux: the default Linux guest (built-in SBI, two harts) running a busybox workload that
#                 writes and checks files in tmpfs, with a file of random bytes a quarter of RAM in size;
#                 baremetal: two harts of translated code rewriting and checking 4 MiB each, half of RAM
#                 holding data (no device takes part). Default: all (both).
#   --memory MIB  guest memory (default 512)
#   --runs N      migrations per guest, one line each (default 3)
#
# Prints one line per migration, then the medians:
#   MIGRATION guest=G memory=512MiB rounds=R converged=B total_ms=T downtime_ms=D sent_mib=S final_pages=F round_pages=...
# downtime = from the source's pause to the destination's acknowledgement that the guest runs there.
# The Linux guest is built by guests/build-guest.sh when missing (see bench/README.md).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
guest=all
memory=512
runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --guest) guest=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: bench/migration.sh [--guest linux|baremetal|all] [--memory MIB] [--runs N]" >&2; exit 2 ;;
    esac
done
case $guest in linux|baremetal|all) ;; *) echo "bench: --guest linux, baremetal or all" >&2; exit 2 ;; esac
command -v dotnet >/dev/null 2>&1 || { echo "bench: the .NET 10 SDK (dotnet) is missing; nothing was installed" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 is missing; nothing was installed" >&2; exit 2; }

cd "$ROOT"
echo "bench: migration of a ${memory} MiB guest, ${runs} run(s) each; host $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# run PROJECT FILTER: runs the benchmark test, prints its MIGRATION lines.
run() {
    MSBUILDDISABLENODEREUSE=1 dotnet build "$1" -c Release -warnaserror -v quiet -nologo >/dev/null
    local out
    out=$(TRAPEZE_MIGRATION_BENCH=$memory TRAPEZE_MIGRATION_BENCH_RUNS=$runs \
        dotnet test "$1" -c Release --no-build --filter "FullyQualifiedName~$2" --logger "console;verbosity=detailed" 2>&1) || {
        echo "$out" | tail -40 >&2
        echo "bench: the migration benchmark $2 failed" >&2
        return 1
    }
    # The line also appears indented in the test's own output; the unindented copy is the console's.
    echo "$out" | grep -E '^MIGRATION ' || { echo "$out" | tail -40 >&2; echo "bench: no result line from $2" >&2; return 1; }
}

lines=""
status=0
if [ "$guest" != linux ]; then
    l=$(run tests/Trapeze.Machine.Tests Migration.LiveMigrationTests.Bench) || status=1
    lines+="$l"$'\n'
fi
if [ "$guest" != baremetal ]; then
    l=$(run tests/Trapeze.Integration.Tests LiveMigrationLinuxTests.Bench) || status=1
    lines+="$l"$'\n'
fi
echo -n "$lines" | grep -v '^$' || true
echo -n "$lines" | python3 -c '
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in sys.stdin if line.startswith("MIGRATION ")]
for g in sorted({r["guest"] for r in rows}):
    rs = [r for r in rows if r["guest"] == g]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    print("median %s (%d runs): total %.0f ms, rounds %.0f, downtime %.1f ms" % (g, len(rs), med("total_ms"), med("rounds"), med("downtime_ms")))
'
exit $status
