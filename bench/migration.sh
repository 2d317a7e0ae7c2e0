#!/usr/bin/env bash
# Live migration: total time, rounds and downtime of migrating a running guest between two machines in one
# process over loopback TCP (the transport of `trapeze migrate`).
#
# Usage: bench/migration.sh [--guest linux|baremetal|cli|all] [--memory MIB] [--runs N]
#   --guest G     linux: the default Linux guest (built-in SBI, two harts) running a busybox workload that
#                 writes and checks files in tmpfs, with a file of random bytes a quarter of RAM in size;
#                 baremetal: two harts of translated code rewriting and checking 4 MiB each, half of RAM
#                 holding data (no device takes part); cli: the default Linux guest (built-in SBI, one
#                 hart) as VM processes, moved back and forth between two $TRAPEZE_HOMEs by
#                 `trapeze receive` and `trapeze migrate` over loopback, with a busybox workload checking
#                 files in tmpfs. Default: all (the three).
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
        *) echo "usage: bench/migration.sh [--guest linux|baremetal|cli|all] [--memory MIB] [--runs N]" >&2; exit 2 ;;
    esac
done
case $guest in linux|baremetal|cli|all) ;; *) echo "bench: --guest linux, baremetal, cli or all" >&2; exit 2 ;; esac
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

# run_cli: the user's path, VM processes and the trapeze command; prints one MIGRATION line per migration.
run_cli() {
    MSBUILDDISABLENODEREUSE=1 dotnet build src/Trapeze.Cli -c Release -warnaserror -v quiet -nologo >/dev/null
    local dll="$ROOT/src/Trapeze.Cli/bin/Release/net10.0/trapeze.dll" work homes port i src dst out
    work=$(mktemp -d /tmp/trapeze-migbench-XXXXXX)
    homes=("$work/a" "$work/b")
    t() { TRAPEZE_HOME="$1" dotnet "$dll" "${@:2}"; }
    # Whatever happens, no VM process is left running.
    trap 't "${homes[0]}" kill mig >/dev/null 2>&1; t "${homes[1]}" kill mig >/dev/null 2>&1; rm -rf "$work"' RETURN
    t "${homes[0]}" create mig --bios builtin --mem "${memory}M" --append "console=ttyS0 quiet" >/dev/null 2>&1
    t "${homes[0]}" start mig >/dev/null 2>&1
    for _ in $(seq 600); do grep -q "Enter 'help'" "${homes[0]}/vms/mig/console.log" 2>/dev/null && break; sleep 0.2; done
    printf '%s\n' '(i=0; while :; do i=$((i+1)); seq $i $((i+5000)) > /tmp/f; a=$(md5sum < /tmp/f); b=$(seq $i $((i+5000)) | md5sum); [ "$a" = "$b" ] && echo "W ok $i" || echo "W FAIL $i"; done) &' \
        | t "${homes[0]}" console mig >/dev/null 2>&1
    for _ in $(seq 300); do grep -qE "W ok [0-9]" "${homes[0]}/vms/mig/console.log" && break; sleep 0.2; done
    for i in $(seq "$runs"); do
        src=${homes[$(( (i + 1) % 2 ))]}
        dst=${homes[$(( i % 2 ))]}
        # The copy left behind by the previous migration the other way.
        t "$dst" rm mig >/dev/null 2>&1 || true
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        t "$dst" receive mig --listen "127.0.0.1:$port" >/dev/null 2>&1
        out=$(t "$src" migrate mig --to "127.0.0.1:$port" 2>&1) || { echo "$out" >&2; echo "bench: trapeze migrate failed" >&2; return 1; }
        echo "$out" | python3 -c '
import re, sys
s = sys.stdin.read()
m = re.search(r"(\d+) rounds \((\w+)\), ([\d,]+) pages, ([\d.]+) MiB in (\d+) ms; final round ([\d,]+) pages; .*downtime ([\d.]+) ms", s)
if not m: sys.exit("bench: no report in: " + s)
print("MIGRATION guest=cli memory=%sMiB rounds=%s converged=%s total_ms=%s downtime_ms=%s sent_mib=%s final_pages=%s"
      % (sys.argv[1], m[1], str(m[2] == "converged").lower(), m[5], m[7], m[4], m[6].replace(",", "")))
' "$memory" || return 1
    done
    if grep -qE "W FAIL [0-9]" "${homes[0]}/vms/mig/console.log" "${homes[1]}/vms/mig/console.log" 2>/dev/null; then
        echo "bench: the guest's workload failed a check after a migration" >&2
        return 1
    fi
    for _ in $(seq 300); do grep -qE "W ok [0-9]" "${homes[$(( runs % 2 ))]}/vms/mig/console.log" && break; sleep 0.2; done
    if ! grep -qE "W ok [0-9]" "${homes[$(( runs % 2 ))]}/vms/mig/console.log"; then
        echo "bench: the guest's workload did not run on after the last migration" >&2
        return 1
    fi
}

lines=""
status=0
if [ "$guest" = cli ] || [ "$guest" = all ]; then
    l=$(run_cli) || status=1
    lines+="$l"$'\n'
fi
if [ "$guest" = baremetal ] || [ "$guest" = all ]; then
    l=$(run tests/Trapeze.Machine.Tests Migration.LiveMigrationTests.Bench) || status=1
    lines+="$l"$'\n'
fi
if [ "$guest" = linux ] || [ "$guest" = all ]; then
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
