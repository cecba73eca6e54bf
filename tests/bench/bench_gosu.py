"""Gosuslugi verification overhead over the HTTP round trip, and 100 checks in flight.

Starts the fake portal (tests/integration/fake_portal.py: loopback HTTPS, a
throw-away CA, the spec's sample answers) in this process and runs bench_gosu
against it:

  overhead: ROUNDS rounds of (a raw libcurl GET of the API URL on a kept-alive
  connection, then one verification through gosu_client on sd-event: classify,
  request, parse, verdict); the per-round difference is what the verifier adds
  to the round trip, in wall time and in CPU time of the client process (the
  work added, not inflated by other processes preempting it on a busy machine).
  The portal's own time per request (measured inside the portal) is printed for
  scale. Target: overhead p99 <= 5 ms.

  load: 100 checks in flight against a portal that answers after 3 s, started
  20 ms apart (as scans arrive) and all at once (a burst of 100 TLS handshakes
  on the loop); the worst lateness of a 10 ms timer on the same loop.

Usage: bench_gosu.py BUILD_DIR [ROUNDS]
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from fake_portal import (UUID_VALID, FakePortal, answer_json, api_status, flat_v3,  # noqa: E402
                         make_pki, qr_status)

build = Path(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2000


def pct(values, q):
    v = sorted(values)
    return v[max(0, -(-len(v) * q // 100) - 1)]


pki = make_pki(Path(tempfile.mkdtemp(prefix="ts-bench-gosu-")))
portal = FakePortal(pki).serve_samples().start()
ca = str(pki / "ca.crt")
try:
    out = subprocess.run([str(build / "bench_gosu"), "overhead", portal.base_url, ca,
                          qr_status(UUID_VALID), str(rounds)],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    # Requests of the verifier (by User-Agent), without the 20 warm-up rounds.
    ours = [q["server_s"] * 1000 for q in portal.requests
            if q["headers"].get("User-Agent", "").startswith("turnstiled/")][20:]
    print(f"verification, {r['rounds']} rounds on a kept-alive connection "
          f"({r['failures']} failures):")
    print(f"  raw HTTPS round trip       p50 {r['raw_p50_ms']:.3f} ms  p99 {r['raw_p99_ms']:.3f} ms")
    print(f"  scan -> verdict            p50 {r['verify_p50_ms']:.3f} ms  "
          f"p99 {r['verify_p99_ms']:.3f} ms")
    print(f"  portal's own time          p50 {pct(ours, 50):.3f} ms  p99 {pct(ours, 99):.3f} ms")
    print(f"  overhead (verify - raw)    p50 {r['overhead_p50_ms']:.3f} ms  "
          f"p99 {r['overhead_p99_ms']:.3f} ms   target p99 <= 5 ms: "
          f"{'met' if r['overhead_p99_ms'] <= 5.0 else 'NOT met'}")
    print(f"  overhead in client CPU     p50 {r['overhead_cpu_p50_ms']:.3f} ms  "
          f"p99 {r['overhead_cpu_p99_ms']:.3f} ms")

    slow = "00000000-0000-4000-8000-000000000100"
    portal.route(api_status(slow), answer_json(flat_v3(), delay=3.0))
    for how, ramp in (("started 20 ms apart", ["20"]), ("started at once", [])):
        out = subprocess.run([str(build / "bench_gosu"), "load", portal.base_url, ca,
                              qr_status(slow), "100", "100", *ramp],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        print(f"100 checks {how} (portal answers after 3 s): peak {r['peak_in_flight']} "
              f"in flight, all done in {r['wall_ms']:.0f} ms, {r['verdicts']['valid']} valid, "
              f"worst loop lag {r['max_loop_lag_ms']:.1f} ms")
finally:
    portal.stop()
