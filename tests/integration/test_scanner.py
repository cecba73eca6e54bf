"""A serial scanner on a socat pty pair: framing, garbage, unplug and replug."""
import time

from conftest import PASSES, wait_until


def scanner_daemon(daemon_factory, pty_pair):
    d = daemon_factory(extra=f"scanner = serial\nscanner_device = {pty_pair.device}\n"
                             "scanner_eol = any\nscanner_max_len = 512").start()
    assert d.import_passes(PASSES)[0] == 0
    return d


def test_scanned_ticket_reaches_the_attendant(daemon_factory, pty_pair):
    d = scanner_daemon(daemon_factory, pty_pair)
    pty_pair.write(b"TICKET-1\r\n")
    check = d.wait_state("await_attendant")["check"]
    assert check["verdict"] == "valid"
    assert d.export()[0]["source"] == "serial"


def test_garbage_never_opens_and_the_daemon_stays_up(daemon_factory, pty_pair):
    d = scanner_daemon(daemon_factory, pty_pair)
    pty_pair.write(b"GYM\x00-1\r\n")                 # NUL inside a valid code
    pty_pair.write(b"G" * 65536 + b"\r\n")          # 64 KiB line
    pty_pair.write(b"GYM-1" + b"\xd0\x9f\xff\xfe" + b"\r\n")  # invalid UTF-8
    pty_pair.write(b"\x1b[A\x07\r\n")               # control bytes
    pty_pair.write(b"NOT-A-PASS\r\n")              # a clean line, so we know all was read
    d.wait_state("denied")
    assert d.lane()["check"]["verdict"] == "unknown"
    assert d.proc.poll() is None
    assert d.sim()["edges"]["open_a"] == 0
    rows = d.export()
    assert len(rows) == 1, rows  # only the clean line became a check
    log = d.log.read_text()
    assert "discarded" in log, log


def test_scanner_unplugged_and_replugged_works_again(daemon_factory, pty_pair):
    d = scanner_daemon(daemon_factory, pty_pair)
    pty_pair.write(b"GYM-1\n")
    d.wait_state("open")
    pty_pair.stop()
    d.wait_state("idle", timeout=6)
    time.sleep(0.5)
    assert d.proc.poll() is None
    pty_pair.start()
    # The daemon retries with backoff (at most 5 s) and reads again.
    def scan_went_through():
        pty_pair.write(b"TICKET-1\r")
        return d.lane()["state"] == "await_attendant"
    wait_until(scan_went_through, timeout=10, what="a scan after replugging")
    assert "connected" in d.log.read_text()
