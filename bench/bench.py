#!/usr/bin/env python3
"""Trapeze vs qemu-system-riscv64 on the same work, in the same run.

Run through bench/run.sh, which checks the prerequisites and builds the guest
programs first. Standard library only. Every measurement runs alone (one
process at a time), Trapeze and QEMU alternating, and the median of N runs is
reported. Ratio = Trapeze time / QEMU time: below 1.0 Trapeze is faster.
"""

import argparse
import datetime
import errno
import json
import os
import platform
import pty
import re
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
QEMU = "qemu-system-riscv64"

AUTOBOOT_MARK = b"Hit any key to stop autoboot"
PROMPT_MARK = b"=> "
CTRL_A_X = b"\x01x"  # quits both QEMU's -nographic console and Trapeze's

STATS_RE = re.compile(r"--- trapeze statistics \(([0-9.]+) s\) ---")
HART_RE = re.compile(r"hart(\d+): instructions ([0-9,]+)")
CHECKSUM_RE = re.compile(r"(\w+) checksum (0x[0-9a-f]+) minstret (\d+)")


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- compute

def run_elf_trapeze(trapeze_cmd, elf, timeout):
    """One run of `trapeze run-elf --stats ELF`: wall time, instructions, run time from --stats."""
    cmd = trapeze_cmd + ["run-elf", "--stats", "--timeout", str(int(timeout)), elf]
    p, wall, cpu = _timed_run(cmd, timeout + 30)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        raise BenchError(f"trapeze run-elf {os.path.basename(elf)} exited {p.returncode}:\n{out}{err}")
    m = STATS_RE.search(err)
    if not m:
        raise BenchError(f"trapeze run-elf --stats printed no statistics:\n{err}")
    instructions = sum(int(h.group(2).replace(",", "")) for h in HART_RE.finditer(err))
    return {"wall": wall, "cpu": cpu, "stats_time": float(m.group(1)), "instructions": instructions,
            "checksum": _checksum(out)}


def run_elf_qemu(elf, timeout):
    """One run of the same ELF on QEMU's spike machine (HTIF tohost: exit status = code, 0 = pass)."""
    cmd = [QEMU, "-M", "spike", "-smp", "1", "-bios", "none", "-nographic", "-kernel", elf]
    p, wall, cpu = _timed_run(cmd, timeout)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise BenchError(f"qemu {os.path.basename(elf)} exited {p.returncode}:\n{out}{p.stderr.decode(errors='replace')}")
    return {"wall": wall, "cpu": cpu, "checksum": _checksum(out)}


