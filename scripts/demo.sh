#!/usr/bin/env bash
# The demo: installs, builds, starts turnstiled on a simulated turnstile with
# sample passes, and shows the lane live. Ctrl-C stops the view and the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/deps.sh
cmake -S "$top" -B "$top/build" >/dev/null
cmake --build "$top/build" -j"$(nproc)" --target turnstiled turnstilectl

demo=/tmp/turnstiled-demo
mkdir -p "$demo"
sock=$demo/control.sock
ctl=("$top/build/turnstilectl" -s "$sock")

# A fake Gosuslugi portal on loopback HTTPS (throw-away CA) with sample
# certificates, and a QR image of each sample link.
rm -rf "$demo/portal" "$demo/qr"
mkdir -p "$demo/qr"
/usr/bin/python3 tests/integration/fake_portal.py "$demo/portal" >"$demo/portal.out" 2>&1 &
portal=$!
trap 'kill $portal 2>/dev/null; wait $portal 2>/dev/null || true' EXIT
for _ in $(seq 300); do
	grep -qs '^base_url' "$demo/portal.out" && break
	kill -0 $portal 2>/dev/null || { cat "$demo/portal.out"; exit 1; }
	sleep 0.1
done
base_url=$(sed -n 's/^base_url = //p' "$demo/portal.out")
while IFS=$'\t' read -r name payload; do
	qrencode -s 6 -o "$demo/qr/$name.png" "$payload"
done <"$demo/portal/samples.tsv"

"$top/build/turnstiled" -d -f "$top/hw/profiles/sim-demo.conf" -D "gosuslugi.base_url=$base_url" \
	-D "gosuslugi.ca_file=$demo/portal/ca.crt" 2>"$demo/daemon.log" &
daemon=$!
trap 'kill $daemon $portal 2>/dev/null; wait $daemon $portal 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	[ -S "$sock" ] && "${ctl[@]}" status >/dev/null 2>&1 && break
	kill -0 $daemon 2>/dev/null || { cat "$demo/daemon.log"; exit 1; }
	sleep 0.1
done
"${ctl[@]}" passes import "$top/hw/profiles/sim-demo-passes.csv"

cat <<TXT
turnstiled is running (log: $demo/daemon.log). In another terminal:
  alias ctl='$top/build/turnstilectl -s $sock'
  ctl scan main GYM-1001            # a gym membership: opens at once
  ctl sim set main pass_a 1; ctl sim set main pass_a 0   # walk through
  ctl scan main TICKET-2001         # a theater ticket: the attendant confirms
  ctl confirm main
  ctl mode main free   |  ctl sim set main fire_alarm 0   (fire loop cut)
  ctl export --format csv
Gosuslugi certificates (fake portal $base_url; QR images in $demo/qr/):
TXT
while IFS=$'\t' read -r name payload; do
	printf "  ctl scan main '%s'   # %s\n" "$payload" "$name"
done <"$demo/portal/samples.tsv"
cat <<TXT
  ctl status; ctl confirm main      # valid: compare initials, birth date, passport digits
  ctl open main a --reason 'paper certificate'   # portal down: admit on another document
Press Enter to show the live view (Ctrl-C quits and stops the daemon).
TXT
read -r _ || true
exec 3>&-
while kill -0 $daemon 2>/dev/null; do
	clear
	date '+%H:%M:%S'
	"${ctl[@]}" status || true
	echo
	"${ctl[@]}" sim get main || true
	sleep 0.5
done
