"""Scan-to-verdict latency through a pty, daemon RSS and idle behaviour.

Runs the real turnstiled with a serial scanner on a socat pty pair and a local
membership. Each round writes the code to the pty, polls the control socket
(one persistent connection) until the lane shows the granted state, then walks
a simulated person through so the lane is idle again. Prints p50/p99 latency,
checks/s of whole cycles, RSS, and CPU time and context switches over an idle
interval. Usage: bench_scan.py BUILD_DIR [ROUNDS]
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

build = Path(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
tmp = Path(tempfile.mkdtemp(prefix="ts-bench-", dir=os.environ.get("TS_BENCH_DIR")))
dev, peer = tmp / "scanner", tmp / "peer"
sock_path = tmp / "control.sock"

socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={dev}", f"pty,raw,echo=0,link={peer}"])
while not (dev.exists() and peer.exists()):
    time.sleep(0.01)
(tmp / "t.conf").write_text(f"""
[daemon]
reuse_window = 0ms
[store]
path = {tmp}/journal.db
[control]
socket = {sock_path}
[lane.main]
io = sim
scanner = serial
scanner_device = {dev}
duplicate_window = 0ms
""")
(tmp / "p.csv").write_text("code,kind,holder,valid_from,valid_until\n"
                           "BENCH-1,membership,Bench,2020-01-01,2099-12-31\n")
daemon = subprocess.Popen([str(build / "turnstiled"), "-d", "-f", str(tmp / "t.conf")],
                          stderr=subprocess.DEVNULL)
while not sock_path.exists():
    time.sleep(0.01)
time.sleep(0.2)
subprocess.run([str(build / "turnstilectl"), "-s", str(sock_path), "passes", "import",
                str(tmp / "p.csv")], check=True, stdout=subprocess.DEVNULL)

s = socket.socket(socket.AF_UNIX)
s.connect(str(sock_path))
# Buffered reads: an unbuffered readline() costs one recv() per byte, which would
# make the client, not the daemon, dominate the figures.
replies = s.makefile("rb")


def call(req):
    s.sendall(json.dumps(req).encode() + b"\n")
    return json.loads(replies.readline())


def state():
    return call({"cmd": "status", "lane": "main"})["lanes"][0]["state"]


pty = os.open(peer, os.O_RDWR | os.O_NOCTTY)
lat = []
t_start = time.perf_counter()
for _ in range(rounds):
    t0 = time.perf_counter()
    os.write(pty, b"BENCH-1\r\n")
    while state() != "open":
        pass
    lat.append((time.perf_counter() - t0) * 1000)
    call({"cmd": "sim_set", "lane": "main", "signal": "pass_a", "value": 1})
    call({"cmd": "sim_set", "lane": "main", "signal": "pass_a", "value": 0})
    while state() != "idle":
        pass
elapsed = time.perf_counter() - t_start
lat.sort()


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

print(f"rounds                 {rounds}")
print(f"scan->granted p50      {statistics.median(lat):.3f} ms")
print(f"scan->granted p99      {lat[int(len(lat) * 0.99) - 1]:.3f} ms")
print(f"scan->granted max      {lat[-1]:.3f} ms")
print(f"full cycles/s          {rounds / elapsed:.0f} (scan, grant, pass, gate: 5 journal rows)")
print(f"daemon RSS             {st1['VmRSS']} (peak {st1['VmHWM']}; anonymous {st1['RssAnon']}, "
      f"file-backed library pages {st1['RssFile']})")
print(f"idle 5 s: CPU ticks    {cpu1 - cpu0}, context switches {wakeups}")

os.close(pty)
s.close()
daemon.terminate()
daemon.wait()
socat.terminate()
