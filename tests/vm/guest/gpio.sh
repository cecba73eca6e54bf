# gpio.sh: the gpio backend against a real kernel GPIO chip (gpio-sim), one
# boot, every scenario in order on the same chip; prints one "ok"/"not ok" line
# per claim and exits non-zero if any failed. See gpio-lib.sh for the wiring.
. /tests/gpio-lib.sh

check "gpio-sim chip created" chip_create || exit 1
trace_start
check "turnstiled starts on the gpio backend" daemon_start || exit 1
passes_import T-1 T-2 T-3

# 1. Safe from the first instant: the request itself drove every output to its
# safe level (active-low lines high), and nothing else was ever driven on them.
safe_from_start() {
	for line in 0 1 2 3 4 5 6 7; do
		sets=$(trace_sets $line | sort -u | tr '\n' ' ')
		[ "$sets" = "$(safe $line) " ] ||
			{ echo "# line $line: driven to {$sets}, safe is $(safe $line)"; return 1; }
	done
	safe_now
}
check "outputs at their safe level from the first instant, active-low ones high" safe_from_start
check "lane idle after start" wait_state idle 10

# 2. A confirmed check pulses open_a, seen on the sim line and in the trace.
trace_clear
ctl scan main T-1 >/dev/null
check "a valid ticket waits for the attendant" wait_state await_attendant
CHECK=$(pending_check)
check "no pulse before the attendant confirms" [ -z "$(trace_sets $L_OPEN_A)" ]
press $L_CONFIRM
check "the confirm key (active low) opens: open_a reads 1 on the sim line" wait_value $L_OPEN_A 1 30
check "the pulse ends: open_a back to 0" wait_value $L_OPEN_A 0 30
pulse_is_one_of_500ms() {
	[ "$(trace_sets $L_OPEN_A | tr '\n' ' ')" = "1 0 " ] || {
		echo "# open_a driven: $(trace_sets $L_OPEN_A | tr '\n' ' ')"
		return 1
	}
	on=$(trace_set_times $L_OPEN_A 1)
	off=$(trace_set_times $L_OPEN_A 0)
	ms=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%d", (b - a) * 1000 }')
	echo "# pulse width ${ms} ms (pulse = 500ms)"
	# Not exact: the lane times the pulse from the confirm, and the grant's
	# commit (slow under TCG) runs between the confirm and the rising edge.
	[ "$ms" -ge 250 ] && [ "$ms" -le 2000 ]
}
check "exactly one pulse, of about the configured width" pulse_is_one_of_500ms

# 3. The pass sensor, driven by the sim's pull, completes the passage.
check "lane open, waiting for the person" wait_state open
press $L_PASS_A
check "the pass ends the cycle" wait_state idle
passed_in_journal() {
	sleep 0.2 # rows other than grants are committed within daemon.flush (50 ms)
	ctl export --format jsonl --db $TS/journal.db >$TS/export.jsonl || return 1
	grep '"verdict":"valid","attendant":"confirmed","gate":"passed"' $TS/export.jsonl |
		grep -q "\"check_id\":$1,"
}
check "the export says the confirmed check passed" passed_in_journal "$CHECK"

# 4. A rejected check never drives open_a.
trace_clear
ctl scan main T-2 >/dev/null
check "the next ticket waits for the attendant" wait_state await_attendant
CHECK=$(pending_check)
press $L_REJECT
check "lane idle after the denial" wait_state idle
rejected_in_journal() {
	sleep 0.2
	ctl export --format jsonl --db $TS/journal.db >$TS/export.jsonl || return 1
	grep '"attendant":"rejected","gate":"none"' $TS/export.jsonl | grep -q "\"check_id\":$1,"
}
check "the reject key (active low) denies: the export says rejected" rejected_in_journal "$CHECK"
check "open_a never driven for the rejected check" [ -z "$(trace_sets $L_OPEN_A)" ]

# 5. Debounce: a glitch on the fire loop reaches the daemon (two edge
# interrupts) but is shorter than gpio_debounce and changes nothing.
trace_clear
pull $L_FIRE down
pull $L_FIRE up
sleep 0.5
check "the glitch's edges reached the daemon" [ "$(trace_irqs)" -ge 2 ]
check "a glitch shorter than gpio_debounce is not a fire alarm" [ "$(state)" = idle ]
check "no output moved on the glitch" [ -z "$(trace_sets $L_OPEN_A)$(trace_sets $L_OPEN_B)" ]

# 6. The fire loop opened (the line pulled low, as a cut wire does): both
# directions open, the active-low open_b driven low; back to idle when it closes.
pull $L_FIRE down
check "the fire loop opened: emergency" wait_state emergency
check "emergency: open_a high" wait_value $L_OPEN_A 1 20
check "emergency: open_b (active low) low" wait_value $L_OPEN_B 0 20
ctl confirm main >/dev/null 2>&1
check "emergency refuses other commands and stays" [ "$(state)" = emergency ]
pull $L_FIRE up
check "the loop closed again: idle" wait_state idle
check "open_a back to its safe level" wait_value $L_OPEN_A 0 20
check "open_b back to its safe level (high)" wait_value $L_OPEN_B 1 20

# 7. A loop already open at start: the lane is in emergency from its first answer.
check "turnstiled stops cleanly" daemon_stop
pull $L_FIRE down
check "turnstiled starts with the fire loop open" daemon_start
check "the lane is in emergency from its first answer" [ "$(state)" = emergency ]
# before_ready WORD: the log names WORD before turnstiled says it is ready.
before_ready() {
	word=$(grep -n "$1" $LOG | head -n 1 | cut -d: -f1)
	ready=$(grep -n "ready:" $LOG | head -n 1 | cut -d: -f1)
	[ -n "$word" ] && [ -n "$ready" ] && [ "$word" -lt "$ready" ]
}
check "the open loop is known before turnstiled reports ready" before_ready fire_alarm
check "and both directions are open" wait_value $L_OPEN_B 0 20
pull $L_FIRE up
check "idle once the loop closes" wait_state idle
trace_clear
check "turnstiled stops cleanly" daemon_stop
# On the way out the daemon drives every output to its safe level before
# releasing it (a released line is the wiring's business again).
safe_at_stop() {
	for line in 0 1 2 3 4 5 6 7; do
		sets=$(trace_sets $line | sort -u | tr '\n' ' ')
		[ "$sets" = "$(safe $line) " ] ||
			{ echo "# line $line: driven to {$sets} at stop"; return 1; }
	done
}
check "every output driven to its safe level at stop" safe_at_stop

# 8. A line name the chip does not have fails the start, naming the line.
unknown_line_fails() {
	! turnstiled -d -f $TS/turnstiled.conf -D lane.main.io.open_a=out:no_such_line \
		>$TS/unknown.log 2>&1 &&
		grep -q 'line "no_such_line" (open_a)' $TS/unknown.log
}
check "an unknown line name fails the start, naming the line" unknown_line_fails

if [ $FAILED -ne 0 ]; then
	for log in $TS/daemon.*.log; do
		echo "# $log:"
		cat "$log"
	done
fi
exit $FAILED
