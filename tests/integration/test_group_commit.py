"""Group commit: grants of several lanes that arrive together share one durable
commit (one fsync), and each lane's gate still opens only after it. The daemon is
stopped (SIGSTOP) while two scanners each send a valid code, so both codes are
waiting when it resumes and are handled in one loop iteration. Commits are
counted in the SQLite WAL file: a frame whose header carries a database size is
the last frame of a commit. Each test says what it proves in its name."""
import fcntl
import json
import os
import signal
import socket
import sqlite3
import struct
import termios
import time

from conftest import PASSES, PtyPair, wait_until


def wal_commits(db):
    """Commit frames in the WAL's current generation (frames with the header's salt)."""
    data = open(f"{db}-wal", "rb").read()
    if len(data) < 32:
        return 0
    page_size = int.from_bytes(data[8:12], "big")
    salt = data[16:24]
    n, off = 0, 32
    while off + 24 + page_size <= len(data):
        frame = data[off:off + 24]
        if frame[8:16] != salt:
            break
        if int.from_bytes(frame[4:8], "big"):
            n += 1
        off += 24 + page_size
    return n


def queued(device):
    """Bytes waiting in a pty for its reader (FIONREAD on a second descriptor)."""
    fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    finally:
        os.close(fd)


def journal_commits(d):
    """The daemon's own count, from the control socket's info request."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(d.socket))
        s.sendall(b'{"cmd": "info"}\n')
        return json.loads(s.makefile("rb").readline())["journal"]["commits"]


def test_two_lanes_granting_in_one_loop_iteration_share_one_commit(daemon_factory, tmp_path):
    main_pty = PtyPair(tmp_path / "a")
    second_pty = PtyPair(tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    main_pty.start()
    second_pty.start()
    try:
        d = daemon_factory(extra=f"""scanner = serial
scanner_device = {main_pty.device}

[lane.second]
io = sim
pulse = 200ms
pass_window = 2s
duplicate_window = 300ms
scanner = serial
scanner_device = {second_pty.device}
""").start()
        # Memberships need no attendant here: a valid scan is a grant at once.
        d.import_passes(PASSES + "GYM-2,membership,Ivanova Irina,2020-01-01,2099-12-31,0,0,\n")
        time.sleep(0.3)  # past daemon.flush (50 ms): nothing left to commit
        before = wal_commits(d.db)
        info_before = journal_commits(d)

        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            main_pty.write(b"GYM-1\r\n")
            second_pty.write(b"GYM-2\r\n")
            # socat relays both lines while the daemon is stopped.
            wait_until(lambda: queued(main_pty.device) == 7 and queued(second_pty.device) == 7,
                       what="both lines waiting for the daemon")
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)

        for name in ("main", "second"):
            wait_until(lambda: d.ctl_json("status", name)["lanes"][0]["state"] == "open",
                       what=f"lane {name} open")
            assert d.ctl_json("sim", "get", name)["edges"]["open_a"] == 1
        after = wal_commits(d.db)
        assert after - before == 1, (before, after)
        assert journal_commits(d) - info_before == 1  # the daemon counts the same
        con = sqlite3.connect(d.db)
        try:
            lanes = sorted(r[0] for r in con.execute("SELECT lane FROM journal WHERE step='grant'"))
        finally:
            con.close()
        assert lanes == ["main", "second"], lanes
    finally:
        main_pty.stop()
        second_pty.stop()
