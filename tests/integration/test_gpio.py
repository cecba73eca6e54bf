"""The gpio IO backend on the host, where there is no kernel GPIO chip.

These tests prove the backend is compiled in and registered, that its config is
validated, and that a missing chip fails the start cleanly instead of running a
lane with no IO. Line behaviour (safe level in the request, edges, debounce,
active-low lines, the fire loop) is tested on a real chip in test_gpio_vm.py.
"""
import subprocess

import pytest

from conftest import SOURCE, TURNSTILED

MAP = "io.open_a = out:17:low\nio.pass_a = in:22:low:pullup\nio.fire_alarm = in:27\n"


def check(daemon_factory, extra, *args):
    d = daemon_factory(extra=extra)
    return subprocess.run([str(TURNSTILED), *args, "-f", str(d.config), "-D", "lane.main.io=gpio"],
                          capture_output=True, text=True, timeout=10)


def test_gpio_config_with_active_low_and_bias_is_valid(daemon_factory):
    p = check(daemon_factory, "gpio_chip = gpiochip0\ngpio_debounce = 5ms\n" + MAP, "-n")
    assert (p.returncode, p.stdout.strip()) == (0, "configuration OK"), p.stderr


@pytest.mark.parametrize("extra,message", [
    ("io.fire_alarm = in:27\n", "missing key 'io.open_a' (io = gpio)"),
    ("io.open_a = out:17\nio.fire_alarm = in:27\nio.pass_a = count:3\n",
     "count:N is for Modbus boards"),
    ("io.open_a = out:17:pullup\nio.fire_alarm = none\n", "must be none, out:N[:low]"),
    ("gpio_debounce = 1s\n" + MAP, "bad value for gpio_debounce"),
])
def test_gpio_config_errors(daemon_factory, extra, message):
    p = check(daemon_factory, extra, "-n")
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


def test_gpio_lines_by_name_are_valid(daemon_factory):
    p = check(daemon_factory, "io.open_a = out:RELAY_OPEN_A:low\nio.pass_a = in:pass-a.1:pullup\n"
              "io.fire_alarm = in:27\n", "-n")
    assert (p.returncode, p.stdout.strip()) == (0, "configuration OK"), p.stderr


def test_line_names_are_for_gpio_only(daemon_factory):
    d = daemon_factory(extra="io.open_a = out:RELAY_OPEN_A\nio.fire_alarm = none\n")
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(d.config), "-D", "lane.main.io=modbus",
                        "-D", "lane.main.modbus=tcp:127.0.0.1:1502"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "io.open_a: line names, :low, :pullup, :pulldown are for GPIO" in p.stderr, p.stderr


def test_the_raspberry_pi_profile_is_valid():
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(SOURCE / "hw/profiles/gpio-rpi.conf")],
                       capture_output=True, text=True, timeout=10)
    assert (p.returncode, p.stdout.strip()) == (0, "configuration OK"), p.stderr


def test_missing_chip_fails_the_start(daemon_factory):
    p = check(daemon_factory, "gpio_chip = /nonexistent/gpiochip9\n" + MAP, "-d")
    assert p.returncode != 0
    assert "gpio chip /nonexistent/gpiochip9" in p.stderr, p.stderr
