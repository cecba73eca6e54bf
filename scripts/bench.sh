#!/usr/bin/env bash
# Benchmarks (not part of the test run): scan->verdict latency through a pty,
# daemon RSS and idle wake-ups, then journal throughput and export speed.
# Usage: scripts/bench.sh [ROUNDS] [JOURNAL_DIR]  (JOURNAL_DIR on the real disk, not tmpfs;
# the scan benches keep their journal there too)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
scripts/deps.sh
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build-bench" -j"$(nproc)" --target turnstiled turnstilectl bench_store bench_gosu
echo "== scan latency, RSS, idle =="
TS_BENCH_DIR=${2:-} /usr/bin/python3 tests/bench/bench_scan.py "$top/build-bench" "${1:-10000}"
echo "== scan latency, 4 lanes scanning at once (their grants share commits) =="
TS_BENCH_DIR=${2:-} /usr/bin/python3 tests/bench/bench_scan.py "$top/build-bench" "${1:-10000}" 4
echo "== journal =="
dir=${2:-$top/build-bench/journal-bench}
mkdir -p "$dir"
"$top/build-bench/bench_store" "$dir"
echo "== journal: 4 lanes granting in one loop iteration (one commit per 4 grants) =="
"$top/build-bench/bench_store" "$dir" 10000 4
echo "== journal: export and verify of 1 M checks (synced per 1000 checks to fill it) =="
"$top/build-bench/bench_store" "$dir" 1000000 1000
echo "== Gosuslugi verification overhead over the HTTP round trip =="
/usr/bin/python3 tests/bench/bench_gosu.py "$top/build-bench" 2000
echo "== QR decode (camera frames) =="
if grep -q "ZBAR_FOUND:INTERNAL=1" "$top/build-bench/CMakeCache.txt"; then
	cmake --build "$top/build-bench" -j"$(nproc)" --target bench_decode
	frames=$top/build-bench/frames-bench
	[ -f "$frames/manifest.tsv" ] ||
		/usr/bin/python3 tests/bench/make_frames.py "$frames" --codes 100 --empty 30 --seed 7
	"$top/build-bench/bench_decode" "$frames"
else
	echo "skipped: built without zbar"
fi