def _timed_run(cmd, timeout):
    """Run CMD to its end: (completed process, wall seconds, CPU seconds of all its threads, user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, wall, cpu


def _checksum(console):
    m = CHECKSUM_RE.search(console)
    return m.group(2) if m else None


def _minstret(console):
    m = CHECKSUM_RE.search(console)
    return int(m.group(3)) if m else None


def minstret_pair(trapeze_cmd, elf, timeout):
    """The workload's own instruction count (minstret delta it prints) on Trapeze and on QEMU -icount.

    Without -icount QEMU's minstret follows host time; with `-icount shift=0` it counts instructions,
    which makes it an independent count to check Trapeze's against.
    """
    tz, _, _ = _timed_run(trapeze_cmd + ["run-elf", "--timeout", str(int(timeout)), elf], timeout + 30)
    qm, _, _ = _timed_run([QEMU, "-M", "spike", "-smp", "1", "-bios", "none", "-nographic", "-icount", "shift=0",
                           "-kernel", elf], timeout)
    return _minstret(tz.stdout.decode(errors="replace")), _minstret(qm.stdout.decode(errors="replace"))


def bench_elf(name, elf, runs, trapeze_cmd, timeout, log):
    tz, qm = [], []
    for i in range(runs):
        tz.append(run_elf_trapeze(trapeze_cmd, elf, timeout))
        qm.append(run_elf_qemu(elf, timeout))
        log(f"  {name} run {i + 1}/{runs}: trapeze {tz[-1]['wall']:.3f} s, qemu {qm[-1]['wall']:.3f} s")
    counts = {r["instructions"] for r in tz}
    if len(counts) != 1:
        raise BenchError(f"{name}: instruction count differs between runs: {sorted(counts)}")
    sums = {r["checksum"] for r in tz + qm}
    if len(sums) != 1:
        raise BenchError(f"{name}: checksums differ between runs or emulators: {sorted(map(str, sums))}")
    instr = counts.pop()
    kernel_tz, kernel_q = minstret_pair(trapeze_cmd, elf, timeout)
    if kernel_tz != kernel_q:
        raise BenchError(f"{name}: the workload's minstret differs: trapeze {kernel_tz}, qemu -icount {kernel_q}")
    tz_wall = statistics.median(r["wall"] for r in tz)
    tz_run = statistics.median(r["stats_time"] for r in tz)
    q_wall = statistics.median(r["wall"] for r in qm)
    tz_cpu = statistics.median(r["cpu"] for r in tz)
    q_cpu = statistics.median(r["cpu"] for r in qm)
    return {
        "instructions": instr,
        "workload_instructions": kernel_tz,   # minstret around the kernel alone; equal on both
        "trapeze_wall_s": tz_wall,
        "qemu_wall_s": q_wall,
        "ratio": tz_wall / q_wall,
        "trapeze_mips": instr / tz_run / 1e6,          # --stats: execution only
        "trapeze_run_s": tz_run,
        "trapeze_wall_mips": instr / tz_wall / 1e6,    # whole process
        "qemu_wall_mips": instr / q_wall / 1e6,
        "trapeze_cpu_mips": instr / tz_cpu / 1e6 if tz_cpu > 0 else 0.0,
        "qemu_cpu_mips": instr / q_cpu / 1e6 if q_cpu > 0 else 0.0,
        "trapeze_cpu_s": tz_cpu,
        "qemu_cpu_s": q_cpu,
        "cpu_ratio": tz_cpu / q_cpu if q_cpu > 0 else None,
        "trapeze_wall_runs": [r["wall"] for r in tz],
        "qemu_wall_runs": [r["wall"] for r in qm],
    }


# ----------------------------------------------------------------- U-Boot

def console_session(cmd, timeout, press_key_at_autoboot, stdin_mode):
    """Start CMD with its console output on a fresh pty and watch it.

    Returns the times (seconds from just before the process was started) at which
    the autoboot banner and then the `=> ` prompt first appeared. When
    press_key_at_autoboot is set, a key is sent as soon as the banner shows (which
    stops the countdown); the prompt is only looked for after that. The process is
    then asked to quit with Ctrl-A x and, failing that, terminated.

    stdin_mode "pipe": keys go through a pipe; "pty": through the same pty (what a
    person at a terminal does).
    """
    master, slave = pty.openpty()
    errf = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=slave if stdin_mode == "pty" else subprocess.PIPE, stdout=slave,
                            stderr=errf, start_new_session=True, close_fds=True)
    os.close(slave)
    send = (lambda b: os.write(master, b)) if stdin_mode == "pty" else (lambda b: _send_pipe(proc, b))
    seen = bytearray()
    t_banner = t_prompt = None
    prompt_from = 0
    deadline = t0 + timeout
    try:
        while t_prompt is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([master], [], [], min(left, 0.5))
            if not r:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # the child closed the pty
                    break
                raise
            if not chunk:
                break
            now = time.monotonic()
            seen += chunk
            if t_banner is None and AUTOBOOT_MARK in seen:
                t_banner = now - t0
                prompt_from = seen.index(AUTOBOOT_MARK)
                if press_key_at_autoboot:
                    send(b" ")
            if t_banner is not None and seen.find(PROMPT_MARK, prompt_from) >= 0:
                t_prompt = now - t0
    finally:
        stopped = _stop(proc, master, send)
        os.close(master)
        if proc.stdin:
            try:
                proc.stdin.close()
            except OSError:
                pass
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        errf.close()
    if t_banner is None or t_prompt is None:
        tail = seen[-1500:].decode(errors="replace")
        raise BenchError(f"{cmd[0]}: no {'autoboot banner' if t_banner is None else 'prompt'} "
                         f"within {timeout} s\n--- console tail ---\n{tail}\n--- stderr ---\n{err}")
    return {"banner": t_banner, "prompt": t_prompt, "clean_exit": stopped}


def _send_pipe(proc, data):
    proc.stdin.write(data)
    proc.stdin.flush()


def _stop(proc, master, send):
    """Quit through the console (Ctrl-A x); terminate, then kill, the child by pid if it stays."""
    if proc.poll() is None:
        try:
            send(CTRL_A_X)
        except OSError:
            pass
        if _wait(proc, master, 5.0):
            return True
        proc.send_signal(signal.SIGTERM)
        if _wait(proc, master, 3.0):
            return False
        proc.kill()
        proc.wait()
        return False
    return True



def _wait(proc, master, seconds):
    """Wait for the child, draining its console so that it never blocks on a full pty."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return True
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                os.read(master, 65536)
            except OSError:
                pass
    return proc.poll() is not None


