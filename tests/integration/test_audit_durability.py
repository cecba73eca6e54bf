"""The journal under kill -9 and a full disk, end to end with the real daemon.

kill -9: a client storms the lane with scans and passages and records every check
it saw the lane open for (audit before act: the lane only opens once the grant is
committed); the daemon is killed at random instants; after each kill every grant
the client saw must be in the journal, the chain must verify, and the daemon must
start again. Full disk: the journal lives on a small tmpfs mounted for the test;
filled up, the lane must not open, and once space returns it opens again. Read-only
journal: the journal lives on a small ext4 image mounted for the test, and its files
are made immutable (chattr +i: even root's writes through the daemon's open file
descriptors are refused); the lane must not open until they are writable again.
"""
import json
import os
import random
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import TURNSTILECTL, PASSES, Daemon, wait_until

KILLS = int(os.environ.get("TS_KILL_INSTANTS", "200"))


def verify_db(db):
    p = subprocess.run([str(TURNSTILECTL), "audit", "verify", "--db", str(db)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def storm(d, seen, stop):
    """Scans and passes as fast as turnstilectl goes; records request ids seen open."""
    codes = ["GYM-1", "NOPE-1", "GYM-OLD"]
    i = 0
    while not stop.is_set():
        code, _, _ = d.ctl("scan", "main", codes[i % 3] + ("" if i % 3 == 0 else str(i)))
        if code != 0:
            return
        i += 1
        code, out, _ = d.ctl("--json", "status", "main")
        if code != 0:
            return
        lane = json.loads(out)["lanes"][0]
        if lane["state"] == "open" and lane.get("check"):
            seen.add(lane["check"]["request_id"])
            d.ctl("sim", "set", "main", "pass_a", "1")
            d.ctl("sim", "set", "main", "pass_a", "0")


def test_kill_9_at_random_instants_loses_no_committed_grant(tmp_path):
    d = Daemon(tmp_path, duplicate_window="0ms")
    d.start()
    code, _, err = d.import_passes(PASSES)
    assert code == 0, err
    rng = random.Random(int(os.environ.get("TS_SEED", "6")))
    seen = set()
    try:
        for n in range(KILLS):
            if n:
                d.start()  # restarts clean after every kill (start() asserts it answers)
            stop = threading.Event()
            t = threading.Thread(target=storm, args=(d, seen, stop))
            t.start()
            time.sleep(rng.uniform(0.02, 0.4))
            d.proc.kill()
            d.proc.wait()
            stop.set()
            t.join(timeout=30)
            d.stop()
            code, out = verify_db(d.db)
            assert code == 0, f"after kill {n + 1}: {out}"
    finally:
        d.stop()
    con = sqlite3.connect(d.db)
    granted = {r[0] for r in con.execute(
        "SELECT s.request_id FROM journal s JOIN journal g ON g.check_id = s.id"
        " AND g.step = 'grant' WHERE s.step = 'scan'")}
    con.close()
    assert len(seen) >= KILLS // 5, f"the storm opened the lane only {len(seen)} times"
    missing = seen - granted
    assert not missing, f"grants the lane acted on but the journal lacks: {missing}"


def assert_reported(d, error):
    """status says the journal cannot record, in JSON and in text."""
    journal = d.ctl_json("status")["journal"]
    assert journal["ok"] is False and error in journal["error"], journal
    assert "journal cannot record, nothing is granted" in d.ctl_ok("status")


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the test needs root): {p.stderr}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def fill(path):
    """Fills the file system holding path; returns the filler file."""
    filler = path / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_full_disk_grants_nothing_and_recovers(tmp_path, small_fs):
    d = Daemon(tmp_path, duplicate_window="0ms")
    # The journal on the small file system, the rest where it was.
    d.config.write_text(d.config.read_text().replace(f"path = {tmp_path}/journal.db",
                                                     f"path = {small_fs}/journal.db"))
    d.db = small_fs / "journal.db"
    d.start()
    assert d.import_passes()[0] == 0

    def opens():
        return d.sim()["edges"]["open_a"]

    d.ctl_ok("scan", "main", "GYM-1")
    wait_until(lambda: opens() == 1, what="the first grant")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")

    filler = fill(small_fs)
    for _ in range(5):
        d.ctl_ok("scan", "main", "GYM-1")
        time.sleep(0.3)
        assert opens() == 1, "the lane opened while the journal could not record the grant"
        d.wait_state("idle", timeout=5)
    assert "journal" in d.log.read_text()
    assert_reported(d, "No space left on device")

    filler.unlink()
    d.ctl_ok("scan", "main", "GYM-1")
    wait_until(lambda: opens() == 2, timeout=5, what="a grant once space returned")
    assert d.ctl_json("status")["journal"] == {"ok": True}
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    time.sleep(0.3)
    d.stop()
    code, out = verify_db(d.db)
    assert code == 0, out


@pytest.fixture
def ext4_fs(tmp_path):
    img, mnt = tmp_path / "fs.img", tmp_path / "ext4"
    mnt.mkdir()
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    for cmd in (["mkfs.ext4", "-q", "-F", str(img)], ["mount", "-o", "loop", str(img), str(mnt)]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            pytest.fail(f"{' '.join(cmd)}: {p.stderr} (the test needs root and loop devices)")
    yield mnt
    subprocess.run(["chattr", "-R", "-i", str(mnt)], capture_output=True)
    subprocess.run(["umount", "-l", str(mnt)])


def chattr(flag, *paths):
    p = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_read_only_journal_grants_nothing_and_recovers(tmp_path, ext4_fs):
    d = Daemon(tmp_path, duplicate_window="0ms")
    d.config.write_text(d.config.read_text().replace(f"path = {tmp_path}/journal.db",
                                                     f"path = {ext4_fs}/journal.db"))
    d.db = ext4_fs / "journal.db"
    d.start()
    assert d.import_passes()[0] == 0

    def opens():
        return d.sim()["edges"]["open_a"]

    d.ctl_ok("scan", "main", "GYM-1")
    wait_until(lambda: opens() == 1, what="the first grant")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    time.sleep(0.3)

    files = [d.db, ext4_fs / "journal.db-wal"]
    chattr("+i", *files)
    for _ in range(3):
        d.ctl_ok("scan", "main", "GYM-1")
        time.sleep(0.3)
        assert opens() == 1, "the lane opened while the journal could not be written"
        d.wait_state("idle", timeout=5)
    assert "journal" in d.log.read_text()
    assert d.proc.poll() is None, "the daemon must keep running"
    assert_reported(d, "Input/output error")

    chattr("-i", *files)
    d.ctl_ok("scan", "main", "GYM-1")
    wait_until(lambda: opens() == 2, timeout=5, what="a grant once the journal is writable")
    assert d.ctl_json("status")["journal"] == {"ok": True}
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    time.sleep(0.3)
    d.stop()
    code, out = verify_db(d.db)
    assert code == 0, out
    con = sqlite3.connect(d.db)
    grants = con.execute("SELECT count(*) FROM journal WHERE step = 'grant'").fetchone()[0]
    con.close()
    assert grants == 2, f"{grants} grants journaled for the 2 openings"
