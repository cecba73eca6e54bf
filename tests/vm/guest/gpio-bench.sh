# gpio-bench.sh ROUNDS: confirm -> output latency of the gpio backend on a real
# kernel GPIO chip, to the ioctl. Each round a ticket waits for the attendant,
# the confirm key's line is pulled (the sim raises an edge interrupt), and the
# kernel's own trace clock times the path: the interrupt taken for the daemon's
# line request -> the daemon reading the key's line (woken, event read) -> open_a
# driven by the SET_LINE_VALUES ioctl (after the grant is committed to the
# journal, which here is on tmpfs). gpio_debounce = 0 so the figure is the
# daemon's; a configured debounce adds itself. Under QEMU's TCG every
# instruction is emulated, so these are upper bounds for the same code on
# hardware of this class. A fixed CPU workload (busybox sha256sum of 16 MiB, the
# same static binary the host runs in scripts/bench_gpio.sh) is timed at the end
# so that the host can tell how much slower than native this run was.
. /tests/gpio-lib.sh
rounds=${1:-100}
fail() {
	echo "bench: $*"
	cat $LOG
	exit 1
}

chip_create || exit 1
trace_start
daemon_start -D lane.main.gpio_debounce=0ms -D lane.main.pulse=100ms || exit 1
codes=
round=1
while [ $round -le "$rounds" ]; do
	codes="$codes B-$round"
	round=$((round + 1))
done
# shellcheck disable=SC2086
passes_import $codes || fail "passes import"

# first_time PATTERN: the trace time (s) of the first event line matching PATTERN.
first_time() {
	awk -v p="$1" '$0 ~ p { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) {
		print substr($i, 1, length($i) - 1); exit } }' "$TRACE/trace"
}
: >$TS/bench.txt
round=1
while [ $round -le "$rounds" ]; do
	ctl scan main "B-$round" >/dev/null
	wait_state await_attendant || fail "round $round: no attendant step"
	trace_clear
	pull $L_CONFIRM down
	n=0
	until [ -n "$(trace_set_times $L_OPEN_A 1)" ]; do
		n=$((n + 1))
		[ $n -le 100 ] || fail "round $round: open_a never driven"
		sleep 0.05
	done
	pull $L_CONFIRM up
	irq=$(first_time 'irq_handler_entry:.*name=turnstiled')
	read_key=$(first_time "gpio_value: $((BASE + L_CONFIRM)) get")
	set_out=$(trace_set_times $L_OPEN_A 1 | head -n 1)
	echo "$irq $read_key $set_out" |
		awk '{ printf "%d %d %d\n", ($3 - $1) * 1e6, ($2 - $1) * 1e6, ($3 - $2) * 1e6 }' >>$TS/bench.txt
	wait_state open || fail "round $round: not open"
	press $L_PASS_A 0.05
	wait_state idle || fail "round $round: not idle after the pass"
	round=$((round + 1))
done
daemon_stop || fail "turnstiled did not stop cleanly"

# pct COLUMN NAME: p50, p99 and max of one column of bench.txt, in ms.
pct() {
	cut -d' ' -f"$1" $TS/bench.txt | sort -n | awk -v name="$2" '{ v[NR] = $1 } END {
		p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
		printf "%-44s n=%d  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", name, NR,
			p50 / 1000, p99 / 1000, v[NR] / 1000 }'
}
echo "== gpio confirm -> output (QEMU TCG, gpio-sim, kernel trace clock) =="
pct 1 "confirm edge irq -> open_a ioctl (total)"
pct 2 "  irq -> daemon reads the key line"
pct 3 "  key line read -> open_a ioctl (lane, journal)"

# The calibration workload, best of three, in ms (/proc/uptime: 10 ms steps).
best=
for k in 1 2 3; do
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/zero bs=65536 count=256 2>/dev/null | sha256sum >/dev/null
	t1=$(cut -d' ' -f1 /proc/uptime)
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
	[ -n "$best" ] && [ "$best" -le "$ms" ] || best=$ms
done
echo "calibration: sha256sum of 16 MiB in the guest: $best ms"
