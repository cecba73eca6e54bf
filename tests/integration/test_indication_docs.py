"""The README's indication table (what the attendant is told the lights mean)
matches the indicate.* defaults the daemon really uses (`turnstiled -P`)."""
import re
import subprocess

from conftest import SOURCE, TURNSTILED

SIGNALS = ("green", "red", "yellow", "buzzer")


def seconds_ms(text):
    value, unit = re.fullmatch(r"([\d.]+) (s|ms)", text).groups()
    return round(float(value) * (1000 if unit == "s" else 1))


def duration(ms):
    """As the config prints durations: the largest unit that divides evenly."""
    for unit, size in (("min", 60000), ("s", 1000), ("ms", 1)):
        if ms % size == 0:
            return f"{ms // size}{unit}"


def pattern(cell):
    """A README cell ("off", "on for 300 ms", "blinking 0.25 s for 5 s") as a pattern."""
    m = re.fullmatch(r"(on|off|blinking ([\d.]+ m?s))(?: for ([\d.]+ m?s))?", cell)
    assert m, f"README indication cell not understood: {cell!r}"
    kind, period, limit = m.groups()
    if kind == "off":
        return "off"
    text = "on" if kind == "on" else f"blink/{duration(seconds_ms(period))}"
    return text + (f"/{duration(seconds_ms(limit))}" if limit else "")


def readme_table():
    text = (SOURCE / "README.md").read_text()
    section = text.split("### Indication", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| state"):
            assert cells[1:] == list(SIGNALS), cells
            continue
        if not line.startswith("|") or set(cells[0]) <= set("-"):
            if rows:
                break
            continue
        for state in cells[0].split(", "):
            rows[state] = dict(zip(SIGNALS, map(pattern, cells[1:])))
    return rows


def daemon_defaults():
    out = subprocess.run([str(TURNSTILED), "-P"], capture_output=True, text=True, check=True,
                         timeout=10).stdout
    rows = {}
    for state, value in re.findall(r"^indicate\.(\w+) = (.*)$", out, re.M):
        rows[state] = dict(item.split(":", 1) for item in value.split())
    return rows


def test_readme_indication_table_is_the_daemons_defaults():
    documented, actual = readme_table(), daemon_defaults()
    assert len(actual) == 10, actual
    assert documented == actual