def bench_uboot(runs, trapeze_cmd, timeout, stdin_mode, autoboot, log):
    tz_cmd = trapeze_cmd + ["run", "--bios", OPENSBI, "--kernel", UBOOT, "--mem", "512M"]
    q_cmd = [QEMU, "-M", "virt", "-smp", "1", "-m", "512M", "-nographic", "-bios", OPENSBI, "-kernel", UBOOT]
    tz, qm, tz_auto, qm_auto = [], [], [], []
    for i in range(runs):
        tz.append(console_session(tz_cmd, timeout, True, stdin_mode))
        qm.append(console_session(q_cmd, timeout, True, stdin_mode))
        log(f"  u-boot run {i + 1}/{runs}: trapeze {tz[-1]['banner']:.3f}/{tz[-1]['prompt']:.3f} s, "
            f"qemu {qm[-1]['banner']:.3f}/{qm[-1]['prompt']:.3f} s (banner/prompt)")
    if autoboot:
        for i in range(runs):
            tz_auto.append(console_session(tz_cmd, timeout, False, stdin_mode))
            qm_auto.append(console_session(q_cmd, timeout, False, stdin_mode))
            log(f"  u-boot autoboot run {i + 1}/{runs}: trapeze {tz_auto[-1]['prompt']:.3f} s, "
                f"qemu {qm_auto[-1]['prompt']:.3f} s")
    res = {}
    for name, key, t_runs, q_runs in (("banner", "banner", tz, qm), ("prompt", "prompt", tz, qm),
                                      ("autoboot_prompt", "prompt", tz_auto, qm_auto)):
        if not t_runs:
            continue
        t = statistics.median(r[key] for r in t_runs)
        q = statistics.median(r[key] for r in q_runs)
        res[name] = {"trapeze_s": t, "qemu_s": q, "ratio": t / q,
                     "trapeze_runs": [r[key] for r in t_runs], "qemu_runs": [r[key] for r in q_runs]}
    everything_t, everything_q = tz + tz_auto, qm + qm_auto
    res["clean_exits"] = {"trapeze": sum(r["clean_exit"] for r in everything_t),
                          "qemu": sum(r["clean_exit"] for r in everything_q), "of": len(everything_t)}
    return res


# ----------------------------------------------------------------- report

def machine_info(trapeze_cmd):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024 // 1024
    except (OSError, ValueError, IndexError):
        pass

    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, timeout=30).stdout.decode().splitlines()[0].strip()
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"

    here = os.path.dirname(os.path.abspath(__file__))
    commit = first_line(["git", "-C", here, "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"]) not in ("", "unknown")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "kernel": platform.release(),
        "qemu": first_line([QEMU, "--version"]),
        "dotnet": first_line(["dotnet", "--version"]),
        "trapeze": first_line(trapeze_cmd + ["--version"]),
        "commit": commit + ("+dirty" if dirty else ""),
        "load_before": os.getloadavg()[0],
    }


def _ratio(v):
    return f"{v:.2f}" if v is not None else "n/a"


