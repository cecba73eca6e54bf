# gpio-lib.sh (sourced by the gpio guest tests): a gpio-sim chip wired like a
# turnstile, a turnstiled lane on it, and helpers to drive and read its lines.
#
# Lines of the chip "turnstile", named as their signals (offset: signal, how the
# lane maps it; two by their line name):
#    0 open_a    out        1 open_b  out:low     2 stop    out
#    3 led_green out:low    4 led_red out:led_red 5 led_yellow out
#    6 buzzer    out        7 alarm   out
#    8 pass_a    in:low:pullup      9 pass_b in:low:pullup
#   10 fire_alarm in:fire_alarm (the normally-closed loop: high while intact)
#   11 confirm   in:low:pullup     12 reject in:low:pullup
# Active-low outputs rest high; the sim's pull on those lines stands in for the
# relay module's own pull-up, so nothing is "on" before the daemon starts either.
# Every value the kernel drives on any line is recorded by the gpio tracepoints
# (tracefs), which is how the tests see a pulse however short it is.

SIMCFG=/sys/kernel/config/gpio-sim/turnstile
TRACE=/sys/kernel/tracing
TS=/tmp/ts
SOCK=$TS/control.sock
LINE_NAMES="open_a open_b stop led_green led_red led_yellow buzzer alarm pass_a pass_b
	fire_alarm confirm reject"
L_OPEN_A=0 L_OPEN_B=1 L_LED_GREEN=3 L_PASS_A=8 L_FIRE=10 L_CONFIRM=11 L_REJECT=12
FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
# check DESCRIPTION COMMAND...: one test line, by the command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

chip_create() {
	insmod /lib/modules/gpio-sim.ko || return 1
	mkdir "$SIMCFG" "$SIMCFG/bank0" || return 1
	echo 16 >"$SIMCFG/bank0/num_lines"
	echo turnstile >"$SIMCFG/bank0/label"
	n=0
	for name in $LINE_NAMES; do
		mkdir "$SIMCFG/bank0/line$n"
		echo "$name" >"$SIMCFG/bank0/line$n/name"
		n=$((n + 1))
	done
	echo 1 >"$SIMCFG/live" || return 1
	SIM=/sys/devices/platform/$(cat "$SIMCFG/dev_name")/$(cat "$SIMCFG/bank0/chip_name")
	for c in /sys/class/gpio/gpiochip*; do
		[ "$(cat "$c/label")" = turnstile ] && BASE=$(cat "$c/base")
	done
	[ -d "$SIM/sim_gpio0" ] && [ -n "${BASE:-}" ] || return 1
	# What is wired outside the chip: relay pull-ups on the active-low outputs,
	# the fire loop closed.
	pull $L_OPEN_B up
	pull $L_LED_GREEN up
	pull $L_FIRE up
	echo "gpio-sim: chip $SIM, global line numbers from $BASE"
}

# pull LINE up|down: what the outside world does to an input (or a floating line).
pull() { echo "pull-$2" >"$SIM/sim_gpio$1/pull"; }
# value LINE: the level on the line now (what the daemon drives, for an output).
value() {
	local v
	read -r v <"$SIM/sim_gpio$1/value"
	echo "$v"
}
# safe LINE: the safe (de-energised) level of output LINE on the wire.
safe() {
	case $1 in
	$L_OPEN_B | $L_LED_GREEN) echo 1 ;;
	*) echo 0 ;;
	esac
}
# safe_now: every output line reads its safe level.
safe_now() {
	local line
	for line in 0 1 2 3 4 5 6 7; do
		[ "$(value $line)" = "$(safe $line)" ] ||
			{ echo "# line $line reads $(value $line)"; return 1; }
	done
}
# press LINE: an active-low key or sensor held for HOLD seconds, then released.
press() {
	pull "$1" down
	sleep "${2:-0.3}"
	pull "$1" up
}

