"""turnstiled drives the real IO board firmware end to end.

The board is the AVR ELF under simavr (firmware_rig.Rig, paced to the wall
clock so the daemon's timers and the board's agree); the daemon runs the
shipped profile hw/profiles/modbus-ioboard.conf as is, with -D overrides only
for paths, the pty, the lane's timings, and a longer Modbus timeout: on a
loaded test machine the simulator can fall well behind the wall clock, and a
reply it is late with must not look like a lost board. Pin times are the rig's simulated
clock; a pass is made by the rig's turnstile model (a person walks through
after an Open pulse, or never comes).
"""
import os
import re
import select
import signal
import time
from pathlib import Path

import pytest

from conftest import wait_until
from firmware_rig import (HR_WATCHDOG, IR_STATUS, IR_WDT_TRIPS, OUT,
                          STATUS_FIRE, STATUS_WDT_ARMED, STATUS_WDT_TRIPPED, Master, Rig)

PROFILE = Path(__file__).resolve().parents[2] / "hw" / "profiles" / "modbus-ioboard.conf"
OPEN_A, OPEN_B = 1 << OUT["open_a"], 1 << OUT["open_b"]
BOTH = OPEN_A | OPEN_B
TIMEOUT_MS = 1000
WATCHDOG_MS = 2500  # at least 2 x (modbus_poll + modbus_timeout)


@pytest.fixture
def rigs():
    started = []

    def make(*args):
        r = Rig(*args)
        started.append(r)
        return r

    yield make
    for r in started:
        r.close()


def board_daemon(daemon_factory, rig, *overrides, scanner=None):
    """turnstiled on the shipped ioboard profile, talking to the rig's pty."""
    d = daemon_factory()
    d.config = PROFILE
    args = ["-D", f"store.path={d.db}", "-D", f"control.socket={d.socket}",
            "-D", f"lane.main.modbus=rtu:{rig.pty}", "-D", "passes.ticket_attendant=yes",
            "-D", "lane.main.attendant_min=0ms",
            "-D", f"lane.main.modbus_timeout={TIMEOUT_MS}ms",
            "-D", f"lane.main.modbus_watchdog={WATCHDOG_MS}ms"]
    if scanner:
        args += ["-D", "lane.main.scanner=serial", "-D", f"lane.main.scanner_device={scanner}",
                 "-D", "lane.main.scanner_eol=any"]
    for o in overrides:
        args += ["-D", o]
    d.start(*args)
    code, _, err = d.import_passes()
    assert code == 0, err
    d.wait_state("idle", timeout=10)
    return d


def quiet_master(rig):
    """A Master on the board's line once the replies to a dead or stopped daemon's
    last requests are gone (a lagging simulator may still be answering them)."""
    m = Master(rig.pty)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not select.select([m.fd], [], [], 0.3)[0]:
            return m
        os.read(m.fd, 512)
    m.close()
    raise AssertionError("the board never went quiet")


def confirm(d):
    lane = d.wait_state("await_attendant")
    d.ctl_ok("confirm", "main", lane["check"]["request_id"])


def t_of(line):
    return int(re.search(r"t=(\d+)", line).group(1))


def edges(outs, bit):
    """[(t_rise, t_fall or None)] of one output bit, from rig.outs()."""
    res, level, since = [], 0, None
    for t, mask in outs:
        now = 1 if mask & bit else 0
        if now and not level:
            since = t
        elif level and not now:
            res.append((since, t))
        level = now
    if level:
        res.append((since, None))
    return res