def table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append(" | ".join(cells))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trapeze", required=True, help="command that runs the trapeze CLI (split on spaces)")
    ap.add_argument("--guest-dir", required=True, help="folder with intmix.elf, fpmix.elf, empty.elf")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    ap.add_argument("--only", default="startup,intmix,fpmix,uboot,autoboot",
                    help="comma-separated figures to run (default: all); autoboot needs uboot")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed for one run (default 120)")
    ap.add_argument("--stdin", choices=("pipe", "pty"), default="pipe",
                    help="how keys reach the U-Boot console: a pipe (default) or the console's pty")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    only = set(args.only.split(","))
    unknown = only - {"startup", "intmix", "fpmix", "uboot", "autoboot"}
    if unknown:
        ap.error(f"--only: unknown figure(s) {', '.join(sorted(unknown))}")

    trapeze_cmd = args.trapeze.split()
    log = lambda s: print(s, file=sys.stderr, flush=True)
    info = machine_info(trapeze_cmd)
    started = time.monotonic()
    results = {}
    elf = lambda n: os.path.join(args.guest_dir, n + ".elf")

    try:
        # One untimed run of each first: disk cache, .NET start-up files.
        run_elf_trapeze(trapeze_cmd, elf("empty"), args.timeout)
        run_elf_qemu(elf("empty"), args.timeout)
        for name in ("startup", "intmix", "fpmix"):
            if name in only:
                log(f"{name}:")
                results[name] = bench_elf(name, elf("empty" if name == "startup" else name), args.runs,
                                          trapeze_cmd, args.timeout, log)
        if "uboot" in only:
            log("uboot:")
            results["uboot"] = bench_uboot(args.runs, trapeze_cmd, args.timeout, args.stdin,
                                           "autoboot" in only, log)
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    info["load_after"] = os.getloadavg()[0]
    info["bench_seconds"] = time.monotonic() - started

    rows = [("figure", "trapeze", "qemu", "ratio")]
    f3 = lambda v: f"{v:.3f} s"
    if "startup" in results:
        r = results["startup"]
        rows.append(("startup: empty bare-metal ELF, wall", f3(r["trapeze_wall_s"]), f3(r["qemu_wall_s"]),
                     f"{r['ratio']:.2f}"))
        rows.append(("startup: empty bare-metal ELF, CPU time", f3(r["trapeze_cpu_s"]), f3(r["qemu_cpu_s"]),
                     _ratio(r["cpu_ratio"])))
    for name, label in (("intmix", "integer mix"), ("fpmix", "FP mix")):
        if name in results:
            r = results[name]
            rows.append((f"{label} ({r['instructions'] / 1e6:.1f} M instr), wall", f3(r["trapeze_wall_s"]),
                         f3(r["qemu_wall_s"]), f"{r['ratio']:.2f}"))
            rows.append((f"{label}, CPU time (user + sys)", f3(r["trapeze_cpu_s"]), f3(r["qemu_cpu_s"]),
                         _ratio(r["cpu_ratio"])))
            rows.append((f"{label}, MIPS over wall time", f"{r['trapeze_wall_mips']:.0f}",
                         f"{r['qemu_wall_mips']:.0f}", ""))
            rows.append((f"{label}, MIPS over CPU time", f"{r['trapeze_cpu_mips']:.0f}",
                         f"{r['qemu_cpu_mips']:.0f}", ""))
            rows.append((f"{label}, Trapeze MIPS (--stats: execution only)", f"{r['trapeze_mips']:.0f}", "", ""))
    if "uboot" in results:
        r = results["uboot"]
        rows.append(("U-Boot: start -> 'Hit any key to stop autoboot'", f3(r["banner"]["trapeze_s"]),
                     f3(r["banner"]["qemu_s"]), f"{r['banner']['ratio']:.2f}"))
        rows.append(("U-Boot: start -> '=>' (key sent at the banner)", f3(r["prompt"]["trapeze_s"]),
                     f3(r["prompt"]["qemu_s"]), f"{r['prompt']['ratio']:.2f}"))
        if "autoboot_prompt" in r:
            a = r["autoboot_prompt"]
            rows.append(("U-Boot: start -> '=>' (no key: 2 s countdown, boot fails)", f3(a["trapeze_s"]),
                         f3(a["qemu_s"]), f"{a['ratio']:.2f}"))

    print(f"Trapeze vs QEMU — median of {args.runs} run(s); ratio = Trapeze time / QEMU time (< 1.0: Trapeze faster)")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
          f"load average {info['load_before']:.2f} before, {info['load_after']:.2f} after")
    print(f"versions: {info['trapeze']} at {info['commit']}; .NET {info['dotnet']}; {info['qemu']}")
    print()
    print(table(rows))
    if "uboot" in results:
        c = results["uboot"]["clean_exits"]
        if c["trapeze"] < c["of"] or c["qemu"] < c["of"]:
            print(f"\nnote: Ctrl-A x did not end every U-Boot run (trapeze {c['trapeze']}/{c['of']}, "
                  f"qemu {c['qemu']}/{c['of']}); the others were terminated")
    for name in ("intmix", "fpmix"):
        if name in results:
            r = results[name]
            print(f"\n{name}: {r['instructions']:,} instructions retired in all (Trapeze --stats), "
                  f"{r['workload_instructions']:,} in the workload itself (minstret: Trapeze = QEMU -icount)", end="")
    if "uboot" in results:
        print(f"\nU-Boot keys sent through: {args.stdin}", end="")
    print(f"\n\n(bench took {info['bench_seconds']:.0f} s)")

    if args.json:
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "runs": args.runs, "machine": info, "results": results}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
