#!/usr/bin/env bash
# Installs the Debian packages Trapeze's tests, benchmarks and default guests need, when missing.
#   scripts/deps.sh          everything (tests + benchmarks)
#   scripts/deps.sh run      only what booting the default firmware needs
set -euo pipefail
case "${1:-all}" in
  run) pkgs="opensbi u-boot-qemu cpio kmod xz-utils gzip file" ;;
  all) pkgs="opensbi u-boot-qemu cpio kmod xz-utils gzip file gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf gcc-riscv64-linux-gnu libc6-dev-riscv64-cross device-tree-compiler qemu-system-misc qemu-utils util-linux python3 e2fsprogs" ;;
  *) echo "usage: scripts/deps.sh [run|all]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "trapeze: missing Debian packages:$missing (run as root or install them)" >&2; exit 2
  fi
else SUDO=""; fi
echo "trapeze: installing Debian packages:$missing" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
