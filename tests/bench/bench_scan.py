"""Scan-to-verdict latency through a pty, daemon RSS and idle behaviour.

Runs the real turnstiled with serial scanners on socat pty pairs and local
memberships. Each round writes a code to a lane's pty, polls the control socket
(one persistent connection per lane) until the lane shows the granted state,
then walks a simulated person through so the lane is idle again. Prints p50/p99
latency, checks/s of whole cycles, the journal's commits per check (the daemon's
own counters), RSS, and CPU time and context switches over an idle interval.

With LANES > 1 every lane runs its rounds at the same time from its own thread,
so grants of different lanes meet in the daemon's loop and share commits (group
commit): checks/s is then the total over all lanes.

Usage: bench_scan.py BUILD_DIR [ROUNDS] [LANES]   (TS_BENCH_DIR: where the journal goes)
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

build = Path(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
nlanes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
tmp = Path(tempfile.mkdtemp(prefix="ts-bench-", dir=os.environ.get("TS_BENCH_DIR") or None))
sock_path = tmp / "control.sock"
names = ["main"] + [f"lane{i}" for i in range(2, nlanes + 1)]

socats, lane_conf = [], ""
for i, name in enumerate(names):
    dev, peer = tmp / f"scanner{i}", tmp / f"peer{i}"
    socats.append(subprocess.Popen(["socat", f"pty,raw,echo=0,link={dev}",
                                    f"pty,raw,echo=0,link={peer}"]))
    while not (dev.exists() and peer.exists()):
        time.sleep(0.01)
    lane_conf += (f"[lane.{name}]\nio = sim\nscanner = serial\nscanner_device = {dev}\n"
                  "duplicate_window = 0ms\n")
(tmp / "t.conf").write_text(f"""
[daemon]
reuse_window = 0ms
[store]
path = {tmp}/journal.db
[control]
socket = {sock_path}
{lane_conf}""")
(tmp / "p.csv").write_text("code,kind,holder,valid_from,valid_until\n" + "".join(
    f"BENCH-{i},membership,Bench,2020-01-01,2099-12-31\n" for i in range(len(names))))
daemon = subprocess.Popen([str(build / "turnstiled"), "-d", "-f", str(tmp / "t.conf")],
                          stderr=subprocess.DEVNULL)
while not sock_path.exists():
    time.sleep(0.01)
time.sleep(0.2)
subprocess.run([str(build / "turnstilectl"), "-s", str(sock_path), "passes", "import",
                str(tmp / "p.csv")], check=True, stdout=subprocess.DEVNULL)


class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(str(sock_path))
        # Buffered reads: an unbuffered readline() costs one recv() per byte, which
        # would make the client, not the daemon, dominate the figures.
        self.replies = self.s.makefile("rb")

    def call(self, req):
        self.s.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(self.replies.readline())

    def state(self, lane):
        return self.call({"cmd": "status", "lane": lane})["lanes"][0]["state"]


def wait_state(c, name, want, after):
    """Polls until the lane is in state want; a scan that never arrives fails the bench."""
    deadline = time.monotonic() + 10
    while c.state(name) != want:
        if time.monotonic() > deadline:
            print(f"bench_scan: lane {name} not {want} 10 s after {after}", file=sys.stderr)
            daemon.terminate()
            for s in socats:
                s.terminate()
            os._exit(1)


def run_lane(i, n, lat):
    name, c = names[i], Client()
    pty = os.open(tmp / f"peer{i}", os.O_RDWR | os.O_NOCTTY)
    code = f"BENCH-{i}\r\n".encode()
    for _ in range(n):
        t0 = time.perf_counter()
        os.write(pty, code)
        wait_state(c, name, "open", "its scan")
        lat.append((time.perf_counter() - t0) * 1000)
        c.call({"cmd": "sim_set", "lane": name, "signal": "pass_a", "value": 1})
        c.call({"cmd": "sim_set", "lane": name, "signal": "pass_a", "value": 0})
        wait_state(c, name, "idle", "the passage")
    os.close(pty)


info = Client()
commits0 = info.call({"cmd": "info"})["journal"]["commits"]
lat = []
per_lane = rounds // len(names)
threads = [threading.Thread(target=run_lane, args=(i, per_lane, lat)) for i in range(len(names))]
t_start = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - t_start
done = per_lane * len(names)
lat.sort()
time.sleep(0.3)  # the last gate rows are committed within daemon.flush
journal = info.call({"cmd": "info"})["journal"]


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def cpu_ticks(pid):
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


time.sleep(1.0)  # let the last flush happen
st0, cpu0 = proc_status(daemon.pid), cpu_ticks(daemon.pid)
time.sleep(5.0)
st1, cpu1 = proc_status(daemon.pid), cpu_ticks(daemon.pid)
wakeups = (int(st1["voluntary_ctxt_switches"]) - int(st0["voluntary_ctxt_switches"]) +
           int(st1["nonvoluntary_ctxt_switches"]) - int(st0["nonvoluntary_ctxt_switches"]))

print(f"lanes                  {len(names)}" +
      (" (rounds at the same time, one client thread each)" if len(names) > 1 else ""))
print(f"rounds                 {done}")
print(f"scan->granted p50      {statistics.median(lat):.3f} ms")
print(f"scan->granted p99      {lat[int(len(lat) * 0.99) - 1]:.3f} ms")
print(f"scan->granted max      {lat[-1]:.3f} ms")
print(f"full cycles/s          {done / elapsed:.0f} (scan, grant, pass, gate: 5 journal rows)")
print(f"journal commits/check  {(journal['commits'] - commits0) / done:.2f} "
      f"(checkpoints: {journal['checkpoints']} on the thread, "
      f"{journal['inline_checkpoints']} inline; WAL peak {journal['wal_peak_pages']} pages)")
print(f"daemon RSS             {st1['VmRSS']} (peak {st1['VmHWM']}; anonymous {st1['RssAnon']}, "
      f"file-backed library pages {st1['RssFile']})")
print(f"idle 5 s: CPU ticks    {cpu1 - cpu0}, context switches {wakeups}")

info.s.close()
daemon.terminate()
daemon.wait()
for s in socats:
    s.terminate()
