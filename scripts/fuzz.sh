#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang-14 with ASan + UBSan) and runs
# each for SECONDS (default 15) from its committed seed corpus; fails on any
# crash, leak, sanitizer report or broken invariant. New inputs go to a scratch
# corpus that is thrown away; a failing input is kept in $build/artifacts.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: gosu_classify gosu_parse iob
# TS_FUZZ_BUILD_DIR chooses the build directory (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
secs=${1:-15}
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gosu_classify gosu_parse iob)
build=${TS_FUZZ_BUILD_DIR:-$top/build-fuzz}

CC=clang-14 cmake -S "$top/tests/fuzz" -B "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
mkdir -p "$build/artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for t in "${targets[@]}"; do
	seeds="$top/tests/fuzz/corpus/$t"
	[ -d "$seeds" ] || { echo "fuzz: no seed corpus for $t" >&2; exit 1; }
	mkdir -p "$scratch/$t"
	log="$build/fuzz_$t.log"
	if ! "$build/fuzz_$t" -max_total_time="$secs" -timeout=10 -max_len=8192 \
		-print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
		"$scratch/$t" "$seeds" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		echo "fuzz: $t FAILED; input kept in $build/artifacts, log $log" >&2
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
	echo "fuzz: $t ok: ${secs}s, $execs execs, $rate exec/s, $cov"
done
