"""Fixtures that run the real turnstiled and turnstilectl binaries.

Each test gets its own directory, configuration, journal and control socket;
`Daemon` starts turnstiled in the foreground and waits until its control socket
answers; `ctl()` runs turnstilectl and returns (exit code, stdout, stderr), or
the parsed JSON for `ctl_json()`. Scanner tests use a socat pty pair.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

BUILD = Path(os.environ.get("TS_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
TURNSTILED = BUILD / "turnstiled"
TURNSTILECTL = BUILD / "turnstilectl"
SOURCE = Path(__file__).resolve().parents[2]

BASE_CONFIG = """\
[store]
path = {dir}/journal.db

[control]
socket = {dir}/control.sock

[passes]
membership_attendant = no
ticket_attendant = yes

[lane.main]
io = sim
control = {control}
pulse = 200ms
pass_window = {pass_window}
attendant_timeout = {attendant_timeout}
attendant_min = 0ms
denied_time = 1s
duplicate_window = {duplicate_window}
{extra}
"""

PASSES = """\
code,kind,holder,valid_from,valid_until,uses_per_day,pass_back_min,zone
TICKET-1,ticket,"Сидоров С. С., ряд 5",2020-01-01,2099-12-31,0,0,
TICKET-2,ticket,Smith John,2020-01-01,2099-12-31,0,0,
GYM-1,membership,Petrov Pavel,2020-01-01,2099-12-31,0,0,
GYM-OLD,membership,Old Member,2020-01-01,2020-12-31,0,0,
"""


def wait_until(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Daemon:
    def __init__(self, tmp: Path, **cfg):
        self.dir = tmp
        self.socket = tmp / "control.sock"
        self.db = tmp / "journal.db"
        self.config = tmp / "turnstiled.conf"
        params = dict(control="pulse", pass_window="2s", attendant_timeout="3s",
                      duplicate_window="300ms", extra="")
        params.update(cfg)
        self.config.write_text(BASE_CONFIG.format(dir=tmp, **params))
        self.proc = None
        self.log = tmp / "daemon.log"

    def start(self, *extra_args):
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(TURNSTILED), "-d", "-v", "-f", str(self.config), *extra_args],
            stdout=self.logfile, stderr=self.logfile)
        wait_until(lambda: self.proc.poll() is not None or self.ctl("status")[0] == 0,
                   what="turnstiled to answer")
        assert self.proc.poll() is None, f"turnstiled exited: {self.log.read_text()}"
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logfile.close()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def ctl(self, *args, input=None):
        p = subprocess.run([str(TURNSTILECTL), "-s", str(self.socket), *args],
                           capture_output=True, text=True, timeout=30, input=input)
        return p.returncode, p.stdout, p.stderr

    def ctl_ok(self, *args):
        code, out, err = self.ctl(*args)
        assert code == 0, f"turnstilectl {' '.join(args)} failed ({code}): {err}"
        return out

    def ctl_json(self, *args):
        return json.loads(self.ctl_ok("--json", *args))

    def lane(self):
        return self.ctl_json("status", "main")["lanes"][0]

    def sim(self):
        return self.ctl_json("sim", "get", "main")

    def wait_state(self, state, timeout=5.0):
        return wait_until(lambda: self.lane()["state"] == state and self.lane(), timeout,
                          f"lane state {state} (now {self.lane()['state']})")

    def import_passes(self, text=PASSES):
        path = self.dir / "passes.csv"
        path.write_text(text)
        return self.ctl("passes", "import", str(path))

    def export(self, fmt="jsonl"):
        # Only grants are committed at once; other rows within daemon.flush (50 ms).
        time.sleep(0.2)
        out = self.ctl_ok("export", "--format", fmt, "--db", str(self.db))
        if fmt == "jsonl":
            return [json.loads(line) for line in out.splitlines() if line.strip()]
        return out


@pytest.fixture
def daemon_factory(tmp_path):
    started = []

    def make(**cfg):
        d = Daemon(tmp_path, **cfg)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


@pytest.fixture
def daemon(daemon_factory):
    d = daemon_factory().start()
    code, _, err = d.import_passes()
    assert code == 0, err
    return d


class PtyPair:
    """socat pty pair: the daemon reads `device`, the test writes to `peer`."""

    def __init__(self, tmp: Path):
        self.device = tmp / "scanner"
        self.peer = tmp / "scanner-peer"
        self.proc = None
        self.fd = None

    def start(self):
        self.proc = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.device}",
             f"pty,raw,echo=0,link={self.peer}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.device.exists() and self.peer.exists(), what="socat ptys")
        return self

    def write(self, data: bytes):
        # Keep our end open: socat ends the pair when the last user of a side closes it.
        if self.fd is None:
            self.fd = os.open(self.peer, os.O_RDWR | os.O_NOCTTY)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def stop(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None
        wait_until(lambda: not self.device.exists(), what="socat to remove its links")


@pytest.fixture
def pty_pair(tmp_path):
    p = PtyPair(tmp_path).start()
    yield p
    if p.proc:
        p.stop()
