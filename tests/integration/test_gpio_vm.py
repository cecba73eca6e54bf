"""The gpio backend against a real kernel GPIO chip: gpio-sim in a QEMU VM.

One boot (tests/vm/run.sh: gpio-sim.ko built out of tree, an initramfs with the
turnstiled and turnstilectl under test, QEMU's TCG) runs every scenario of
tests/vm/guest/gpio.sh in order; the guest prints one "ok"/"not ok" line per
claim and its overall result leaves QEMU through isa-debug-exit. Each claim
below is a test of its own, read from that one console log. A missing kernel,
module source, QEMU or busybox fails the rig: nothing here skips.
"""
import os
import subprocess

import pytest

from conftest import BUILD, SOURCE

CLAIMS = [
    "gpio-sim chip created",
    "turnstiled starts on the gpio backend",
    "outputs at their safe level from the first instant, active-low ones high",
    "no pulse before the attendant confirms",
    "the confirm key (active low) opens: open_a reads 1 on the sim line",
    "the pulse ends: open_a back to 0",
    "exactly one pulse, of about the configured width",
    "the pass ends the cycle",
    "the export says the confirmed check passed",
    "the reject key (active low) denies: the export says rejected",
    "open_a never driven for the rejected check",
    "the glitch's edges reached the daemon",
    "a glitch shorter than gpio_debounce is not a fire alarm",
    "no output moved on the glitch",
    "the fire loop opened: emergency",
    "emergency: open_a high",
    "emergency: open_b (active low) low",
    "emergency refuses other commands and stays",
    "the loop closed again: idle",
    "open_b back to its safe level (high)",
    "the lane is in emergency from its first answer",
    "the open loop is known before turnstiled reports ready",
    "turnstiled stops cleanly",
    "every output driven to its safe level at stop",
    "an unknown line name fails the start, naming the line",
]


@pytest.fixture(scope="module")
def vm():
    p = subprocess.run([str(SOURCE / "tests/vm/run.sh"), str(BUILD), "gpio"],
                       capture_output=True, text=True, timeout=600, env=os.environ.copy())
    lines = p.stdout.splitlines()
    return p.returncode, lines, p.stdout[-6000:] + p.stderr[-3000:]


def test_the_guest_reports_success_through_qemus_exit_status(vm):
    code, lines, log = vm
    assert code == 0, log
    assert "vm: gpio passed" in lines, log
    assert not [line for line in lines if line.startswith("not ok")], log


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim(vm, claim):
    code, lines, log = vm
    assert f"ok - {claim}" in lines, f"no 'ok - {claim}' on the console:\n{log}"
