"""turnstiled -n: configuration checks with exact FILE:LINE messages."""
import subprocess

from conftest import SOURCE, TURNSTILED


def check(path, *extra):
    p = subprocess.run([str(TURNSTILED), "-n", "-f", str(path), *extra],
                       capture_output=True, text=True, timeout=10)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def test_demo_configuration_is_ok():
    assert check(SOURCE / "hw/profiles/sim-demo.conf") == (0, "configuration OK", "")


def test_unknown_key_names_file_and_line(tmp_path):
    cfg = tmp_path / "t.conf"
    cfg.write_text("[lane.main]\nio = sim\npulse_lenght = 200ms\n")
    code, _, err = check(cfg)
    assert code == 1
    assert err.startswith(f"{cfg}:3: "), err
    assert "pulse_lenght" in err, err


def test_bad_value_names_file_and_line(tmp_path):
    cfg = tmp_path / "t.conf"
    cfg.write_text("[lane.main]\nio = sim\n\npulse = 50ms\n")
    code, _, err = check(cfg)
    assert code == 1 and err.startswith(f"{cfg}:4: "), err


def test_lane_missing_io_names_the_section_line(tmp_path):
    cfg = tmp_path / "t.conf"
    cfg.write_text("[store]\npath = /tmp/x.db\n[lane.main]\ncontrol = pulse\n")
    code, _, err = check(cfg)
    assert code == 1 and err.startswith(f"{cfg}:3: ") and "io" in err, err


def test_override_is_validated(tmp_path):
    cfg = tmp_path / "t.conf"
    cfg.write_text("[lane.main]\nio = sim\n")
    code, _, err = check(cfg, "-D", "lane.main.pulse=9s")
    assert code == 1 and err.startswith("-D lane.main.pulse=9s: "), err
    assert check(cfg, "-D", "store.path=/tmp/y.db")[0] == 0


def test_missing_file_is_an_error(tmp_path):
    code, _, err = check(tmp_path / "absent.conf")
    assert code == 1 and "absent.conf" in err, err
