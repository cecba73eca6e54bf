"""What the running daemon keeps in memory: libcurl (and with it OpenSSL, GnuTLS,
Kerberos, LDAP, ...) is loaded only when the first Gosuslugi link is checked
(daemon/curl_lazy.c), and that first check then works like any other, over
loopback HTTPS with TLS verification on. The QR decoders' libraries (libzbar with
X11, xcb, v4l and jpeg; libZXing with libstdc++ through the turnstiled-zxing.so
module) are loaded only by a lane with a camera, and only the engine it is
configured with; one that cannot be loaded stops the daemon at start with the
reason. Each test says what it proves in its name."""
import os
import shutil
import subprocess

import pytest

from conftest import TURNSTILED, Daemon, wait_until
from fake_portal import UUID_VALID, FakePortal, make_pki, qr_status
from test_camera import DECODERS, camera_built, make_frames, zxing_built

HEAVY = ("libcurl", "libssl", "libcrypto", "libgnutls")
ZBAR_LIBS = ("libzbar.", "libX11.", "libxcb.", "libv4l2.", "libv4lconvert.", "libjpeg.")
ZXING_LIBS = ("turnstiled-zxing.", "libZXing.", "libstdc++.")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def portal(pki):
    p = FakePortal(pki).serve_samples().start()
    yield p
    p.stop()


def mapped(d):
    maps = open(f"/proc/{d.proc.pid}/maps").read()
    return sorted({lib for lib in HEAVY if f"/{lib}." in maps})


def test_idle_daemon_maps_no_tls_or_http_library_then_first_portal_check_loads_and_works(
        daemon_factory, portal, pki):
    cfg = (f"\n[gosuslugi]\nbase_url = {portal.base_url}\nca_file = {pki / 'ca.crt'}\n"
           "connect_timeout = 1s\ntimeout = 3s\n")
    d = daemon_factory(extra=cfg).start()
    d.import_passes()
    # A local pass goes the whole cycle without them.
    d.ctl_ok("scan", "main", "TICKET-1")
    wait_until(lambda: d.lane()["state"] != "verifying", what="the local verdict")
    assert mapped(d) == [], mapped(d)
    if d.lane()["state"] == "await_attendant":
        d.ctl_ok("reject", "main")
    d.wait_state("idle", timeout=10)
    d.ctl_ok("scan", "main", qr_status(UUID_VALID))

    def verdict():
        c = d.lane()["check"]
        return c if c and c.get("verdict") and d.lane()["state"] != "verifying" else None

    c = wait_until(verdict, timeout=10, what="the portal's verdict")
    assert (c["code_kind"], c["verdict"]) == ("gosuslugi", "valid"), c
    assert "libcurl" in mapped(d), mapped(d)


def ubsan(pid):
    """UBSan's runtime (sanitizer builds) links libstdc++ itself: there libstdc++
    says nothing about the daemon, and libZXing still does."""
    return "/libubsan." in open(f"/proc/{pid}/maps").read()


def mapped_of(pid, libs):
    maps = open(f"/proc/{pid}/maps").read()
    return sorted(lib for lib in libs if f"/{lib}" in maps and
                  not (lib == "libstdc++." and ubsan(pid)))


camera = pytest.mark.skipif(not camera_built(),
                            reason="turnstiled built without zbar (no camera source)")


def test_idle_daemon_with_a_serial_scanner_maps_no_qr_decoder_library(daemon_factory,
                                                                       pty_pair):
    d = daemon_factory(extra=f"scanner = serial\nscanner_device = {pty_pair.device}\n",
                       attendant_timeout="10s").start()
    d.import_passes()
    pty_pair.write(b"TICKET-1\r\n")
    d.wait_state("await_attendant")
    assert mapped_of(d.proc.pid, ZBAR_LIBS + ZXING_LIBS) == []


@camera
@pytest.mark.parametrize("decoder", DECODERS)
def test_camera_lane_maps_its_decoder_only_and_reads_with_it(daemon_factory, tmp_path, decoder):
    staged = make_frames(tmp_path / "staged", "GYM-1", codes=2, empty=1, seed=5)
    d = daemon_factory(extra=f"scanner = camera\ncamera_dir = {staged}\ncamera_fps = 20\n"
                       f"camera_decoder = {decoder}").start()
    d.import_passes()
    d.wait_state("open", timeout=10)
    mine, other = (ZBAR_LIBS, ZXING_LIBS) if decoder == "zbar" else (ZXING_LIBS, ZBAR_LIBS)
    want = sorted(lib for lib in mine if not (lib == "libstdc++." and ubsan(d.proc.pid)))
    assert mapped_of(d.proc.pid, mine) == want
    assert mapped_of(d.proc.pid, other) == []


def start_camera_daemon_expecting_exit(tmp_path, exe, decoder, env=None):
    """turnstiled (exe) with a camera lane; returns (exit code, log). It must not start."""
    frames = make_frames(tmp_path / "frames", "GYM-1", codes=1, empty=0, seed=5)
    d = Daemon(tmp_path, extra=f"scanner = camera\ncamera_dir = {frames}\n"
               f"camera_decoder = {decoder}")
    p = subprocess.run([str(exe), "-d", "-f", str(d.config)], capture_output=True, text=True,
                       timeout=30, env=env)
    return p.returncode, p.stderr


@camera
@pytest.mark.skipif(not zxing_built(), reason="turnstiled built without zxing-cpp")
def test_missing_zxing_module_stops_the_daemon_at_start_with_the_reason(tmp_path):
    # The daemon moved away from its module: the lane cannot decode, so no start.
    exe = tmp_path / "bin" / "turnstiled"
    exe.parent.mkdir()
    shutil.copy2(TURNSTILED, exe)
    code, log = start_camera_daemon_expecting_exit(tmp_path, exe, "zxing")
    assert code != 0, log
    assert "lane main: camera_decoder = zxing cannot be loaded: " in log, log
    assert f"{exe.parent}/turnstiled-zxing.so" in log, log
    assert not (tmp_path / "control.sock").exists()


@camera
def test_libzbar_without_its_functions_stops_the_daemon_at_start_with_the_reason(tmp_path):
    # A libzbar.so.0 found first on the library path that is not zbar at all.
    fake = tmp_path / "lib"
    fake.mkdir()
    (fake / "empty.c").write_text("int not_zbar(void) { return 0; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(fake / "libzbar.so.0"),
                    str(fake / "empty.c")], check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=str(fake))
    code, log = start_camera_daemon_expecting_exit(tmp_path, TURNSTILED, "zbar", env)
    assert code != 0, log
    assert ("lane main: camera_decoder = zbar cannot be loaded: "
            "libzbar.so.0: no symbol zbar_image_scanner_create") in log, log
    assert not (tmp_path / "control.sock").exists()
