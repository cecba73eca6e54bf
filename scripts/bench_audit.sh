#!/usr/bin/env bash
# Journal benchmark for managers' exports (not part of the test run): a journal of
# N checks (default 1 M, four interleaved lanes, filled once and reused), exported
# to CSV and to JSON Lines, then its hash chain verified; wall-clock and CPU time and
# peak RSS for each (tests/bench/bench_export.c); each export ROUNDS times (default
# 7) with their median, as this machine's speed wanders from run to run.
# Usage: scripts/bench_audit.sh [N] [JOURNAL] [ROUNDS]
# JOURNAL defaults to /dev/shm (tmpfs): on these machines the page cache does not
# keep a large file on disk, so a journal there measures the disk, not the export.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
n=${1:-1000000}
journal=${2:-/dev/shm/turnstiled-bench-$n.db}
scripts/deps.sh
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build-bench" -j2 --target bench_export
echo "== journal export and verify: $n checks in $journal =="
"$top/build-bench/bench_export" "$journal" "$n" "${3:-7}"