def test_scan_confirm_pulse_walk_passed(daemon_factory, rigs, pty_pair):
    """A code from the serial scanner, the attendant's confirm, one board-timed
    200 ms pulse on the Open A pin, the simulated person walks, the journal
    says passed; and nothing on Open A/B moved before the confirm."""
    r = rigs("-d", "300", "-H", "300")
    d = board_daemon(daemon_factory, r, scanner=pty_pair.device)
    assert not any(mask & BOTH for _, mask in r.outs()), r.outs()
    start = r.mark()
    pty_pair.write(b"TICKET-1\r\n")
    confirm(d)
    walk = r.wait_line(r"^walk .*dir=a", start, timeout=5)
    r.wait_line(r"^in .*pass_a=0", start, timeout=5)
    d.wait_state("idle", timeout=5)
    rows = d.export()
    assert (rows[-1]["source"], rows[-1]["attendant"], rows[-1]["gate"],
            rows[-1]["grant_dir"]) == ("serial", "confirmed", "passed", "a"), rows[-1]
    pulses = edges(r.outs(start), OPEN_A)
    assert len(pulses) == 1 and pulses[0][1] is not None, pulses
    length = pulses[0][1] - pulses[0][0]
    # the board counts whole 1 ms ticks from the write: 199..200 ms, and the rig's sampling
    assert 198_500 <= length <= 201_000, f"pulse {length} us, configured 200 ms"
    assert 299_000 <= t_of(walk) - pulses[0][0] <= 301_000
    assert edges(r.outs(start), OPEN_B) == []


def test_nobody_walks_through_is_not_passed(daemon_factory, rigs):
    r = rigs("-d", "never")
    d = board_daemon(daemon_factory, r, "lane.main.pass_window=1s")
    start = r.mark()
    d.ctl_ok("scan", "main", "TICKET-1")
    confirm(d)
    d.wait_state("open")
    d.wait_state("idle", timeout=5)
    rows = d.export()
    assert (rows[-1]["attendant"], rows[-1]["gate"]) == ("confirmed", "not_passed"), rows[-1]
    assert len(edges(r.outs(start), OPEN_A)) == 1
    assert not any(line.startswith("walk") for line in r.lines[start:])


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_fire_loop_cut_with_the_daemon_stopped_opens_both_within_50ms(daemon_factory, rigs,
                                                                     how):
    r = rigs()
    d = board_daemon(daemon_factory, r)
    d.stop(how)
    start = r.mark()
    r.send("in fire_loop_ok 0")
    t_cut = t_of(r.wait_line(r"^in .*fire_loop_ok=0", start))
    r.sleep_sim(100_000)
    t_open = next((t for t, mask in r.outs(start) if mask & BOTH == BOTH), None)
    assert t_open is not None, r.outs(start)
    assert t_open - t_cut <= 50_000, t_open - t_cut
    r.sleep_sim((WATCHDOG_MS + 500) * 1000)  # past the host watchdog: the fire override wins
    assert r.outs()[-1][1] & BOTH == BOTH, r.outs(start)
    start = r.mark()
    r.send("in fire_loop_ok 1")
    r.sleep_sim(100_000)
    assert r.outs()[-1][1] & BOTH == 0, r.outs(start)


def test_fire_loop_cut_while_the_daemon_runs_is_an_emergency(daemon_factory, rigs):
    """The board opens both ways on its own; the lane says emergency (not
    io_fault), and goes back to idle with Open A/B released when the loop closes."""
    r = rigs()
    d = board_daemon(daemon_factory, r)
    start = r.mark()
    r.send("in fire_loop_ok 0")
    d.wait_state("emergency", timeout=5)
    time.sleep(0.5)
    assert d.lane()["state"] == "emergency"
    assert r.outs()[-1][1] & BOTH == BOTH, r.outs(start)
    code, _, _ = d.ctl("scan", "main", "TICKET-1")
    time.sleep(0.3)
    assert d.lane()["state"] == "emergency"
    r.send("in fire_loop_ok 1")
    d.wait_state("idle", timeout=10)
    wait_until(lambda: r.outs()[-1][1] & BOTH == 0, what="Open A/B released")


