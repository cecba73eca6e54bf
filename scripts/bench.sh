#!/usr/bin/env bash
# Benchmarks (not part of the test run): scan->verdict latency through a pty,
# daemon RSS and idle wake-ups, then journal throughput and export speed.
# Usage: scripts/bench.sh [ROUNDS] [JOURNAL_DIR]  (JOURNAL_DIR on the real disk, not tmpfs)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
scripts/deps.sh
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build-bench" -j"$(nproc)" --target turnstiled turnstilectl bench_store
echo "== scan latency, RSS, idle =="
/usr/bin/python3 tests/bench/bench_scan.py "$top/build-bench" "${1:-10000}"
echo "== journal =="
dir=${2:-$top/build-bench/journal-bench}
mkdir -p "$dir"
"$top/build-bench/bench_store" "$dir"
