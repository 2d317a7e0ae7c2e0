#!/usr/bin/env bash
# Snapshots and start-up of a VM, Trapeze against QEMU, on the default Linux guest (Debian's kernel, busybox
# initramfs) with 512 MiB of RAM, a 64 MiB qcow2 disk and OpenSBI (Debian's for Trapeze, QEMU's own for QEMU).
#
# Usage: bench/snapshot.sh [--runs N] [--memory MIB]
#
# Each run, for each emulator:
#   start    a new VM process until the busybox shell prompt is on the console
#            (trapeze start; qemu-system-riscv64 with the same kernel, initramfs and command line)
#   save     a snapshot of the running guest, idle at its prompt, RAM and disk included
#            (trapeze snapshot save; QEMU's savevm through its monitor: an internal qcow2 snapshot)
#            and the same save sent straight to the VM process (its api.sock), without the CLI's start-up
#   size     what the snapshot adds on the host's disk (Trapeze: snapshots/TAG, allocated blocks;
#            QEMU: the VM SIZE qemu-img info reports for it)
#   restore  from a stopped VM to the guest answering a command on its console, in a new process
#            (trapeze snapshot restore; qemu-system-riscv64 -loadvm)
# Times include each emulator's process start (for Trapeze: the CLI, then the VM process, two .NET
# start-ups). Prints one line per run and the medians with ratio = Trapeze / QEMU.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
runs=3
memory=512
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        *) echo "usage: bench/snapshot.sh [--runs N] [--memory MIB]" >&2; exit 2 ;;
    esac
done
for tool in python3 qemu-system-riscv64 qemu-img dotnet; do
    command -v $tool >/dev/null 2>&1 || { echo "bench: $tool is missing (qemu-system-misc, qemu-utils, python3, .NET 10 SDK); nothing was installed" >&2; exit 2; }
done
GUEST="${TRAPEZE_GUEST_DIR:-$HOME/.cache/trapeze/guest}"
if [ ! -f "$GUEST/Image" ] || [ ! -f "$GUEST/initramfs.cpio.gz" ]; then
    "$ROOT/guests/build-guest.sh" >&2
fi
"$ROOT/trapeze" --version >/dev/null   # builds the CLI (Release) when a source changed