trace_start() {
	echo 0 >"$TRACE/tracing_on"
	echo >"$TRACE/trace"
	echo 1 >"$TRACE/events/gpio/gpio_value/enable"
	echo 'name == "turnstiled"' >"$TRACE/events/irq/irq_handler_entry/filter"
	echo 1 >"$TRACE/events/irq/irq_handler_entry/enable"
	echo 1 >"$TRACE/tracing_on"
}
trace_clear() { echo >"$TRACE/trace"; }
# trace_sets LINE: the values driven onto LINE since the last clear, one a line.
trace_sets() {
	awk -v g=$((BASE + $1)) '/gpio_value:/ && $(NF-2) == g && $(NF-1) == "set" { print $NF }' \
		"$TRACE/trace"
}
# trace_set_times LINE VALUE: when (s) LINE was set to VALUE, one a line.
trace_set_times() {
	awk -v g=$((BASE + $1)) -v v="$2" '/gpio_value:/ && $(NF-2) == g && $(NF-1) == "set" &&
		$NF == v { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) print substr($i, 1, length($i) - 1) }' \
		"$TRACE/trace"
}
# trace_irqs: how many edge interrupts the daemon's line requests took since the last clear.
trace_irqs() { grep -c 'irq_handler_entry:.*name=turnstiled' "$TRACE/trace"; }

# daemon_start [-D key=value]...: turnstiled on the chip, waits until it answers;
# its log is $LOG (one per start).
daemon_start() {
	mkdir -p $TS
	cat >$TS/turnstiled.conf <<CONF
[store]
path = $TS/journal.db
[control]
socket = $SOCK
[passes]
ticket_attendant = yes
[lane.main]
io = gpio
gpio_chip = turnstile
gpio_debounce = 100ms
control = pulse
pulse = 500ms
pass_window = 8s
attendant_timeout = 30s
attendant_min = 0ms
denied_time = 1s
io.open_a = out:0
io.open_b = out:1:low
io.stop = out:2
io.led_green = out:3:low
io.led_red = out:led_red
io.led_yellow = out:5
io.buzzer = out:6
io.alarm = out:7
io.pass_a = in:8:low:pullup
io.pass_b = in:9:low:pullup
io.fire_alarm = in:fire_alarm
io.confirm = in:11:low:pullup
io.reject = in:12:low:pullup
io.manual_open = none
io.tamper = none
CONF
	RUN=$((${RUN:-0} + 1))
	LOG=$TS/daemon.$RUN.log
	turnstiled -d -v -f $TS/turnstiled.conf "$@" >$LOG 2>&1 &
	DAEMON=$!
	local i=0
	until ctl status >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $DAEMON 2>/dev/null; then
			echo "turnstiled did not start:"
			cat $LOG
			return 1
		fi
		sleep 0.1
	done
}
# daemon_stop: SIGTERM; fails unless turnstiled exits 0 (a sanitizer report fails it).
daemon_stop() {
	kill $DAEMON
	wait $DAEMON
}

ctl() { turnstilectl -s $SOCK "$@"; }
state() {
	set -- $(ctl status main | head -n 1)
	echo "$2"
}
# pending_check: the id of the check the lane holds.
pending_check() { ctl status main | sed -n 's/^ *check \([0-9]*\):.*/\1/p'; }
# wait_state STATE [TENTHS]: until the lane is in STATE (default 10 s).
wait_state() {
	local i=0
	while [ "$(state)" != "$1" ]; do
		i=$((i + 1))
		[ $i -le "${2:-100}" ] || { echo "# lane is $(state), not $1"; return 1; }
		sleep 0.1
	done
}
# wait_value LINE VALUE [TENTHS]: until the line reads VALUE (default 10 s).
wait_value() {
	local i=0
	while [ "$(value "$1")" != "$2" ]; do
		i=$((i + 1))
		[ $i -le "${3:-100}" ] || { echo "# line $1 reads $(value "$1"), not $2"; return 1; }
		sleep 0.1
	done
}

passes_import() {
	{
		echo "code,kind,holder,valid_from,valid_until"
		for code in "$@"; do echo "$code,ticket,Guest $code,2020-01-01,2099-12-31"; done
	} >$TS/passes.csv
	ctl passes import $TS/passes.csv >/dev/null
}
