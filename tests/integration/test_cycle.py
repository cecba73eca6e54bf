"""The turnstile cycle end to end: real turnstiled, real turnstilectl, sim IO."""
import os
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import TURNSTILED, wait_until


def edges(d, output):
    return d.sim()["edges"][output]


def test_nothing_pulses_at_start_and_every_output_is_safe(daemon):
    sim = daemon.sim()
    assert all(v == 0 for v in sim["outputs"].values()), sim["outputs"]
    assert all(v == 0 for v in sim["edges"].values()), sim["edges"]
    assert sim["inputs"]["fire_alarm"] == 1
    assert daemon.lane()["state"] == "idle"


def test_ticket_confirmed_opens_once_and_counts_only_after_the_pass(daemon):
    assert daemon.ctl_json("scan", "main", "TICKET-1")["result"] == "accepted"
    lane = daemon.wait_state("await_attendant")
    check = lane["check"]
    assert check["verdict"] == "valid", check
    assert check["code_kind"] == "ticket", check
    assert edges(daemon, "open_a") == 0, "nothing opens before the attendant confirms"

    daemon.ctl_ok("confirm", "main", check["request_id"])
    daemon.wait_state("open")
    wait_until(lambda: edges(daemon, "open_a") == 1, what="one open_a pulse")
    # Pulse mode: the relay drops by itself after the configured pulse.
    wait_until(lambda: daemon.sim()["outputs"]["open_a"] == 0, what="open_a pulse to end")

    daemon.ctl_ok("sim", "set", "main", "pass_a", "1")
    daemon.ctl_ok("sim", "set", "main", "pass_a", "0")
    daemon.wait_state("idle")

    rows = daemon.export()
    assert [(r["code_kind"], r["verdict"], r["attendant"], r["gate"]) for r in rows] == \
        [("ticket", "valid", "confirmed", "passed")], rows

    time.sleep(0.4)  # past the duplicate window: a new scan, not the same one
    daemon.ctl_ok("scan", "main", "TICKET-1")
    lane = daemon.wait_state("denied")
    assert lane["check"]["verdict"] == "used", lane
    assert edges(daemon, "open_a") == 1


def test_membership_nobody_passes_use_is_annulled(daemon):
    daemon.ctl_ok("scan", "main", "GYM-1")
    daemon.wait_state("open")  # memberships need no attendant in this config
    daemon.wait_state("idle", timeout=5)  # pass window 2 s runs out
    rows = daemon.export()
    assert rows[-1]["gate"] == "not_passed", rows
    assert rows[-1]["attendant"] == "not_required", rows
    passes = {p["holder"]: p for p in daemon.ctl_json("passes", "list")["passes"]}
    assert passes["Petrov Pavel"]["uses"] == 0, passes


def test_annulled_ticket_can_be_used_again(daemon):
    daemon.ctl_ok("scan", "main", "TICKET-2")
    check = daemon.wait_state("await_attendant")["check"]
    daemon.ctl_ok("confirm", "main", check["request_id"])
    daemon.wait_state("open")
    daemon.wait_state("idle", timeout=5)
    daemon.ctl_ok("scan", "main", "TICKET-2")
    assert daemon.wait_state("await_attendant")["check"]["verdict"] == "valid"


def test_unknown_and_expired_codes_are_denied_without_opening(daemon):
    daemon.ctl_ok("scan", "main", "NO-SUCH-CODE")
    assert daemon.wait_state("denied")["check"]["verdict"] == "unknown"
    daemon.wait_state("idle")
    daemon.ctl_ok("scan", "main", "GYM-OLD")
    assert daemon.wait_state("denied")["check"]["verdict"] == "expired"
    daemon.wait_state("idle")
    assert edges(daemon, "open_a") == 0 and edges(daemon, "open_b") == 0
    rows = daemon.export()
    assert [(r["verdict"], r["attendant"], r["gate"]) for r in rows] == [
        ("unknown", "not_required", "none"), ("expired", "not_required", "none")], rows


def test_stale_request_id_cannot_confirm_the_next_visitor(daemon):
    daemon.ctl_ok("scan", "main", "TICKET-1")
    first = daemon.wait_state("await_attendant")["check"]["request_id"]
    daemon.ctl_ok("reject", "main", first)
    daemon.wait_state("idle", timeout=5)
    daemon.ctl_ok("scan", "main", "TICKET-2")
    second = daemon.wait_state("await_attendant")["check"]["request_id"]
    assert second != first
    code, _, err = daemon.ctl("confirm", "main", first)
    assert code != 0 and "stale" in err, err
    assert daemon.lane()["state"] == "await_attendant"
    assert edges(daemon, "open_a") == 0


