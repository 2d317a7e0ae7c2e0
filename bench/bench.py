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
    # The total retired varies a little from run to run: the program waits in a loop for the host to
    # take each character from tohost (and after its last write, to be stopped), and how many turns
    # that takes depends on when the emulator looks, which the translator makes timing-dependent. The
    # workload's own count is exact and checked below; the total may only differ by those few turns.
    counts = sorted(r["instructions"] for r in tz)
    if counts[-1] - counts[0] > 10_000:
        raise BenchError(f"{name}: instruction count differs between runs: {counts}")
    sums = {r["checksum"] for r in tz + qm}
    if len(sums) != 1:
        raise BenchError(f"{name}: checksums differ between runs or emulators: {sorted(map(str, sums))}")
    instr = int(statistics.median(counts))
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
        "instructions_runs": [r["instructions"] for r in tz],
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


# ------------------------------------------------------------------ Linux

LINUX_MEM = "512M"
READY_RE = re.compile(r"GUEST-READY kernel=(\S+) uptime_ms=(\d+) init_ms=(\d+) cpus=(\d+)")
RUN_INIT_RE = re.compile(r"\[\s*([0-9.]+)\] Run /init as init process")
BENCH_RE = re.compile(r"^BENCH (\S+) (\d+) ms", re.M)
BENCH_RESULT_RE = re.compile(r"^BENCH-RESULT (.*?)\s*$", re.M)
PROG_RE = re.compile(r"^PROG (\S+) (\d+) ms", re.M)
PROG_SUM_RE = re.compile(r"^PROG checksum (0x[0-9a-f]+)", re.M)
RUN_EXIT_RE = re.compile(r"^RUN-EXIT (\d+)", re.M)
TRANSLATED_RE = re.compile(r"hart\d+: instructions ([0-9,]+) .*?translated ([0-9,]+) \(")
TRANSLATOR_RE = re.compile(r"translator: regions ([0-9,]+) \(([0-9,]+) instructions, (\d+) ms, of which RyuJIT (\d+) ms\)")


def linux_session(cmd, timeout):
    """Run a Linux guest to its power-off with the console on a fresh pty.

    Returns the times (seconds from just before the process was started) at which GUEST-READY and
    GUEST-DONE first appeared on the console and at which the process had exited, its CPU time (user +
    sys, all threads), exit status, console text and stderr. A guest still running at TIMEOUT is
    asked to quit (Ctrl-A x), then terminated; "timed_out" says so.
    """
    master, slave = pty.openpty()
    errf = tempfile.TemporaryFile()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=slave, stderr=errf, start_new_session=True,
                            close_fds=True)
    os.close(slave)
    seen = bytearray()
    marks = {b"GUEST-READY": None, b"GUEST-DONE": None}
    deadline = t0 + timeout
    timed_out = False
    t_exit = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            r, _, _ = select.select([master], [], [], min(left, 0.05))
            if not r:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # every writer closed the pty: the process is ending
                    break
                raise
            if not chunk:
                break
            now = time.monotonic() - t0
            start = max(0, len(seen) - 16)
            seen += chunk
            for m, t in marks.items():
                if t is None and seen.find(m, start) >= 0:
                    marks[m] = now
        if not timed_out:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                t_exit = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if proc.poll() is None:
            _stop(proc, master, lambda b: _send_pipe(proc, b))
        proc.wait()
        os.close(master)
        try:
            proc.stdin.close()
        except OSError:
            pass
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        errf.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"ready": marks[b"GUEST-READY"], "done": marks[b"GUEST-DONE"], "exit": t_exit, "cpu": cpu,
            "returncode": proc.returncode, "timed_out": timed_out,
            "console": seen.decode(errors="replace").replace("\r", ""), "stderr": err}


def _linux_failure(who, r, why):
    tail = r["console"][-2000:]
    return BenchError(f"{who}: {why}\n--- console tail ---\n{tail}\n--- stderr ---\n{r['stderr'][-2000:]}")


