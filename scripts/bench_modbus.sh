#!/usr/bin/env bash
# Modbus RTU benchmark (not part of the test run): confirm -> output latency of
# the modbus backend driving the IO board firmware (the real AVR ELF under
# simavr, paced to the wall clock) at 19200 and 9600 baud, with the profile's
# 50 ms poll and with a 1 s poll; computed for 9600/19200/115200 from the
# daemon's measured share plus the wire time. See tests/bench/bench_modbus.py.
# Target (issue 4): one frame time + 5 ms.
# Usage: scripts/bench_modbus.sh [ROUNDS] [JOURNAL_DIR]  (about 0.7 s per round and setting)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
scripts/deps.sh
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build-bench" -j2 --target turnstiled turnstilectl iob-sim iob-avr
/usr/bin/python3 tests/bench/bench_modbus.py "$top/build-bench" "${1:-40}" ${2:+"$2"}
