#!/usr/bin/env bash
# Installs the Debian 12 packages turnstiled needs to build, run and test.
# Idempotent; skips apt-get when everything is already there.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libsystemd-dev libinih-dev libsqlite3-dev sqlite3 libcjson-dev libssl-dev nettle-dev
	libcurl4-openssl-dev libgpiod-dev libmodbus-dev libzbar-dev libzxing-dev qrencode libncurses-dev
	libcmocka-dev python3-pytest python3-serial python3-serial-asyncio python3-pymodbus socat procps openssl tmux
	e2fsprogs mount
	gcc-avr avr-libc simavr libsimavr-dev mbpoll
	clang-14 libclang-rt-14-dev llvm-14
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 xz-utils qemu-system-x86 busybox-static
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
