"""The modbus IO backend against an independent slave (pymodbus, modbus_peer.py).

Each test runs the real turnstiled with `io = modbus` against modbus_peer.py,
over loopback TCP or over a socat pty pair (RTU), and drives the peer through
its stdin: inputs, misbehaviour modes, and the log of every write it received.
"""
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import TURNSTILED, PtyPair, wait_until

PEER = Path(__file__).resolve().parent / "modbus_peer.py"

# The open relay and the LEDs on outputs 0..; pass sensors, fire loop and keys on inputs 0...
PLAIN_MAP = """\
io.open_a = out:0
io.open_b = out:1
io.led_green = out:3
io.led_red = out:4
io.pass_a = in:0
io.pass_b = in:1
io.fire_alarm = in:2
io.confirm = in:3
"""

IOBOARD_MAP = """\
io.open_a = out:0
io.open_b = out:1
io.led_green = out:3
io.pass_a = count:0
io.pass_b = count:1
io.fire_alarm = in:2
"""

R4D3B16_MAP = """\
io.open_a = out:0
io.open_b = out:1
io.fire_alarm = none
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ModbusPeer:
    def __init__(self, tmp, transport, dialect="plain", unit=1, port=None):
        self.port = port
        self.tmp = tmp
        self.transport = transport
        self.dialect = dialect
        self.unit = unit
        self.pty = None
        self.proc = None

    def start(self):
        args = ["/usr/bin/python3", str(PEER), "--inner-port", str(free_port()), "--unit", str(self.unit),
                "--dialect", self.dialect]
        if self.transport == "tcp":
            self.port = self.port or free_port()
            args += ["--tcp", str(self.port)]
            self.bus = f"tcp:127.0.0.1:{self.port}"
        else:
            self.pty = PtyPair(self.tmp).start()
            args += ["--rtu", str(self.pty.peer)]
            self.bus = f"rtu:{self.pty.device}"
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()).get("ready"), "peer did not start"
        return self

    def cmd(self, *words):
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        assert reply["ok"], reply
        return reply

    def coils(self):
        return self.cmd("coils")["coils"]

    def events(self, table=None, addr=None):
        return [e for e in self.cmd("events")["events"]
                if (table is None or e[1] == table) and (addr is None or e[2] == addr)]

    def rises(self, table, addr):
        """Writes of 1 (or any non-zero value) to one place, in order."""
        return [e for e in self.events(table, addr) if e[3]]

    def stop(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.terminate()
            self.proc.wait()
            self.proc = None
        if self.pty and self.pty.proc:
            self.pty.stop()


@pytest.fixture
def peers(tmp_path):
    started = []

    def make(transport, dialect="plain", unit=1, fire_ok=True):
        p = ModbusPeer(tmp_path, transport, dialect, unit).start()
        if fire_ok:
            p.cmd("di", 2, 1)  # the fire loop is intact
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def modbus_daemon(daemon_factory, peer, mapping, dialect=None, timeout="200ms", poll="20ms",
                  **cfg):
    extra = (f"modbus = {peer.bus}\nmodbus_dialect = {dialect or peer.dialect}\n"
             f"modbus_timeout = {timeout}\nmodbus_poll = {poll}\nmodbus_rs485 = yes\n" + mapping)
    d = daemon_factory(extra=extra, **cfg)
    d.start("-D", "lane.main.io=modbus")
    code, _, err = d.import_passes()
    assert code == 0, err
    return d


def confirm_ticket(d, code="TICKET-1"):
    d.ctl_ok("scan", "main", code)
    lane = d.wait_state("await_attendant")
    d.ctl_ok("confirm", "main", lane["check"]["request_id"])
    d.wait_state("open")


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_plain_pulse_cycle_pulses_the_coil_once_and_the_pass_completes(daemon_factory, peers,
                                                                      transport):
    peer = peers(transport)
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP)
    d.wait_state("idle")
    assert peer.rises("co", 0) == [], "nothing opens at start"
    confirm_ticket(d)
    wait_until(lambda: len(peer.rises("co", 0)) == 1, what="one open_a write of 1")
    wait_until(lambda: peer.coils()[0] == 0, what="the pulse to end")
    writes = peer.events("co", 0)
    up = next(e[0] for e in writes if e[3])
    down = next(e[0] for e in writes if e[0] > up and not e[3])
    assert 0.15 <= down - up <= 0.6, f"pulse lasted {down - up:.3f} s, configured 200 ms"
    peer.cmd("di", 0, 1)
    d.wait_state("passing")
    peer.cmd("di", 0, 0)
    d.wait_state("idle")
    rows = d.export()
    assert rows[-1]["gate"] == "passed", rows
    assert len(peer.rises("co", 0)) == 1


def test_plain_pulse_held_up_by_a_slow_poll_is_still_one_whole_pulse(daemon_factory, peers):
    """Where the daemon times the pulse (plain coils), the lane's level 0 at the
    pulse's end must not cancel a 1 still waiting behind a slow poll: the worker
    times the pulse from its own write."""
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, timeout="2s")
    d.wait_state("idle")
    d.ctl_ok("scan", "main", "TICKET-1")
    lane = d.wait_state("await_attendant")
    peer.cmd("mode", "slow", 400)
    n = peer.cmd("requests")["requests"]
    wait_until(lambda: peer.cmd("requests")["requests"] > n, what="a slow poll on the line")
    d.ctl_ok("confirm", "main", lane["check"]["request_id"])
    wait_until(lambda: len(peer.rises("co", 0)) == 1, timeout=5,
               what="open_a written after the slow poll")
    peer.cmd("mode", "normal")
    wait_until(lambda: peer.coils()[0] == 0, what="the pulse to end")
    writes = peer.events("co", 0)
    up = next(e[0] for e in writes if e[3])
    down = next(e[0] for e in writes if e[0] > up and not e[3])
    assert down - up >= 0.15, f"pulse lasted {down - up:.3f} s, configured 200 ms"
    assert len(peer.rises("co", 0)) == 1


def test_potential_mode_holds_the_relay_until_the_pass(daemon_factory, peers):
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, control="potential")
    d.wait_state("idle")
    confirm_ticket(d)
    wait_until(lambda: peer.coils()[0] == 1, what="open_a held")
    time.sleep(0.4)
    assert peer.coils()[0] == 1, "potential mode holds the relay"
    peer.cmd("di", 0, 1)
    wait_until(lambda: peer.coils()[0] == 0, what="open_a released by the pass")
    peer.cmd("di", 0, 0)
    d.wait_state("idle")


def test_attendant_confirm_key_is_an_ordinary_mapped_input(daemon_factory, peers):
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, attendant_timeout="5s")
    d.wait_state("idle")
    d.ctl_ok("scan", "main", "TICKET-1")
    d.wait_state("await_attendant")
    peer.cmd("di", 3, 1)
    d.wait_state("open")
    peer.cmd("di", 3, 0)
    wait_until(lambda: len(peer.rises("co", 0)) == 1, what="the open pulse")


def test_fire_loop_opened_on_the_board_is_an_emergency(daemon_factory, peers):
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP)
    d.wait_state("idle")
    peer.cmd("di", 2, 0)
    d.wait_state("emergency")
    peer.cmd("di", 2, 1)
    d.wait_state("idle", timeout=10)


def test_ioboard_pulse_is_board_timed_and_a_short_pass_is_counted(daemon_factory, peers):
    peer = peers("rtu", dialect="ioboard")
    d = modbus_daemon(daemon_factory, peer, IOBOARD_MAP, poll="100ms")
    d.wait_state("idle")
    confirm_ticket(d)
    # one command: pulse length into HR 0, then pulse coil 8; the board ends it
    wait_until(lambda: peer.rises("co", 8), what="the pulse coil")
    assert [e[3] for e in peer.events("hr", 0)] == [200], peer.events("hr", 0)
    wait_until(lambda: len(peer.rises("co", 0)) == 1 and peer.coils()[0] == 0,
               what="the board-timed pulse")
    # a pass pulse shorter than the poll interval: only the latched counter sees it
    peer.cmd("counter", 0, 1)
    d.wait_state("idle")
    rows = d.export()
    assert rows[-1]["gate"] == "passed", rows


def test_ioboard_counter_going_backwards_is_a_reset_board_not_65000_passes(daemon_factory,
                                                                          peers):
    """A latched counter that drops (the board was reset) drops the link: the
    lane shows io_fault, then the board is synced again (pulse lengths, watchdog
    and outputs rewritten) and the lane is idle, with no pass counted."""
    peer = peers("tcp", dialect="ioboard")
    d = modbus_daemon(daemon_factory, peer, IOBOARD_MAP)
    d.wait_state("idle")
    peer.cmd("counter", 0, 7)  # seven passes while nothing was open: journaled as unexpected
    time.sleep(0.3)  # many 20 ms polls: the daemon's base is 7 now
    hr_writes = len(peer.events("hr", 0))
    peer.cmd("counter", 0, 0)
    # the io_fault lasts one reconnect backoff (100 ms): read it from the log
    wait_until(lambda: "IO fault: Connection reset by peer" in d.log.read_text(),
               what="the reset board's IO fault")
    d.wait_state("idle", timeout=5)
    assert len(peer.events("hr", 0)) == hr_writes + 1, "the pulse length written again"
    assert d.lane()["counters"]["since_start"]["entries"] == 0


def test_ioboard_pulse_held_up_past_the_pass_window_is_dropped_not_sent_late(daemon_factory,
                                                                           peers):
    """A slow line may open late, never after the lane has given up on the
    passage: a pulse that could not end within the pass window is not sent."""
    peer = peers("tcp", dialect="ioboard")
    d = daemon_factory(extra=f"modbus = {peer.bus}\nmodbus_dialect = ioboard\n"
                             "modbus_timeout = 2s\nmodbus_poll = 20ms\nmodbus_watchdog = 0\n"
                             + IOBOARD_MAP, pass_window="1s")
    d.start("-D", "lane.main.io=modbus", "-D", "lane.main.pulse=500ms")
    assert d.import_passes()[0] == 0
    d.wait_state("idle")
    d.ctl_ok("scan", "main", "TICKET-1")
    lane = d.wait_state("await_attendant")
    peer.cmd("mode", "slow", 1500)
    n = peer.cmd("requests")["requests"]
    wait_until(lambda: peer.cmd("requests")["requests"] > n, what="a slow poll on the line")
    d.ctl_ok("confirm", "main", lane["check"]["request_id"])  # waits >= 1.4 s for the line
    wait_until(lambda: "waited for the line past the pass window, dropped" in d.log.read_text(),
               timeout=10, what="the late pulse dropped")
    peer.cmd("mode", "normal")
    d.wait_state("idle", timeout=5)
    assert peer.rises("co", 8) == [], "no late open"
    assert d.export()[-1]["gate"] == "not_passed"


def test_waveshare_pulse_is_one_flash_command(daemon_factory, peers):
    peer = peers("rtu", dialect="waveshare")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP)
    d.wait_state("idle")
    confirm_ticket(d)
    wait_until(lambda: peer.events("flash", 0), what="a flash command")
    assert [e[3] for e in peer.events("flash", 0)] == [200]
    wait_until(lambda: peer.coils()[0] == 0, what="the flash to end")


def test_r4d3b16_command_words_and_read_back(daemon_factory, peers):
    peer = peers("rtu", dialect="r4d3b16")
    d = modbus_daemon(daemon_factory, peer, R4D3B16_MAP, control="potential")
    d.wait_state("idle")
    assert "fire_alarm = none" in d.log.read_text(), "no fire loop is warned about"
    confirm_ticket(d)
    wait_until(lambda: peer.cmd("hr")["hr"][1] == 1, what="relay 1 closed (register 1)")
    assert d.lane()["state"] == "open"


@pytest.mark.parametrize("mode", ["silent", "garbage", "wrong_unit", "exception"])
@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_misbehaving_peer_is_io_fault_and_recovery_brings_no_stray_pulse(daemon_factory, peers,
                                                                        transport, mode):
    peer = peers(transport)
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP)
    d.wait_state("idle")
    peer.cmd("mode", mode)
    d.wait_state("io_fault", timeout=5)
    code, out, _ = d.ctl("scan", "main", "TICKET-1")
    time.sleep(0.3)
    assert d.lane()["state"] == "io_fault"
    peer.cmd("mode", "normal")
    d.wait_state("idle", timeout=10)
    time.sleep(0.3)
    assert peer.rises("co", 0) == [], "nothing opened during or after the fault"
    assert peer.coils()[0] == 0
    # a clean exit, with the worker joined and nothing leaked (ASan build)
    assert d.stop() == 0, d.log.read_text()[-2000:]
    log = d.log.read_text()
    assert "Sanitizer" not in log
    # the site engineer reads libmodbus's own words, never "Unknown error 1123456xx"
    assert "link lost: " in log and "Unknown error" not in log, log[-2000:]


def test_a_peer_silent_from_the_start_never_leaves_io_fault(daemon_factory, peers):
    peer = peers("tcp")
    peer.cmd("mode", "silent")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP)
    d.wait_state("io_fault")
    time.sleep(0.5)
    assert d.lane()["state"] == "io_fault"
    assert peer.rises("co", 0) == []


def test_pulse_requested_as_the_link_dies_is_not_replayed(daemon_factory, peers):
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, timeout="100ms")
    d.wait_state("idle")
    d.ctl_ok("scan", "main", "TICKET-1")
    lane = d.wait_state("await_attendant")
    peer.cmd("mode", "silent")
    d.ctl("confirm", "main", lane["check"]["request_id"])
    d.wait_state("io_fault", timeout=5)
    peer.cmd("mode", "normal")
    d.wait_state("idle", timeout=10)
    time.sleep(0.5)
    assert peer.rises("co", 0) == [], peer.events("co", 0)


def test_slow_peer_within_the_timeout_works(daemon_factory, peers):
    peer = peers("tcp")
    peer.cmd("mode", "slow", 100)
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, timeout="1s", poll="50ms")
    d.wait_state("idle")
    confirm_ticket(d)
    wait_until(lambda: len(peer.rises("co", 0)) == 1, what="the open pulse")
    wait_until(lambda: len(peer.rises("co", 0)) == 1, what="the open pulse")


def test_slow_peer_past_the_timeout_is_io_fault(daemon_factory, peers):
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, timeout="100ms")
    d.wait_state("idle")
    peer.cmd("mode", "slow", 400)
    d.wait_state("io_fault", timeout=5)


def loop_lag(sock_path, seconds):
    """Round trips of a status request on one control connection, in seconds:
    how long the event loop takes to get to a ready socket and answer."""
    lags = []
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock_path))
        replies = s.makefile("rb")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t = time.monotonic()
            s.sendall(b'{"cmd": "status"}\n')
            assert json.loads(replies.readline())["lanes"]
            lags.append(time.monotonic() - t)
    return sorted(lags)


def test_event_loop_lag_while_the_bus_times_out(daemon_factory, peers):
    """The bus's 1 s timeouts happen on its worker thread: the loop keeps
    answering in milliseconds all through them, as it did before."""
    peer = peers("rtu")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, timeout="1s")
    d.wait_state("idle")
    before = loop_lag(d.socket, 1.0)
    peer.cmd("mode", "silent")
    t_silent = time.monotonic()
    during = loop_lag(d.socket, 3.5)  # at least three timed-out transactions
    assert d.lane()["state"] == "io_fault", "the bus did time out meanwhile"
    assert time.monotonic() - t_silent >= 3.0
    for name, lags in (("bus up", before), ("bus timing out", during)):
        print(f"loop lag (status round trip), {name}: n={len(lags)} "
              f"p50={lags[len(lags) // 2] * 1000:.2f} ms "
              f"p99={lags[int(len(lags) * 0.99)] * 1000:.2f} ms max={lags[-1] * 1000:.2f} ms")
    assert len(during) > 100, "too few samples to say anything"
    # generous for a loaded machine and ASan, yet far below one 1 s timeout
    assert during[-1] < 0.25, f"a bus timeout blocked the loop: max {during[-1]:.3f} s"
    assert during[int(len(during) * 0.99)] < 0.05, during[-10:]


@pytest.mark.parametrize("mapping,message", [
    ("io.fire_alarm = in:2\n", "missing key 'io.open_a'"),
    ("io.open_a = out:0\n", "missing key 'io.fire_alarm' (io = modbus); 'none'"),
    ("io.open_a = in:0\nio.fire_alarm = none\n", "an output takes none or out:N"),
    ("io.open_a = out:0\nio.fire_alarm = out:1\n", "an input takes none, in:N or count:N"),
    ("io.open_a = out:999\nio.fire_alarm = none\n", "N 0..255"),
])
def test_config_requires_open_a_and_fire_alarm(daemon_factory, mapping, message):
    d = daemon_factory(extra="modbus = tcp:127.0.0.1:1502\n" + mapping)
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(d.config), "-D", "lane.main.io=modbus"],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


@pytest.mark.parametrize("watchdog,ok", [("1s", False), ("1200ms", True), ("0", True)])
def test_ioboard_watchdog_must_outlast_a_poll_and_a_timeout(daemon_factory, watchdog, ok):
    d = daemon_factory(extra="modbus = tcp:127.0.0.1:1502\nmodbus_dialect = ioboard\n"
                             f"modbus_poll = 100ms\nmodbus_timeout = 500ms\n"
                             f"modbus_watchdog = {watchdog}\n" + IOBOARD_MAP)
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(d.config), "-D", "lane.main.io=modbus"],
                       capture_output=True, text=True)
    if ok:
        assert (p.returncode, p.stdout.strip()) == (0, "configuration OK"), p.stderr
    else:
        assert p.returncode != 0
        assert "modbus_watchdog must be 0 or at least 2 x (modbus_poll + modbus_timeout) = " \
               "1200 ms" in p.stderr, p.stderr


def test_count_on_a_board_without_counters_is_refused(daemon_factory, peers):
    peer = peers("tcp")
    d = daemon_factory(extra=f"modbus = {peer.bus}\n" + IOBOARD_MAP)
    p = subprocess.run([str(TURNSTILED), "-d", "-f", str(d.config), "-D", "lane.main.io=modbus"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "latches no counters" in p.stderr, p.stderr


@pytest.mark.parametrize("name", ["modbus-ioboard.conf", "modbus-waveshare.conf",
                                  "modbus-r4d3b16.conf", "modbus-tcp-plain.conf"])
def test_example_configs_load(name):
    path = Path(__file__).resolve().parents[2] / "hw" / "profiles" / name
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(path)], capture_output=True, text=True)
    assert (p.returncode, p.stdout.strip()) == (0, "configuration OK"), p.stderr


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_confirm_to_relay_latency(daemon_factory, peers, transport):
    """Confirm -> the peer sees the open_a write: one transaction, not a poll period."""
    peer = peers(transport)
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP, poll="200ms")
    d.wait_state("idle")
    lat = []
    for code in ("TICKET-1", "TICKET-2"):
        d.ctl_ok("scan", "main", code)
        lane = d.wait_state("await_attendant")
        before = len(peer.rises("co", 0))
        t = time.monotonic()
        d.ctl_ok("confirm", "main", lane["check"]["request_id"])
        wait_until(lambda: len(peer.rises("co", 0)) > before, what="the open write")
        lat.append(peer.rises("co", 0)[-1][0] - t)
        d.wait_state("idle", timeout=5)
    print(f"{transport}: confirm (turnstilectl spawn included) -> relay write: "
          + ", ".join(f"{x * 1000:.1f} ms" for x in lat))
    # generous: turnstilectl's start-up is inside the figure (and ASan's)
    assert max(lat) < 0.5, lat


class IoBoardHost:
    """The IO board's own firmware core (firmware/host/iob_host.c) on a pty."""

    def __init__(self):
        from conftest import BUILD
        self.proc = subprocess.Popen([str(BUILD / "firmware" / "iob-host")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline().split()
        assert first[0] == "pty", first
        self.device = first[1]
        self.lines = []
        # A thread, not select() on the pipe: lines already in the file's buffer
        # are invisible to select() and would wait there for the next output.
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.append(line.split())

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def output_history(self, name):
        """Every printed level of one output, in order, so far."""
        return [int(w.split("=")[1]) for ws in list(self.lines) if ws and ws[0] == "out"
                for w in ws[1:] if w.startswith(name + "=")]

    def stop(self):
        self.send("quit")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_ioboard_dialect_against_the_board_firmware(daemon_factory):
    """The ioboard dialect drives the real firmware core: pulse timed by the
    board, a pass reported by the board's latched counter."""
    board = IoBoardHost()
    try:
        d = daemon_factory(extra=f"modbus = rtu:{board.device}\nmodbus_baud = 19200\n"
                                 "modbus_parity = even\nmodbus_dialect = ioboard\n"
                                 "modbus_poll = 100ms\n" + IOBOARD_MAP)
        d.start("-D", "lane.main.io=modbus")
        assert d.import_passes()[0] == 0
        d.wait_state("idle")
        assert 1 not in board.output_history("open_a"), "nothing opens at start"
        confirm_ticket(d)
        wait_until(lambda: board.output_history("open_a")[-1:] == [0] and
                   1 in board.output_history("open_a"),
                   what="the board to pulse open_a and end it")
        h = board.output_history("open_a")
        assert sum(1 for a, b in zip(h, h[1:]) if (a, b) == (0, 1)) == 1, h
        # a pass shorter than the poll interval: 20 ms (the board debounces 3 ms)
        board.send("in pass_a 1")
        time.sleep(0.02)
        board.send("in pass_a 0")
        d.wait_state("idle")
        rows = d.export()
        assert rows[-1]["gate"] == "passed", rows
    finally:
        board.stop()


def test_peer_gone_is_io_fault_and_a_new_peer_is_found_again(daemon_factory, peers, tmp_path):
    """Connection refused while the peer is away; reconnect with backoff."""
    peer = peers("tcp")
    d = modbus_daemon(daemon_factory, peer, PLAIN_MAP)
    d.wait_state("idle")
    peer.stop()
    d.wait_state("io_fault")
    time.sleep(1.0)  # several refused connects
    again = ModbusPeer(tmp_path, "tcp", port=peer.port).start()
    try:
        again.cmd("di", 2, 1)
        d.wait_state("idle", timeout=10)
        assert again.rises("co", 0) == []
    finally:
        again.stop()


def test_two_lanes_on_one_bus_are_refused(daemon_factory):
    d = daemon_factory(extra="modbus = tcp:127.0.0.1:1502\n" + PLAIN_MAP)
    with open(d.config, "a") as f:
        f.write("\n[lane.second]\nio = modbus\nmodbus = tcp:127.0.0.1:1502\n" + PLAIN_MAP)
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(d.config), "-D", "lane.main.io=modbus"],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "is already lane main's (one lane per bus)" in p.stderr, p.stderr