def test_host_watchdog_drops_outputs_when_the_daemon_is_killed(daemon_factory, rigs):
    """Potential mode holds Open A; kill -9 the daemon: the board drops it
    after the watchdog timeout the daemon armed, and says so; the next daemon
    start finds the board and resumes."""
    r = rigs("-d", "never")
    d = board_daemon(daemon_factory, r, "lane.main.control=potential",
                     "lane.main.pass_window=30s")
    d.ctl_ok("scan", "main", "TICKET-1")
    confirm(d)
    wait_until(lambda: r.outs()[-1][1] & OPEN_A, what="Open A held")
    d.stop(signal.SIGKILL)
    t_kill = r.now_us()
    start = r.mark()
    r.sleep_sim((WATCHDOG_MS + 300) * 1000)
    drops = [t for t, mask in r.outs(start) if not mask & OPEN_A]
    assert drops, r.outs(start)
    # never while the daemon lived; within the timeout of its last request after
    assert 0 < drops[0] - t_kill <= WATCHDOG_MS * 1000 + 50_000, (t_kill, r.outs(start))
    assert r.outs()[-1][1] == 0, "every output safe"
    m = quiet_master(r)
    try:
        status = m.read_regs(4, IR_STATUS, 1)[0]
        assert status & STATUS_WDT_TRIPPED and status & STATUS_WDT_ARMED, (hex(status), r.lines[start - 3:])
        assert m.read_regs(4, IR_WDT_TRIPS, 1) == [1]
        assert m.read_regs(3, HR_WATCHDOG, 1) == [WATCHDOG_MS]
    finally:
        m.close()
    # The daemon again (same journal and socket, as systemd would restart it).
    start = r.mark()
    d2 = board_daemon(daemon_factory, r)
    assert "the board's watchdog had dropped every output" in d2.log.read_text()
    time.sleep(0.3)
    assert not any(mask & BOTH for _, mask in r.outs(start)), r.outs(start)
    assert d2.stop() == 0
    m = quiet_master(r)
    try:
        # acknowledged at the restart's sync, disarmed at its clean stop
        assert m.read_regs(4, IR_STATUS, 1)[0] & (STATUS_WDT_TRIPPED | STATUS_WDT_ARMED) == 0
        assert m.read_regs(3, HR_WATCHDOG, 1) == [0]
        assert m.read_regs(4, IR_WDT_TRIPS, 1) == [1]
    finally:
        m.close()


def test_pulse_in_progress_when_the_daemon_dies_still_ends_on_time(daemon_factory, rigs):
    r = rigs("-d", "never")
    d = board_daemon(daemon_factory, r, "lane.main.pulse=500ms")
    start = r.mark()
    d.ctl_ok("scan", "main", "TICKET-1")
    confirm(d)
    wait_until(lambda: edges(r.outs(start), OPEN_A), timeout=5, what="Open A to rise")
    d.stop(signal.SIGKILL)
    t_kill = r.now_us()
    r.sleep_sim(700_000)
    pulses = edges(r.outs(start), OPEN_A)
    assert len(pulses) == 1 and pulses[0][1] is not None, pulses
    rise, fall = pulses[0]
    assert t_kill < fall, f"the daemon died at {t_kill}, after the pulse ended at {fall}"
    assert 498_500 <= fall - rise <= 501_000, fall - rise



def test_board_reset_is_seen_and_everything_written_again(daemon_factory, rigs):
    """A reset board (power blip) has its counters, pulse lengths and watchdog
    back at their defaults. The daemon journals an IO fault (the pass counter
    going backwards, if nothing else, tells it) instead of some 65 000 passes,
    syncs the board again, and the next pulse is the configured 200 ms, not
    the board's default 500."""
    r = rigs("-d", "150", "-H", "100")
    d = board_daemon(daemon_factory, r)
    start = r.mark()
    d.ctl_ok("scan", "main", "TICKET-1")
    confirm(d)
    r.wait_line(r"^in .*pass_a=0", start, timeout=5)
    wait_until(lambda: d.export()[-1]["gate"] == "passed", what="the first pass")
    start = r.mark()
    r.send("reset")
    r.wait_line(r"^reset ", start)
    d.wait_state("io_fault", timeout=5)
    d.wait_state("idle", timeout=10)
    start = r.mark()
    d.ctl_ok("scan", "main", "TICKET-2")
    confirm(d)
    r.wait_line(r"^in .*pass_a=0", start, timeout=5)
    d.wait_state("idle", timeout=5)
    pulses = edges(r.outs(start), OPEN_A)
    assert len(pulses) == 1 and pulses[0][1] is not None, pulses
    assert 198_500 <= pulses[0][1] - pulses[0][0] <= 201_000, pulses
    rows = d.export()
    assert [row["gate"] for row in rows] == ["passed", "passed"], rows
    assert d.lane()["counters"]["since_start"]["entries"] == 2
