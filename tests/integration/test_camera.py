"""The camera scanner source fed from files: QR frames -> decoder -> verdict on the lane.

Frames are drawn by tests/bench/make_frames.py (a ticket code as a QR code,
rotated, tilted, blurred and noisy, plus frames without a code) and played by
the daemon's "files" camera source in a loop, through each QR decoder built in
(camera_decoder = zbar, and zxing when built with zxing-cpp).
"""
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import BUILD, PASSES, SOURCE, TURNSTILED, wait_until

MAKE_FRAMES = SOURCE / "tests" / "bench" / "make_frames.py"


def camera_built():
    cache = BUILD / "CMakeCache.txt"
    return cache.exists() and "ZBAR_FOUND:INTERNAL=1" in cache.read_text()


def zxing_built():
    return "ZXING_FOUND:INTERNAL=1" in (BUILD / "CMakeCache.txt").read_text()


pytestmark = pytest.mark.skipif(not camera_built(),
                                reason="turnstiled built without zbar (no camera source)")

DECODERS = ["zbar", "zxing"] if zxing_built() else ["zbar"]


def make_frames(out, payload, codes=3, empty=2, seed=3):
    subprocess.run([sys.executable, str(MAKE_FRAMES), str(out), "--sizes", "640x480",
                    "--codes", str(codes), "--empty", str(empty), "--payload", payload,
                    "--seed", str(seed), "--jobs", "1"], check=True)
    return out


def camera_daemon(daemon_factory, tmp_path, decoder=None, **cfg):
    frames = tmp_path / "frames"
    extra = f"scanner = camera\ncamera_dir = {frames}\ncamera_fps = 20\ncamera_loop = yes"
    if decoder:
        extra += f"\ncamera_decoder = {decoder}"
    d = daemon_factory(extra=extra, **cfg).start()
    assert d.import_passes(PASSES)[0] == 0
    return d, frames


def test_ticket_held_under_the_camera_is_one_scan(daemon_factory, tmp_path):
    staged = make_frames(tmp_path / "staged", "TICKET-1")
    # The camera directory does not exist at start: reported, then retried.
    d, frames = camera_daemon(daemon_factory, tmp_path, duplicate_window="10s",
                              attendant_timeout="10s")
    wait_until(lambda: "unavailable" in d.log.read_text(), what="camera reported missing")
    os.rename(staged, frames)
    check = d.wait_state("await_attendant", timeout=10)["check"]
    assert check["verdict"] == "valid"
    # The code stays in view and loops through the frames for a while: one check only.
    wait_until(lambda: d.log.read_text().count("scan from camera") >= 3, timeout=10,
               what="the same code seen again")
    rows = d.export()
    assert len(rows) == 1, rows
    assert rows[0]["source"] == "camera"
    assert "connected" in d.log.read_text()


@pytest.mark.parametrize("decoder", DECODERS)
def test_membership_code_opens_the_lane(daemon_factory, tmp_path, decoder):
    staged = make_frames(tmp_path / "staged", "GYM-1", codes=2, empty=1, seed=5)
    d, frames = camera_daemon(daemon_factory, tmp_path, decoder)
    os.rename(staged, frames)
    d.wait_state("open", timeout=10)
    assert d.sim()["edges"]["open_a"] >= 1
    rows = d.export()
    assert [(r["source"], r["verdict"]) for r in rows] == [("camera", "valid")], rows


@pytest.mark.parametrize("decoder", DECODERS)
def test_unknown_code_is_denied(daemon_factory, tmp_path, decoder):
    staged = make_frames(tmp_path / "staged", "NOT-A-PASS-7", codes=2, empty=1, seed=11)
    d, frames = camera_daemon(daemon_factory, tmp_path, decoder)
    os.rename(staged, frames)
    wait_until(lambda: d.export(), timeout=10, what="a check from the camera")
    rows = d.export()
    assert [(r["source"], r["verdict"], r["gate"]) for r in rows] == \
        [("camera", "unknown", "none")], rows
    assert d.sim()["edges"]["open_a"] == 0


@pytest.mark.parametrize("decoder", DECODERS)
def test_frames_without_a_code_never_open(daemon_factory, tmp_path, decoder):
    staged = make_frames(tmp_path / "staged", "GYM-1", codes=0, empty=6, seed=9)
    d, frames = camera_daemon(daemon_factory, tmp_path, decoder)
    os.rename(staged, frames)
    wait_until(lambda: "connected" in d.log.read_text(), what="camera up")
    # Six empty frames (stripes, blocks, plain) at 20 fps, several times round.
    time.sleep(1.5)
    assert d.lane()["state"] == "idle"
    assert d.sim()["edges"]["open_a"] == 0
    assert d.export() == []
    shutil.rmtree(frames)


def check_config(path):
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(path)], capture_output=True,
                       text=True, timeout=10)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def test_camera_needs_exactly_one_of_device_and_dir(tmp_path):
    cfg = tmp_path / "t.conf"
    for keys in ("", "camera_device = /dev/video0\ncamera_dir = /tmp\n"):
        cfg.write_text(f"[lane.main]\nio = sim\nscanner = camera\n{keys}")
        code, _, err = check_config(cfg)
        assert code == 1 and err.startswith(f"{cfg}:1: "), err
        assert "exactly one of 'camera_device' and 'camera_dir'" in err, err
    cfg.write_text("[lane.main]\nio = sim\nscanner = camera\ncamera_device = /dev/video0\n"
                   "camera_fps = 30\n")
    assert check_config(cfg) == (0, "configuration OK", "")
    cfg.write_text("[lane.main]\nio = sim\nscanner = camera\ncamera_dir = /tmp\n"
                   "camera_fps = 0\n")
    code, _, err = check_config(cfg)
    assert code == 1 and err.startswith(f"{cfg}:5: "), err


def test_camera_decoder_is_validated(tmp_path):
    cfg = tmp_path / "t.conf"
    base = "[lane.main]\nio = sim\nscanner = camera\ncamera_dir = /tmp\n"
    cfg.write_text(base + "camera_decoder = zbar\n")
    assert check_config(cfg) == (0, "configuration OK", "")
    cfg.write_text(base + "camera_decoder = quirc\n")
    code, _, err = check_config(cfg)
    assert code == 1 and err.startswith(f"{cfg}:5: "), err
    assert "zbar" in err and "zxing" in err, err
    cfg.write_text(base + "camera_decoder = zxing\n")
    if zxing_built():
        assert check_config(cfg) == (0, "configuration OK", "")
    else:
        code, _, err = check_config(cfg)
        assert code == 1 and "built without zxing-cpp" in err, err


def test_default_decoder_is_zxing_when_built():
    # picked by the decode bench (README): zxing-cpp is faster at the same read rate
    p = subprocess.run([str(TURNSTILED), "-P"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    want = "zxing" if zxing_built() else "zbar"
    assert f"\ncamera_decoder = {want}\n" in p.stdout, p.stdout
