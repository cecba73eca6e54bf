# evdev.sh (guest test): the hid scanner source and the attendant's USB keypad
# against real kernel input devices. uinput_keys makes two USB keyboards through
# /dev/uinput; evdev gives them /dev/input/eventN nodes; turnstiled opens them
# with the exclusive grab required (the default), as on a lane PC. Proves what a
# FIFO cannot: EVIOCGRAB holds (another reader's grab is refused), a held
# key's auto-repeat acts once, a device destroyed and created again (an unplug)
# is reopened, and events the kernel dropped for a stalled reader (SYN_DROPPED)
# spoil the code they belong to rather than make a shorter one.
TS=/tmp/ts
SOCK=$TS/control.sock
FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
ctl() { turnstilectl -s "$SOCK" "$@"; }
# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
	n=$(($1 * 20))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		usleep 50000
		n=$((n - 1))
	done
	return 1
}
# The lane's state: the second word of `turnstilectl status`'s first line.
state_is() { [ "$(ctl status main | awk 'NR == 1 { print $2 }')" = "$1" ]; }
edges_open_a() {
	ctl --json sim get main | tr -d ' \t\n' |
		sed -n 's/.*"edges":{[^}]*"open_a":\([0-9]*\).*/\1/p'
}
open_a_edges_are() { [ "$(edges_open_a)" = "$1" ]; }
log_has() { grep -q "$1" $TS/daemon.log; }
# exited PID: the process is gone or a zombie (this shell has not waited yet).
exited() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
# log_count_at_least N TEXT: TEXT is in the daemon's log N times or more.
log_count_at_least() { [ "$(grep -c "$2" $TS/daemon.log)" -ge "$1" ]; }
# done_more_than NAME N: keyboard NAME has finished more than N commands.
done_more_than() { [ "$(grep -c '^done' "$TS/$1.out")" -gt "$2" ]; }

# kbd_start NAME: a uinput keyboard NAME driven through $TS/NAME.in; the link
# $TS/NAME-event-kbd (what /dev/input/by-id gives on a real PC) points at it.
kbd_start() {
	rm -f "$TS/$1.in" "$TS/$1.out"
	mkfifo "$TS/$1.in"
	# Only this shell may hold the FIFOs' write ends: their close is the unplug.
	uinput_keys "$1" <"$TS/$1.in" >"$TS/$1.out" 5>&- 6>&- &
	eval "${1}_pid=$!"
	case $1 in
	scanner) exec 5>"$TS/$1.in" ;;
	keypad) exec 6>"$TS/$1.in" ;;
	esac
	wait_for 5 grep -q /dev/input "$TS/$1.out" || return 1
	ln -sf "$(head -n 1 "$TS/$1.out")" "$TS/$1-event-kbd"
}
# kbd NAME COMMAND...: one command to keyboard NAME; waits for its "done".
kbd() {
	name=$1
	shift
	before=$(grep -c '^done' "$TS/$name.out")
	case $name in
	scanner) echo "$*" >&5 ;;
	keypad) echo "$*" >&6 ;;
	esac
	wait_for 5 done_more_than "$name" "$before"
}
kbd_stop() {
	case $1 in
	scanner) exec 5>&- ;;
	keypad) exec 6>&- ;;
	esac
	eval "wait \$${1}_pid"
}

mkdir -p $TS
insmod /lib/modules/evdev.ko && insmod /lib/modules/uinput.ko ||
	{ echo "not ok - evdev.ko and uinput.ko load"; exit 1; }
check "uinput keyboards for the scanner and the keypad" kbd_start scanner
kbd_start keypad || not_ok "keypad keyboard"

cat >$TS/turnstiled.conf <<EOF
[store]
path = $TS/journal.db
[control]
socket = $SOCK
[passes]
ticket_attendant = yes
[lane.main]
io = sim
attendant_timeout = 60s
attendant_min = 0ms
denied_time = 1s
scanner = hid
scanner_device = $TS/scanner-event-kbd
keypad_device = $TS/keypad-event-kbd
EOF
cat >$TS/passes.csv <<EOF
code,kind,holder,valid_from,valid_until
TICKET-1,ticket,A,2020-01-01,2099-12-31
TICKET-2,ticket,B,2020-01-01,2099-12-31
TICKET-3,ticket,C,2020-01-01,2099-12-31
EOF
turnstiled -d -f $TS/turnstiled.conf >$TS/daemon.log 2>&1 5>&- 6>&- &
daemon=$!
check "turnstiled answers" wait_for 10 ctl status
ctl passes import $TS/passes.csv >/dev/null || not_ok "passes import"
check "scanner and keypad grabbed" wait_for 5 log_has "keypad $TS/keypad-event-kbd connected"
check "scanner connected" log_has "scanner $TS/scanner-event-kbd connected"

kbd scanner grab
check "the scanner is held exclusively: another grab is refused" \
	grep -q "grab busy" $TS/scanner.out

kbd scanner type TICKET-1
check "a typed code reaches the lane" wait_for 5 state_is await_attendant
check "nothing opened before the attendant" open_a_edges_are 0
kbd keypad hold kpenter
check "keypad Enter held (with repeats) confirms once" wait_for 5 open_a_edges_are 1
ctl sim set main pass_a 1 && ctl sim set main pass_a 0
check "the passage completes" wait_for 5 state_is idle

# Unplug the scanner: its device is destroyed; a new one is the same scanner.
kbd scanner key t
kbd scanner key i
kbd_stop scanner
check "the unplug is noticed" wait_for 5 log_has "scanner $TS/scanner-event-kbd unavailable"
check "a new scanner device" kbd_start scanner
check "the scanner is reopened" wait_for 10 \
	log_count_at_least 2 "scanner $TS/scanner-event-kbd connected"
kbd scanner type TICKET-2
check "the code after the replug is read whole (no half code before it)" \
	wait_for 5 state_is await_attendant
kbd keypad key kpminus
check "keypad minus rejects" wait_for 5 state_is denied
check "still only the one opening" open_a_edges_are 1
kbd keypad key kpasterisk
check "keypad * is a manual open" wait_for 5 open_a_edges_are 2
check "back to idle" wait_for 10 state_is idle

# A reader that falls behind: the kernel drops events and says SYN_DROPPED.
kill -STOP "$daemon"
kbd scanner burst TICKETTICKETTICKETTICKETTICKETTICKET-1
kill -CONT "$daemon"
check "a code that lost events is discarded, not checked" \
	wait_for 5 log_has "line discarded: keys lost by the kernel"
check "no check for it" state_is idle
kbd scanner type TICKET-3
check "the next code is read whole" wait_for 5 state_is await_attendant

echo "# daemon log:"
sed 's/^/# /' $TS/daemon.log
kill "$daemon"
check "turnstiled stops on SIGTERM" wait_for 10 exited "$daemon"
kill -9 "$daemon" 2>/dev/null
wait "$daemon"
kbd_stop keypad
kbd_stop scanner
exit $FAILED
