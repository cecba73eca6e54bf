"""The camera scanner source fed from files: QR frames -> zbar -> verdict on the lane.

Frames are drawn by tests/bench/make_frames.py (a ticket code as a QR code,
rotated, tilted, blurred and noisy, plus frames without a code) and played by
the daemon's "files" camera source in a loop.
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


pytestmark = pytest.mark.skipif(not camera_built(),
                                reason="turnstiled built without zbar (no camera source)")


def make_frames(out, payload, codes=3, empty=2, seed=3):
    subprocess.run([sys.executable, str(MAKE_FRAMES), str(out), "--sizes", "640x480",
                    "--codes", str(codes), "--empty", str(empty), "--payload", payload,
                    "--seed", str(seed), "--jobs", "1"], check=True)
    return out


def camera_daemon(daemon_factory, tmp_path, **cfg):
    frames = tmp_path / "frames"
    d = daemon_factory(extra=f"scanner = camera\ncamera_dir = {frames}\ncamera_fps = 20\n"
                             "camera_loop = yes", **cfg).start()
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


def test_membership_code_opens_the_lane(daemon_factory, tmp_path):
    staged = make_frames(tmp_path / "staged", "GYM-1", codes=2, empty=1, seed=5)
    d, frames = camera_daemon(daemon_factory, tmp_path)
    os.rename(staged, frames)
    d.wait_state("open", timeout=10)
    assert d.sim()["edges"]["open_a"] >= 1


def test_frames_without_a_code_never_open(daemon_factory, tmp_path):
    staged = make_frames(tmp_path / "staged", "GYM-1", codes=0, empty=6, seed=9)
    d, frames = camera_daemon(daemon_factory, tmp_path)
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
