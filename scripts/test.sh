#!/usr/bin/env bash
# The test command: installs what it needs, builds with warnings as errors, runs
# every unit test (CTest/cmocka) and every integration test (pytest against the
# real binaries), then does it all again under AddressSanitizer and UBSan. The
# first build is optimised (-O2, as the daemon ships): some warnings (GCC's
# dangling-pointer analysis among them) only show there.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/deps.sh

run_suite() {
	local build=$1; shift
	cmake -S "$top" -B "$build" -DTS_WERROR=ON "$@" >/dev/null
	cmake --build "$build" -j"$(nproc)"
	ctest --test-dir "$build" --output-on-failure
	TS_BUILD_DIR="$build" /usr/bin/python3 -m pytest -q -p no:cacheprovider "$top/tests/integration"
}

echo "== build and test =="
run_suite "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build and test under ASan + UBSan =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite "$top/build-sanitize" -DTS_SANITIZE=ON
echo "== fuzz targets, briefly =="
scripts/fuzz.sh 10
echo "all tests passed"