def run_linux(emulator, trapeze_cmd, guest, append, timeout):
    """One boot of GUEST (dir with Image, initramfs.cpio.gz) with APPEND on EMULATOR ("trapeze" or "qemu")."""
    kernel, initrd = os.path.join(guest, "Image"), os.path.join(guest, "initramfs.cpio.gz")
    if emulator == "trapeze":
        cmd = trapeze_cmd + ["run", "--stats", "--bios", OPENSBI, "--kernel", kernel, "--initrd", initrd,
                             "--mem", LINUX_MEM, "--smp", "1", "--append", append]
    else:
        cmd = [QEMU, "-M", "virt", "-smp", "1", "-m", LINUX_MEM, "-nographic", "-bios", OPENSBI,
               "-kernel", kernel, "-initrd", initrd, "-append", append]
    r = linux_session(cmd, timeout)
    if r["timed_out"]:
        raise _linux_failure(emulator, r, f"'{append}' did not power off within {timeout:.0f} s")
    if r["ready"] is None or r["done"] is None:
        raise _linux_failure(emulator, r, f"'{append}': no GUEST-READY / GUEST-DONE on the console")
    if r["returncode"] != 0:
        raise _linux_failure(emulator, r, f"'{append}': exited with status {r['returncode']}")
    con = r["console"]
    m = READY_RE.search(con)
    r["uptime_ready"] = int(m.group(2)) / 1e3 if m else None
    r["init_ms"] = int(m.group(3)) if m else None
    r["kernel"] = m.group(1) if m else None
    m = RUN_INIT_RE.search(con)
    r["uptime_init"] = float(m.group(1)) if m else None
    if emulator == "trapeze":
        r["stats"] = _trapeze_stats(r["stderr"])
    r["items"] = {}
    for m in BENCH_RE.finditer(con):
        r["items"][m.group(1)] = int(m.group(2)) / 1e3
    for m in PROG_RE.finditer(con):
        r["items"][m.group(1)] = int(m.group(2)) / 1e3
    m = BENCH_RESULT_RE.search(con)
    r["bench_result"] = m.group(1) if m else None
    m = PROG_SUM_RE.search(con)
    r["checksum"] = m.group(1) if m else None
    m = RUN_EXIT_RE.search(con)
    r["run_exit"] = int(m.group(1)) if m else None
    return r


def _trapeze_stats(err):
    """Instructions, translated share, --stats run time and translator work from `--stats` (all harts)."""
    m = STATS_RE.search(err)
    if not m:
        return None
    instr = translated = 0
    for h in TRANSLATED_RE.finditer(err):
        instr += int(h.group(1).replace(",", ""))
        translated += int(h.group(2).replace(",", ""))
    t = TRANSLATOR_RE.search(err)
    return {"run_s": float(m.group(1)), "instructions": instr, "translated": translated,
            "translated_share": translated / instr if instr else None,
            "regions": int(t.group(1).replace(",", "")) if t else None,
            "compile_ms": int(t.group(3)) if t else None, "ryujit_ms": int(t.group(4)) if t else None}


def _median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _median_item(runs, name):
    vals = [r["items"][name] for r in runs if name in r["items"]]
    return statistics.median(vals) if vals else None


