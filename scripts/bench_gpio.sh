#!/usr/bin/env bash
# GPIO benchmark (not part of the test run): confirm -> output latency of the
# gpio backend, to the ioctl, on a real kernel GPIO chip (gpio-sim) in the test
# VM (tests/vm/run.sh, tests/vm/guest/gpio-bench.sh): p50/p99/max over ROUNDS
# attendant confirmations, timed by the kernel's trace clock. Target p99 <= 5 ms.
# The VM runs under QEMU's TCG (no usable KVM here), which emulates every
# instruction: the guest and the host time the same static busybox workload, and
# their ratio is printed so the guest's figures can be scaled to native.
# Usage: scripts/bench_gpio.sh [ROUNDS]   (about 1 s per round under TCG)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
scripts/deps.sh
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
# The VM image carries the programs of every guest test (tests/vm/initramfs.sh).
cmake --build "$top/build-bench" -j2 --target turnstiled turnstilectl uinput_keys
log=$top/build-bench/bench-gpio.log
TS_VM_TIMEOUT=3600 tests/vm/run.sh "$top/build-bench" gpio-bench "${1:-100}" >"$log" ||
	{ cat "$log"; exit 1; }
grep -E '^(==|confirm|  |calibration)' "$log"
best=
for _ in 1 2 3; do
	t0=$(date +%s%N)
	/bin/busybox dd if=/dev/zero bs=65536 count=256 2>/dev/null | /bin/busybox sha256sum >/dev/null
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ -n "$best" ] && [ "$best" -le "$ms" ] || best=$ms
done
guest=$(sed -n 's/^calibration: .*: \([0-9]*\) ms.*/\1/p' "$log")
echo "calibration: the same on the host: $best ms; the guest ran $(awk -v g="$guest" -v h="$best" \
	'BEGIN { printf "%.1f", g / (h ? h : 1) }')x slower than native"
