#!/usr/bin/env bash
# Boots the test VM once and runs one guest test in it: builds gpio-sim.ko
# (cached) and the initramfs from BUILD_DIR's binaries, boots the Debian kernel
# under QEMU's TCG (this machine's /dev/kvm cannot boot a stock kernel) with the
# console on stdout, and exits 0 only if the guest test reported success through
# isa-debug-exit (QEMU's exit status 33). ASAN_OPTIONS and UBSAN_OPTIONS reach
# the guest as init's environment, so sanitizer builds behave as on the host.
#
# Usage: tests/vm/run.sh BUILD_DIR TEST [ARG...]   e.g. run.sh build gpio
# TEST is tests/vm/guest/TEST.sh; ARGs are passed to it (no spaces or commas).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/kernel.sh"
build=$(cd "$1" && pwd)
test=$2
shift 2
vm=$build/vm
kver=$(vm_kernel_version)
kernel=/boot/vmlinuz-$kver

[ -f "$here/guest/$test.sh" ] || { echo "vm: no guest test $test" >&2; exit 2; }
[ -r "$kernel" ] || { echo "vm: $kernel missing (scripts/deps.sh installs it)" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "vm: qemu-system-x86_64 missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$vm"
"$here/gpio-sim-module.sh" "$vm"
"$here/initramfs.sh" "$build" "$vm"

append="console=ttyS0 quiet panic=-1 ts.test=$test"
if [ $# -gt 0 ]; then
	append+=" ts.args=$(IFS=,; echo "$*")"
fi
for var in ASAN_OPTIONS UBSAN_OPTIONS; do
	[ -z "${!var:-}" ] || append+=" $var=${!var}"
done
rc=0
timeout "${TS_VM_TIMEOUT:-480}" qemu-system-x86_64 -accel tcg -m 512 -smp 1 \
	-kernel "$kernel" -initrd "$vm/initrd.gz" -append "$append" \
	-nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null || rc=$?
case $rc in
33) echo "vm: $test passed"; exit 0 ;;
3) echo "vm: $test failed" ;;
124) echo "vm: $test timed out" ;;
*) echo "vm: $test: the machine stopped without a result (QEMU exit status $rc)" ;;
esac
exit 1