def _median_run(runs, key):
    """The run whose KEY is the median one (the lower middle for an even count)."""
    s = sorted(runs, key=lambda r: r[key])
    return s[(len(s) - 1) // 2]


def bench_linux(name, runs, trapeze_cmd, guest, append, timeout, log):
    """RUNS boots of the same guest on each emulator, alternating; medians and the checks of NAME."""
    tz, qm = [], []
    for i in range(runs):
        tz.append(run_linux("trapeze", trapeze_cmd, guest, append, timeout))
        qm.append(run_linux("qemu", trapeze_cmd, guest, append, timeout))
        log(f"  {name} run {i + 1}/{runs}: trapeze {tz[-1]['ready']:.2f}/{tz[-1]['exit']:.2f} s, "
            f"qemu {qm[-1]['ready']:.2f}/{qm[-1]['exit']:.2f} s (GUEST-READY/exit)")
    if name == "linux-busybox":
        results = {r["bench_result"] for r in tz + qm}
        if len(results) != 1 or None in results:
            raise BenchError(f"{name}: BENCH-RESULT differs between runs or emulators: {sorted(map(str, results))}")
    if name == "linux-prog":
        for who, rs in (("trapeze", tz), ("qemu", qm)):
            for r in rs:
                if r["run_exit"] != 0:
                    raise _linux_failure(who, r, f"/bench-prog exited {r['run_exit']}")
        sums = {r["checksum"] for r in tz + qm}
        if len(sums) != 1 or None in sums:
            raise BenchError(f"{name}: checksums differ between runs or emulators: {sorted(map(str, sums))}")
    res = {"append": append, "guest": guest, "kernel": tz[0]["kernel"], "runs": runs}
    for key in ("ready", "exit", "cpu", "uptime_ready", "uptime_init", "init_ms"):
        t, q = _median_of(tz, key), _median_of(qm, key)
        res[key] = {"trapeze": t, "qemu": q, "ratio": t / q if t is not None and q else None,
                    "trapeze_runs": [r[key] for r in tz], "qemu_runs": [r[key] for r in qm]}
    items = []
    for r in tz + qm:
        items += [k for k in r["items"] if k not in items]
    res["items"] = {}
    for k in items:
        t, q = _median_item(tz, k), _median_item(qm, k)
        res["items"][k] = {"trapeze": t, "qemu": q, "ratio": t / q if t is not None and q else None,
                           "trapeze_runs": [r["items"].get(k) for r in tz],
                           "qemu_runs": [r["items"].get(k) for r in qm]}
    res["checksum"] = tz[0]["checksum"]
    res["bench_result"] = tz[0]["bench_result"]
    res["trapeze_stats_runs"] = [r["stats"] for r in tz]
    res["trapeze_stats"] = _median_run(tz, "exit")["stats"]   # of the run with the median exit time
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


FIGURES = ("startup", "intmix", "fpmix", "uboot", "autoboot", "linux-boot", "linux-busybox", "linux-prog")
GROUPS = {"baremetal": ("startup", "intmix", "fpmix"), "linux": ("linux-boot", "linux-busybox", "linux-prog"),
          "all": FIGURES}
LINUX_APPEND = {"linux-boot": "console=ttyS0 poweroff=1", "linux-busybox": "console=ttyS0 bench=1",
                "linux-prog": "console=ttyS0 run=/bench-prog"}


def _warm_files(paths):
    """Read files once so that the first timed run does not pay for the disk (as the untimed warm-up
    run does for the bare-metal figures)."""
    for p in paths:
        try:
            with open(p, "rb") as f:
                while f.read(1 << 20):
                    pass
        except OSError:
            pass


def linux_rows(rows, name, r):
    f3 = lambda v: f"{v:.3f} s" if v is not None else "n/a"
    f2 = lambda v: f"{v:.2f} s" if v is not None else "n/a"
    pair = lambda label, d, fmt: rows.append((label, fmt(d["trapeze"]), fmt(d["qemu"]), _ratio(d["ratio"])))
    if name == "linux-boot":
        pair("Linux boot: start -> GUEST-READY (poweroff=1), wall", r["ready"], f3)
        pair("Linux boot: start -> exit (power-off), wall", r["exit"], f3)
        pair("Linux boot: CPU time to exit (user + sys)", r["cpu"], f3)
        pair("Linux boot: guest clock at 'Run /init'", r["uptime_init"], f2)
        pair("Linux boot: guest clock at GUEST-READY", r["uptime_ready"], f2)
    elif name == "linux-busybox":
        for k, d in r["items"].items():
            if k != "total":
                pair(f"busybox bench=1: {k}, guest clock", d, f2)
        pair("busybox bench=1: total, guest clock", r["items"]["total"], f2)
        pair("busybox bench=1: start -> exit, wall", r["exit"], f3)
        pair("busybox bench=1: CPU time to exit (user + sys)", r["cpu"], f3)
    elif name == "linux-prog":
        for k, d in r["items"].items():
            if k != "total":
                pair(f"C program /bench-prog: {k}, guest clock", d, f2)
        pair("C program /bench-prog: total, guest clock", r["items"]["total"], f2)
        pair("C program: start -> exit (boot included), wall", r["exit"], f3)
        pair("C program: CPU time to exit (user + sys)", r["cpu"], f3)


def linux_notes(results):
    lines = []
    for name in GROUPS["linux"]:
        if name not in results:
            continue
        r = results[name]
        s = r["trapeze_stats"]
        if s:
            lines.append(f"{name} ({r['append']}; {r['runs']} run(s)): Trapeze --stats: "
                         f"{s['instructions'] / 1e9:.2f} G instructions, {100 * s['translated_share']:.1f}% translated; "
                         f"{s['regions']:,} regions compiled in {s['compile_ms'] / 1e3:.1f} s "
                         f"(RyuJIT {s['ryujit_ms'] / 1e3:.1f} s) on the translator thread; "
                         f"{s['instructions'] / s['run_s'] / 1e6:.0f} MIPS over its {s['run_s']:.2f} s")
    if "linux-busybox" in results:
        lines.append(f"busybox bench=1: BENCH-RESULT identical on both: {results['linux-busybox']['bench_result']}")
    if "linux-prog" in results:
        lines.append(f"C program: checksum {results['linux-prog']['checksum']} identical on both emulators, every run")
    some = next((results[n] for n in GROUPS["linux"] if n in results), None)
    if some:
        lines.append(f"Linux guest: kernel {some['kernel']}, {LINUX_MEM} RAM, smp 1, firmware {OPENSBI}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trapeze", required=True, help="command that runs the trapeze CLI (split on spaces)")
    ap.add_argument("--guest-dir", required=True, help="folder with intmix.elf, fpmix.elf, empty.elf")
    ap.add_argument("--linux-guest", help="the default Linux guest (Image, initramfs.cpio.gz)")
    ap.add_argument("--linux-bench-guest", help="the Linux benchmark guest (its initramfs has /bench-prog)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    ap.add_argument("--busybox-runs", type=int, default=1,
                    help="runs of the busybox workload, the longest figure (default 1)")
    ap.add_argument("--only", default="all",
                    help="comma-separated figures or groups: " + ", ".join(FIGURES) + "; groups "
                         + ", ".join(GROUPS) + " (default: all); autoboot needs uboot")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed for one run (default 120)")
    ap.add_argument("--linux-timeout", type=float, default=300,
                    help="seconds allowed for one Linux boot to power off (default 300)")
    ap.add_argument("--stdin", choices=("pipe", "pty"), default="pipe",
                    help="how keys reach the U-Boot console: a pipe (default) or the console's pty")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args()
    if args.runs < 1 or args.busybox_runs < 1:
        ap.error("--runs and --busybox-runs must be at least 1")
    only = set()
    for w in args.only.split(","):
        if w in GROUPS:
            only.update(GROUPS[w])
        elif w in FIGURES:
            only.add(w)
        else:
            ap.error(f"--only: unknown figure {w}")
    if only & set(GROUPS["linux"]) and not (args.linux_guest and args.linux_bench_guest):
        ap.error("the Linux figures need --linux-guest and --linux-bench-guest")

    trapeze_cmd = args.trapeze.split()
    log = lambda s: print(s, file=sys.stderr, flush=True)
    info = machine_info(trapeze_cmd)
    started = time.monotonic()
    results = {}
    failures = {}
    loads = {}
    elf = lambda n: os.path.join(args.guest_dir, n + ".elf")

    def figure(name, fn):
        """Run one figure; a failure is reported and the other figures still run."""
        loads[name] = os.getloadavg()[0]
        try:
            results[name] = fn()
        except (BenchError, subprocess.TimeoutExpired) as e:
            failures[name] = str(e)
            log(f"bench: {name} FAILED: {e}")

    # One untimed run of each first: disk cache, .NET start-up files.
    try:
        run_elf_trapeze(trapeze_cmd, elf("empty"), args.timeout)
        run_elf_qemu(elf("empty"), args.timeout)
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    for name in ("startup", "intmix", "fpmix"):
        if name in only:
            log(f"{name}:")
            figure(name, lambda name=name: bench_elf(name, elf("empty" if name == "startup" else name), args.runs,
                                                     trapeze_cmd, args.timeout, log))
    if "uboot" in only:
        log("uboot:")
        figure("uboot", lambda: bench_uboot(args.runs, trapeze_cmd, args.timeout, args.stdin,
                                            "autoboot" in only, log))
    for name in GROUPS["linux"]:
        if name in only:
            guest = args.linux_bench_guest if name == "linux-prog" else args.linux_guest
            runs = args.busybox_runs if name == "linux-busybox" else args.runs
            _warm_files([os.path.join(guest, "Image"), os.path.join(guest, "initramfs.cpio.gz"), OPENSBI])
            log(f"{name}: {LINUX_APPEND[name]}")
            figure(name, lambda name=name, guest=guest, runs=runs: bench_linux(
                name, runs, trapeze_cmd, guest, LINUX_APPEND[name], args.linux_timeout, log))
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
    for name in GROUPS["linux"]:
        if name in results:
            linux_rows(rows, name, results[name])
    for name in failures:
        rows.append((f"{name}: FAILED (see below)", "", "", ""))

    linux_runs = [f"{n} {args.busybox_runs if n == 'linux-busybox' else args.runs}" for n in GROUPS["linux"]
                  if n in only]
    print(f"Trapeze vs QEMU — median of {args.runs} run(s)"
          + (f" ({', '.join(linux_runs)})" if linux_runs else "")
          + "; ratio = Trapeze time / QEMU time (< 1.0: Trapeze faster)")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
          f"load average {info['load_before']:.2f} before, {info['load_after']:.2f} after")
    print("load average at the start of each figure: "
          + ", ".join(f"{n} {v:.2f}" for n, v in loads.items()))
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
            spread = max(r["instructions_runs"]) - min(r["instructions_runs"])
            print(f"\n{name}: {r['instructions']:,} instructions retired in all (Trapeze --stats, median; "
                  f"runs differ by up to {spread} in the HTIF wait loops), "
                  f"{r['workload_instructions']:,} in the workload itself (minstret: Trapeze = QEMU -icount)", end="")
    if "uboot" in results:
        print(f"\nU-Boot keys sent through: {args.stdin}", end="")
    for line in linux_notes(results):
        print(f"\n{line}", end="")
    print(f"\n\n(bench took {info['bench_seconds']:.0f} s)")
    for name, why in failures.items():
        print(f"\n{name} FAILED: {why}")

    if args.json:
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "runs": args.runs, "busybox_runs": args.busybox_runs, "machine": info, "load_at_start": loads,
               "results": results, "failures": failures}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