def test_attendant_timeout_denies(daemon):
    daemon.ctl_ok("scan", "main", "TICKET-1")
    daemon.wait_state("await_attendant")
    daemon.wait_state("denied", timeout=6)
    daemon.wait_state("idle", timeout=5)
    assert daemon.export()[-1]["attendant"] == "timeout"
    assert edges(daemon, "open_a") == 0


def test_fire_alarm_during_attendant_step_opens_both_and_refuses_confirm(daemon):
    daemon.ctl_ok("scan", "main", "TICKET-1")
    check = daemon.wait_state("await_attendant")["check"]
    daemon.ctl_ok("sim", "set", "main", "fire_alarm", "0")
    daemon.wait_state("emergency")
    outputs = daemon.sim()["outputs"]
    assert outputs["open_a"] == 1 and outputs["open_b"] == 1, outputs
    code, _, err = daemon.ctl("confirm", "main", check["request_id"])
    assert code != 0, "confirm must be refused in an emergency"
    code, _, _ = daemon.ctl("mode", "main", "locked")
    assert code != 0, "mode changes are refused in an emergency"
    daemon.ctl_ok("sim", "set", "main", "fire_alarm", "1")
    daemon.wait_state("idle")
    outputs = daemon.sim()["outputs"]
    assert outputs["open_a"] == 0 and outputs["open_b"] == 0, outputs


def test_mode_change_waits_for_idle(daemon):
    daemon.ctl_ok("scan", "main", "TICKET-1")
    check = daemon.wait_state("await_attendant")["check"]
    reply = daemon.ctl_json("mode", "main", "free")
    assert reply["applied"] is False, reply
    assert daemon.lane()["state"] == "await_attendant"
    daemon.ctl_ok("reject", "main", check["request_id"])
    daemon.wait_state("free", timeout=5)
    outputs = daemon.sim()["outputs"]
    assert outputs["open_a"] == 1 and outputs["open_b"] == 1, outputs
    assert daemon.ctl_json("mode", "main", "normal")["applied"] is True
    daemon.wait_state("idle")


def test_stop_blocks_at_once_outlasts_a_fire_alarm_and_is_journaled(daemon):
    daemon.ctl_ok("scan", "main", "TICKET-1")
    check = daemon.wait_state("await_attendant")["check"]
    # Unlike mode locked, stop does not wait for the check in flight: it ends it.
    assert daemon.ctl_ok("stop", "main", "on").startswith("lane main stopped")
    lane = daemon.lane()
    assert lane["state"] == "blocked" and lane["stop"] is True and lane["check"] is None, lane
    code, _, _ = daemon.ctl("confirm", "main", check["request_id"])
    assert code != 0, "the aborted check cannot be confirmed"
    daemon.ctl("scan", "main", "TICKET-2")
    assert daemon.lane()["state"] == "blocked"
    assert edges(daemon, "open_a") == 0 and edges(daemon, "open_b") == 0

    # The fire alarm still opens both ways; once it clears, the stop holds.
    daemon.ctl_ok("sim", "set", "main", "fire_alarm", "0")
    daemon.wait_state("emergency")
    daemon.ctl_ok("sim", "set", "main", "fire_alarm", "1")
    daemon.wait_state("blocked")
    outputs = daemon.sim()["outputs"]
    assert outputs["open_a"] == 0 and outputs["open_b"] == 0, outputs

    assert daemon.ctl_ok("stop", "main", "off") == "lane main: stop cleared\n"
    daemon.wait_state("idle")
    assert daemon.lane()["stop"] is False
    code, _, err = daemon.ctl("stop", "main", "maybe")
    assert code == 2 and "not on or off" in err, err

    time.sleep(0.2)  # rows other than grants are committed within daemon.flush
    con = sqlite3.connect(daemon.db)
    events = [r[0] for r in con.execute(
        "SELECT value FROM journal WHERE step = 'event' AND value LIKE 'stop%' ORDER BY id")]
    assert events == ["stop", "stop_cleared"], events
    aborts = con.execute("SELECT value FROM journal WHERE step = 'abort' AND check_id = ?",
                         (check["id"],)).fetchall()
    assert aborts == [("stop",)], aborts