WORK=$(mktemp -d /tmp/trapeze-snapbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "bench: snapshots of a ${memory} MiB Linux guest, ${runs} run(s); host $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

exec python3 - "$ROOT" "$GUEST" "$WORK" "$runs" "$memory" <<'PY'
import os, socket, statistics, subprocess, sys, time, re, json

root, guest, work, runs, memory = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
kernel, initrd = os.path.join(guest, "Image"), os.path.join(guest, "initramfs.cpio.gz")
append = "console=ttyS0 quiet"
prompt = b"Enter 'help' for a list"

def connect(path, timeout=60):
    end = time.time() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.time() > end: raise
            time.sleep(0.005)

def wait(s, pattern, timeout=180):
    """Reads from s until pattern shows; returns what was read."""
    buf, end = b"", time.time() + timeout
    s.settimeout(0.2)
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d: break
        buf += d
        if pattern in buf: return buf
    raise RuntimeError("no %r within %d s; last output: %r" % (pattern, timeout, buf[-400:]))

def answer(s, n, timeout=180):
    """Sends a command the shell must run and waits for its answer (the guest is alive and scheduling). Sent
    again every 2 s: input that reaches a machine still being loaded may be lost with the UART state it replaces."""
    end = time.time() + timeout
    while True:
        s.sendall(b"\necho answer-$((%d+1))\n" % n)
        try:
            return wait(s, b"answer-%d" % (n + 1), 2)
        except RuntimeError:
            if time.time() > end: raise

def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files: total += os.lstat(os.path.join(d, f)).st_blocks * 512
    return total

# ---------------------------------------------------------------- Trapeze
def trapeze(home, *args):
    env = dict(os.environ, TRAPEZE_HOME=home)
    r = subprocess.run([os.path.join(root, "trapeze"), *args], env=env, capture_output=True, text=True)
    if r.returncode != 0: raise RuntimeError("trapeze %s: %s" % (" ".join(args), r.stderr.strip()))

def console_log_wait(path, pattern, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, "rb") as f:
                if pattern in f.read(): return
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise RuntimeError("no %r in %s" % (pattern, path))

def run_trapeze(i):
    home = os.path.join(work, "home%d" % i)
    trapeze(home, "create", "b", "--kernel", kernel, "--initrd", initrd, "--append", append,
            "--mem", "%dM" % memory, "--disk", "size=64M")
    bundle = os.path.join(home, "vms", "b")
    t0 = time.time()
    trapeze(home, "start", "b")
    console_log_wait(os.path.join(bundle, "console.log"), prompt)
    start = time.time() - t0
    time.sleep(2)  # idle at the prompt, as QEMU's guest is when it saves
    t0 = time.time()
    trapeze(home, "snapshot", "save", "b", "s1")
    save = time.time() - t0
    size = du(os.path.join(bundle, "snapshots", "s1"))
    # The same save sent straight to the VM process's api.sock: the save itself, without the CLI's start-up.
    a = connect(os.path.join(bundle, "api.sock"))
    body = b'{"snapshot_tag": "s2"}'
    t0 = time.time()
    a.sendall(b"PUT /snapshot/create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    reply = wait(a, b"HTTP/1.1 ", 600)
    while True:
        d = a.recv(65536)
        if not d: break
        reply += d
    api_save = time.time() - t0
    a.close()
    if b"HTTP/1.1 204" not in reply: raise RuntimeError("api.sock snapshot/create: %r" % reply[:300])
    trapeze(home, "kill", "b")
    t0 = time.time()
    trapeze(home, "snapshot", "restore", "b", "s1")
    s = connect(os.path.join(bundle, "console.sock"))
    answer(s, 41)
    restore = time.time() - t0
    s.close()
    trapeze(home, "kill", "b")
    return dict(start=start, save=save, api_save=api_save, size=size, restore=restore)

# ---------------------------------------------------------------- QEMU
def qemu(d, extra):
    for f in ("ser.sock", "mon.sock"):
        if os.path.exists(os.path.join(d, f)): os.remove(os.path.join(d, f))
    p = subprocess.Popen(["qemu-system-riscv64", "-M", "virt", "-m", "%dM" % memory, "-display", "none",
        "-kernel", kernel, "-initrd", initrd, "-append", append,
        "-drive", "file=%s,if=none,id=d0,format=qcow2" % os.path.join(d, "disk.qcow2"), "-device", "virtio-blk-device,drive=d0",
        "-chardev", "socket,id=s0,path=%s,server=on,wait=off" % os.path.join(d, "ser.sock"), "-serial", "chardev:s0",
        "-monitor", "unix:%s,server=on,wait=off" % os.path.join(d, "mon.sock"), *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return p, connect(os.path.join(d, "ser.sock"))

def run_qemu(i):
    d = os.path.join(work, "qemu%d" % i)
    os.makedirs(d)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(d, "disk.qcow2"), "64M"], check=True)
    t0 = time.time()
    p, s = qemu(d, [])
    wait(s, prompt)
    start = time.time() - t0
    time.sleep(2)
    m = connect(os.path.join(d, "mon.sock"))
    wait(m, b"(qemu) ")
    t0 = time.time()
    m.sendall(b"savevm s1\n")
    out = wait(m, b"\n(qemu) ", 600)
    save = time.time() - t0
    if b"Error" in out: raise RuntimeError("savevm: %r" % out)
    p.kill(); p.wait()
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", os.path.join(d, "disk.qcow2")],
                                     capture_output=True, text=True, check=True).stdout)
    size = sum(x["vm-state-size"] for x in info.get("snapshots", []))
    t0 = time.time()
    p, s = qemu(d, ["-loadvm", "s1"])
    # The monitor answers once -loadvm is done and the machine runs (trapeze snapshot restore returns then too).
    m = connect(os.path.join(d, "mon.sock"))
    wait(m, b"(qemu) ")
    try:
        answer(s, 41, 30)
        restore = time.time() - t0
    except RuntimeError:
        # Seen with QEMU 7.2: now and then the guest loaded with -loadvm never answers. Counted, not timed.
        restore = None
    p.kill(); p.wait()
    # savevm is already a request to the running process.
    return dict(start=start, save=save, api_save=save, size=size, restore=restore)

rows = {"trapeze": [], "qemu": []}
for i in range(runs):
    for name, fn in (("trapeze", run_trapeze), ("qemu", run_qemu)):
        r = fn(i)
        rows[name].append(r)
        print("SNAPSHOT emulator=%s run=%d start_s=%.2f save_s=%.2f api_save_s=%.2f size_mib=%.1f restore_s=%s"
              % (name, i + 1, r["start"], r["save"], r["api_save"], r["size"] / 2**20,
                 "%.2f" % r["restore"] if r["restore"] is not None else "no-answer"), flush=True)

def med(name, k):
    values = [r[k] for r in rows[name] if r[k] is not None]
    return statistics.median(values) if values else float("nan")
print()
print("| figure (%d MiB guest, median of %d) | Trapeze | QEMU | ratio |" % (memory, runs))
print("|---|---|---|---|")
for k, label, unit, scale in (("start", "start → shell prompt", "s", 1), ("save", "snapshot save (RAM + disk), command", "s", 1),
                              ("api_save", "snapshot save, request to the VM process", "s", 1),
                              ("size", "snapshot size", "MiB", 2**-20), ("restore", "restore in a new process → guest answers", "s", 1)):
    t, q = med("trapeze", k) * scale, med("qemu", k) * scale
    print("| %s | %.2f %s | %.2f %s | %.1f |" % (label, t, unit, q, unit, t / q if q else float("nan")))
for name in rows:
    failed = sum(1 for r in rows[name] if r["restore"] is None)
    if failed: print("%s: the restored guest did not answer within 30 s in %d of %d runs" % (name, failed, runs))
print("load average after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
PY
