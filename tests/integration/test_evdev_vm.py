"""The hid scanner and the USB keypad against real kernel input devices: two
uinput keyboards in the QEMU VM of tests/vm (no /dev/uinput on these machines).

One boot (tests/vm/run.sh BUILD evdev) runs tests/vm/guest/evdev.sh: evdev.ko
and uinput.ko loaded, tests/vm/uinput_keys.c types into the devices, turnstiled
opens them with the exclusive grab required (the default). The guest prints one
"ok"/"not ok" line per claim; each claim below is a test of its own, read from
that one console log. Nothing here skips: a missing kernel, QEMU or busybox
fails the rig.
"""
import os
import subprocess

import pytest

from conftest import BUILD, SOURCE

CLAIMS = [
    "uinput keyboards for the scanner and the keypad",
    "turnstiled answers",
    "scanner and keypad grabbed",
    "scanner connected",
    "the scanner is held exclusively: another grab is refused",
    "a typed code reaches the lane",
    "nothing opened before the attendant",
    "keypad Enter held (with repeats) confirms once",
    "the passage completes",
    "the unplug is noticed",
    "a new scanner device",
    "the scanner is reopened",
    "the code after the replug is read whole (no half code before it)",
    "keypad minus rejects",
    "still only the one opening",
    "keypad * is a manual open",
    "back to idle",
    "a code that lost events is discarded, not checked",
    "no check for it",
    "the next code is read whole",
    "turnstiled stops on SIGTERM",
]


@pytest.fixture(scope="module")
def vm():
    p = subprocess.run([str(SOURCE / "tests/vm/run.sh"), str(BUILD), "evdev"],
                       capture_output=True, text=True, timeout=400, env=os.environ.copy())
    return p.returncode, p.stdout.splitlines(), p.stdout[-6000:] + p.stderr[-3000:]


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim(vm, claim):
    _, lines, log = vm
    assert f"ok - {claim}" in lines, f"not shown: {claim}\n{log}"


def test_guest_passed_and_claimed_nothing_else(vm):
    code, lines, log = vm
    assert code == 0, log
    assert not [line for line in lines if line.startswith("not ok")], log
    claimed = [line[len("ok - "):] for line in lines if line.startswith("ok - ")]
    assert claimed == CLAIMS, log