def test_manual_open_needs_a_reason_and_is_journaled_with_it(daemon):
    code, _, err = daemon.ctl("open", "main", "a", "--reason", "")
    assert code != 0
    daemon.ctl_ok("open", "main", "b", "--reason", "paper certificate, checked by Olga")
    daemon.wait_state("open")
    wait_until(lambda: edges(daemon, "open_b") == 1, what="open_b pulse")
    daemon.ctl_ok("sim", "set", "main", "pass_b", "1")
    daemon.ctl_ok("sim", "set", "main", "pass_b", "0")
    daemon.wait_state("idle")
    row = daemon.export()[-1]
    assert (row["source"], row["gate"], row["grant_dir"]) == ("manual", "passed", "b"), row
    con = sqlite3.connect(daemon.db)
    details = [r[0] for r in con.execute("SELECT detail FROM journal WHERE source='manual'")]
    assert any("paper certificate, checked by Olga" in (x or "") for x in details), details


def test_duplicate_scan_is_one_check(daemon_factory):
    d = daemon_factory(duplicate_window="10s").start()
    assert d.import_passes()[0] == 0
    assert d.ctl_json("scan", "main", "GYM-1")["result"] == "accepted"
    d.wait_state("open")
    assert d.ctl_json("scan", "main", "GYM-1")["result"] in ("duplicate", "busy")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    assert d.ctl_json("scan", "main", "GYM-1")["result"] == "duplicate"
    assert len(d.export()) == 1


def test_potential_mode_holds_the_level_and_drops_it_when_the_pass_starts(daemon_factory):
    d = daemon_factory(control="potential").start()
    assert d.import_passes()[0] == 0
    d.ctl_ok("scan", "main", "GYM-1")
    d.wait_state("open")
    assert d.sim()["outputs"]["open_a"] == 1
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    wait_until(lambda: d.sim()["outputs"]["open_a"] == 0, what="level to drop at pass start")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    assert d.export()[-1]["gate"] == "passed"


def test_grant_is_durable_before_kill_9(daemon):
    daemon.ctl_ok("scan", "main", "GYM-1")
    daemon.wait_state("open")
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait()
    con = sqlite3.connect(daemon.db)
    grants = con.execute("SELECT value FROM journal WHERE step='grant'").fetchall()
    assert grants == [("a",)], grants
    con.close()
    daemon.start()
    assert daemon.lane()["state"] == "idle"
    assert all(v == 0 for v in daemon.sim()["edges"].values()), "restart pulses nothing"


def test_passes_import_is_all_or_nothing_and_names_the_line(daemon):
    bad = ("code,kind,holder,valid_from,valid_until\n"
           "NEW-1,ticket,Good Row,2020-01-01,2099-12-31\n"
           "NEW-2,bogus,Bad Row,2020-01-01,2099-12-31\n")
    code, _, err = daemon.import_passes(bad)
    assert code != 0 and "line 3" in err, err
    daemon.ctl_ok("scan", "main", "NEW-1")
    assert daemon.wait_state("denied")["check"]["verdict"] == "unknown"


@pytest.fixture
def notify_socket(tmp_path):
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    yield path, sock
    sock.close()


def run_notified(d, notify_path, shell_prefix=""):
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    return subprocess.Popen(["/bin/sh", "-c", f'{shell_prefix}exec "{TURNSTILED}" -d -f "{d.config}"'],
                            env=env, stderr=subprocess.DEVNULL)


def test_ready_is_sent_after_outputs_are_safe(daemon_factory, notify_socket):
    d = daemon_factory()
    path, sock = notify_socket
    proc = run_notified(d, path)
    try:
        msg = sock.recv(4096).decode()
        assert "READY=1" in msg, msg
        # By READY the control socket is up and every output is at its safe level.
        assert all(v == 0 for v in d.sim()["outputs"].values())
    finally:
        proc.terminate()
        proc.wait()

def test_idle_daemon_does_not_wake_up(daemon):
    import time
    from pathlib import Path

    def switches():
        total = 0
        for task in Path(f"/proc/{daemon.proc.pid}/task").iterdir():
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        return total

    time.sleep(0.5)  # let the import's journal flush run
    before = switches()
    time.sleep(2.0)
    after = switches()
    assert after - before == 0, f"{after - before} wake-ups in 2 s of idle"


def test_watchdog_pings_when_systemd_asks_for_them(daemon_factory, notify_socket):
    d = daemon_factory()
    path, sock = notify_socket
    proc = run_notified(d, path, shell_prefix="WATCHDOG_PID=$$ WATCHDOG_USEC=400000 ")
    try:
        messages = [sock.recv(4096).decode() for _ in range(3)]
        assert any("READY=1" in m for m in messages), messages
        assert sum("WATCHDOG=1" in m for m in messages) >= 1, messages
    finally:
        proc.terminate()
        proc.wait()
