"""The hid scanner source and the attendant's USB keypad, through the daemon.

No input device exists on these machines (no /dev/input, no uinput in the
kernel), so a FIFO stands in for /dev/input/by-id/...-event-kbd: the test writes
struct input_event records into it exactly as the kernel delivers them from a
keyboard-wedge scanner or a keypad. EVIOCGRAB cannot work on a FIFO, so these
lanes set evdev_require_grab = no; one test shows that with the default (grab
required) the FIFO is refused and its keys never reach the lane. Key times are
stamped on CLOCK_MONOTONIC (Python's time.monotonic()), as the daemon asks of a
real device.
"""
import os
import sqlite3
import struct
import time

import pytest

from conftest import wait_until

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
SYN_REPORT, MSC_SCAN = 0, 4
KEY_ENTER, KEY_LEFTSHIFT, KEY_MINUS = 28, 42, 12
KEY_KPENTER, KEY_KPMINUS, KEY_KPASTERISK = 96, 74, 55
LETTERS = dict(zip("qwertyuiop", range(16, 26))) | dict(zip("asdfghjkl", range(30, 39))) | \
    dict(zip("zxcvbnm", range(44, 51)))
DIGITS = dict(zip("1234567890", range(2, 12)))


class EvdevFifo:
    """A FIFO that plays an input device; unplug() makes it vanish like one."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def plug(self):
        os.mkfifo(self.path)
        # Read-write: the daemon never sees the last writer leave until unplug().
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        return self

    def unplug(self):
        os.unlink(self.path)
        os.close(self.fd)
        self.fd = None

    def events(self, evs, at=None):
        t = time.monotonic() if at is None else at
        sec, usec = int(t), int((t - int(t)) * 1e6)
        os.write(self.fd, b"".join(struct.pack("qqHHi", sec, usec, *e) for e in evs))

    @staticmethod
    def tap(key):
        return [(EV_MSC, MSC_SCAN, 0x70000 + key), (EV_KEY, key, 1), (EV_SYN, SYN_REPORT, 0),
                (EV_KEY, key, 0), (EV_SYN, SYN_REPORT, 0)]

    def type(self, text):
        """Types text as a US wedge scanner does: Shift around capitals, Enter last."""
        evs = []
        for ch in text:
            if ch.isupper():
                evs += [(EV_KEY, KEY_LEFTSHIFT, 1)] + self.tap(LETTERS[ch.lower()]) + \
                    [(EV_KEY, KEY_LEFTSHIFT, 0)]
            else:
                evs += self.tap(LETTERS.get(ch) or DIGITS.get(ch) or {"-": KEY_MINUS}[ch])
        self.events(evs + self.tap(KEY_ENTER))

    def key(self, key, at=None):
        self.events(self.tap(key), at=at)

    def close(self):
        if self.fd is not None:
            self.unplug()


@pytest.fixture
def devices(tmp_path):
    scanner = EvdevFifo(tmp_path / "usb-scanner-event-kbd").plug()
    keypad = EvdevFifo(tmp_path / "usb-keypad-event-kbd").plug()
    yield scanner, keypad
    scanner.close()
    keypad.close()


def evdev_daemon(daemon_factory, devices, grab="no"):
    scanner, keypad = devices
    extra = (f"scanner = hid\nscanner_device = {scanner.path}\nkeypad_device = {keypad.path}\n"
             f"evdev_require_grab = {grab}\n")
    d = daemon_factory(attendant_timeout="30s", extra=extra).start()
    code, _, err = d.import_passes()
    assert code == 0, err
    return d


def log_has(d, text):
    return text in d.log.read_text(errors="replace")


def test_wedge_scanner_code_reaches_the_lane_and_keypad_enter_confirms(daemon_factory, devices):
    scanner, keypad = devices
    d = evdev_daemon(daemon_factory, devices)
    scanner.type("TICKET-1")
    lane = d.wait_state("await_attendant")
    assert lane["check"]["code_kind"] == "ticket", lane
    assert d.sim()["edges"]["open_a"] == 0
    keypad.key(KEY_KPENTER)
    wait_until(lambda: d.sim()["edges"]["open_a"] == 1, what="open after keypad Enter")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    row = d.export()[-1]
    assert (row["source"], row["attendant"], row["gate"]) == ("hid", "confirmed", "passed"), row


def test_keypad_reject_key_denies(daemon_factory, devices):
    scanner, keypad = devices
    d = evdev_daemon(daemon_factory, devices)
    scanner.type("TICKET-2")
    d.wait_state("await_attendant")
    keypad.key(KEY_KPMINUS)
    wait_until(lambda: d.lane()["state"] in ("denied", "idle"), what="the rejection")
    row = d.export()[-1]
    assert (row["attendant"], row["gate"]) == ("rejected", "none"), row
    assert d.sim()["edges"]["open_a"] == 0


def test_keypad_key_pressed_before_the_check_appeared_is_refused(daemon_factory, devices):
    """The key reaches the daemon after check B is on screen, but its own time
    says it was pressed before B appeared: it was meant for something else."""
    scanner, keypad = devices
    d = evdev_daemon(daemon_factory, devices)
    pressed = time.monotonic()
    time.sleep(0.05)
    scanner.type("TICKET-1")
    rid = d.wait_state("await_attendant")["check"]["request_id"]
    keypad.key(KEY_KPENTER, at=pressed)
    wait_until(lambda: log_has(d, "keypad confirm key stale"), what="the stale key logged")
    lane = d.lane()
    assert lane["state"] == "await_attendant" and lane["check"]["request_id"] == rid, lane
    assert d.sim()["edges"]["open_a"] == 0
    keypad.key(KEY_KPENTER)
    wait_until(lambda: d.sim()["edges"]["open_a"] == 1, what="open after a fresh Enter")


def test_keypad_manual_open_is_journaled_with_its_reason(daemon_factory, devices):
    _, keypad = devices
    d = evdev_daemon(daemon_factory, devices)
    keypad.key(KEY_KPASTERISK)
    wait_until(lambda: d.sim()["edges"]["open_a"] == 1, what="the manual open")
    d.wait_state("idle", timeout=10)
    row = d.export()[-1]
    assert (row["source"], row["attendant"]) == ("manual", "confirmed"), row
    con = sqlite3.connect(d.db)
    details = [r[0] for r in con.execute("SELECT detail FROM journal WHERE source='manual'")]
    assert any("keypad manual open key" in (x or "") for x in details), details


def test_scanner_unplugged_and_plugged_back_reads_codes_again(daemon_factory, devices):
    scanner, _ = devices
    d = evdev_daemon(daemon_factory, devices)
    scanner.events(EvdevFifo.tap(LETTERS["x"]))  # half a code, then the cable goes
    scanner.unplug()
    wait_until(lambda: log_has(d, f"scanner {scanner.path} unavailable, retrying"),
               what="the unplug logged")
    scanner.plug()
    wait_until(lambda: log_has(d, f"scanner {scanner.path} read without an exclusive grab")
               and d.log.read_text().count("read without an exclusive grab") >= 3,
               timeout=10, what="the scanner back")
    scanner.type("TICKET-2")
    lane = d.wait_state("await_attendant")
    assert lane["check"]["code_kind"] == "ticket", lane


def test_grab_required_by_default_refuses_a_device_that_cannot_be_grabbed(daemon_factory,
                                                                          devices):
    scanner, keypad = devices
    d = evdev_daemon(daemon_factory, devices, grab="yes")
    wait_until(lambda: log_has(d, f"scanner {scanner.path} unavailable, retrying")
               and log_has(d, f"keypad {keypad.path} unavailable, retrying"),
               what="both devices refused")
    assert "Inappropriate ioctl for device" in d.log.read_text()
    scanner.type("TICKET-1")
    keypad.key(KEY_KPASTERISK)
    time.sleep(0.5)
    assert d.lane()["state"] == "idle"
    assert d.sim()["edges"]["open_a"] == 0
