"""The attendant's console as a person uses it: tmux runs `turnstilectl console`,
send-keys presses keys, capture-pane reads the screen (80x24, UTF-8).

Every test saves the screens it looked at under the pytest tmp dir and, to keep
them after the run, under $TS_BUILD_DIR/console-screens/ (TEST-NAME-LABEL.txt),
and prints their paths (run pytest with -s to see them); a screen that did not
show what a test waited for is saved and printed in the failure.
"""
import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, TURNSTILECTL, wait_until

TMUX = shutil.which("tmux")
UTF8 = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


class Console:
    """One `turnstilectl console` in its own tmux server (socket in tmp)."""

    def __init__(self, daemon, name, lang=None, lane="main", poll=None, env_lang=None,
                 size=(80, 24)):
        assert TMUX, "tmux is required (scripts/deps.sh installs it)"
        self.daemon = daemon
        self.name = name
        self.tmux_socket = daemon.dir / f"tmux-{name}.sock"
        self.shots = 0
        args = [str(TURNSTILECTL), "-s", str(daemon.socket), "console"]
        if lang:
            args += ["--lang", lang]
        if poll:
            args += ["--poll", str(poll)]
        if lane:
            args.append(lane)
        env = ["env", "TERM=xterm-256color", "LC_ALL=", "LC_MESSAGES=",
               f"LANG={env_lang or 'C.UTF-8'}"]
        self.tmux("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                  *env, *args)
        self.tmux("set-option", "-t", name, "remain-on-exit", "on")

    def tmux(self, *args, check=True):
        return subprocess.run([TMUX, "-u", "-S", str(self.tmux_socket), *args], env=UTF8,
                              capture_output=True, text=True, check=check, timeout=10)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, *texts, timeout=5.0):
        try:
            return wait_until(lambda: all(t in (s := self.screen()) for t in texts) and s,
                              timeout, f"{texts} on the screen")
        except AssertionError:
            path = self.save("timeout")
            raise AssertionError(f"{texts} not on the screen (saved {path}):\n{self.screen()}")

    def save(self, label):
        self.shots += 1
        path = self.daemon.dir / f"screen-{self.name}-{self.shots:02d}-{label}.txt"
        text = self.screen()
        path.write_text(text)
        test = os.environ.get("PYTEST_CURRENT_TEST", "console").split("::")[-1].split(" ")[0]
        kept = BUILD / "console-screens" / f"{test}-{self.name}-{self.shots:02d}-{label}.txt"
        kept.parent.mkdir(exist_ok=True)
        kept.write_text(text)
        print(f"console screen saved: {path} and {kept}")
        return path

    def dead(self):
        out = self.tmux("display-message", "-p", "-t", self.name, "#{pane_dead}",
                        check=False).stdout.strip()
        return out == "1"

    def close(self):
        self.tmux("kill-server", check=False)


@pytest.fixture
def consoles():
    started = []

    def make(daemon, name, **kw):
        c = Console(daemon, name, **kw)
        started.append(c)
        return c

    yield make
    for c in started:
        c.close()


@pytest.fixture
def slow_daemon(daemon_factory):
    """Attendant timeout long enough for a person, denied shown long enough to read."""
    d = daemon_factory(attendant_timeout="60s").start("-D", "lane.main.denied_time=5s")
    code, _, err = d.import_passes()
    assert code == 0, err
    return d


def test_valid_ticket_shows_holder_fields_in_russian_and_english_and_c_confirms(
        slow_daemon, consoles):
    d = slow_daemon
    ru = consoles(d, "ru", lang="ru")
    en = consoles(d, "en", lang="en")
    ru.wait_for("Пульт контролёра", "Посетителя нет", "Связь есть")
    en.wait_for("Turnstile attendant", "No visitor waiting", "Connected")

    d.ctl_ok("scan", "main", "TICKET-1")
    lane = d.wait_state("await_attendant")
    rid = lane["check"]["request_id"]
    ru.wait_for("ДЕЙСТВИТЕЛЕН", "Сверьте с паспортом", rid)
    screen = ru.wait_for("Владелец:", "Дата рождения:", "Паспорт:", "Пропуск:", "билет",
                         "Действует до:", "Осталось секунд:", "ЖДЁТ РЕШЕНИЯ", "обычный")
    assert lane["check"]["valid_until"] in screen, screen
    ru.save("ru-valid-ticket")
    screen = en.wait_for("VALID", "Compare with the passport", "Holder:", "Date of birth:",
                         "Passport:", "Pass:", "ticket", "Valid until:", "Seconds left:",
                         "WAITING FOR YOU", rid)
    en.save("en-valid-ticket")
    assert d.sim()["edges"]["open_a"] == 0, "nothing opens before the attendant decides"

    ru.keys("c")
    ru.wait_for("Подтверждено")
    wait_until(lambda: d.sim()["edges"]["open_a"] == 1, what="the lane to open once")
    ru.save("ru-confirmed")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    rows = d.export()
    assert rows[-1]["attendant"] == "confirmed" and rows[-1]["gate"] == "passed", rows


def test_backspace_rejects_and_the_lane_records_it(slow_daemon, consoles):
    d = slow_daemon
    en = consoles(d, "en", lang="en")
    d.ctl_ok("scan", "main", "TICKET-2")
    rid = d.wait_state("await_attendant")["check"]["request_id"]
    en.wait_for("VALID", rid)
    en.keys("BSpace")
    en.wait_for("Rejected")
    en.save("en-rejected")
    assert d.lane()["state"] in ("denied", "idle")
    rows = d.export()
    assert rows[-1]["attendant"] == "rejected" and rows[-1]["gate"] == "none", rows
    assert d.sim()["edges"]["open_a"] == 0


def test_unknown_code_is_shown_denied_in_both_languages(slow_daemon, consoles):
    d = slow_daemon
    ru = consoles(d, "ru", env_lang="ru_RU.UTF-8")  # language from the locale
    en = consoles(d, "en", env_lang="en_US.UTF-8")
    d.ctl_ok("scan", "main", "https://evil.example/covid-cert/verify/1234")
    lane = d.wait_state("denied")
    verdict = lane["check"]["verdict"]
    assert verdict != "valid", lane
    words = {"unknown": ("НЕИЗВЕСТНЫЙ КОД", "UNKNOWN CODE"), "forged": ("ПОДДЕЛКА", "FORGED"),
             "not_found": ("НЕ НАЙДЕН", "NOT FOUND")}[verdict]
    ru.wait_for(words[0], "Не пропускать", "отказ")
    ru.save("ru-denied")
    en.wait_for(words[1], "Do not let this visitor in", "denied")
    en.save("en-denied")
    # Nothing to decide: a confirm key press says so and opens nothing.
    d.wait_state("denied")
    en.keys("c")
    en.wait_for("Nothing is waiting for a decision")
    assert d.sim()["edges"]["open_a"] == 0


def test_emergency_is_on_the_status_line_in_both_languages(slow_daemon, consoles):
    d = slow_daemon
    ru = consoles(d, "ru", lang="ru")
    en = consoles(d, "en", lang="en")
    d.ctl_ok("sim", "set", "main", "fire_alarm", "0")
    d.wait_state("emergency")
    ru.wait_for("ПОЖАРНАЯ ТРЕВОГА: оба направления открыты", "ТРЕВОГА")
    ru.save("ru-emergency")
    en.wait_for("EMERGENCY: fire alarm, both directions are open")
    en.save("en-emergency")
    d.ctl_ok("sim", "set", "main", "fire_alarm", "1")
    ru.wait_for("Связь есть")


def test_a_late_key_names_the_old_check_and_is_refused(slow_daemon, consoles):
    """The console polls only every 8 s here, so it still shows check A when
    the lane has moved on to check B; c sends A's id and the daemon refuses."""
    d = slow_daemon
    d.ctl_ok("scan", "main", "TICKET-1")
    rid_a = d.wait_state("await_attendant")["check"]["request_id"]
    ru = consoles(d, "ru", lang="ru", poll=8000)  # its first poll shows check A
    ru.wait_for(rid_a)
    d.ctl_ok("reject", "main", rid_a)
    d.wait_state("idle", timeout=10)
    d.ctl_ok("scan", "main", "TICKET-2")
    rid_b = d.wait_state("await_attendant")["check"]["request_id"]
    assert rid_b != rid_a
    assert rid_a in ru.screen(), "the console must still show the old check"
    ru.keys("c")
    ru.wait_for("НЕ ПРИНЯТО: эта проверка уже неактуальна", rid_b)
    ru.save("ru-stale-refused")
    lane = d.lane()
    assert lane["state"] == "await_attendant" and lane["check"]["request_id"] == rid_b, lane
    assert d.sim()["edges"]["open_a"] == 0


def test_console_reconnects_after_a_daemon_restart(slow_daemon, consoles):
    d = slow_daemon
    en = consoles(d, "en", lang="en")
    en.wait_for("Connected", "waiting for a code")
    d.stop()
    en.wait_for("DAEMON NOT REACHABLE")
    en.save("en-daemon-gone")
    d.start("-D", "lane.main.denied_time=5s")
    en.wait_for("Connection restored", "Connected", "waiting for a code")
    en.save("en-reconnected")
    d.ctl_ok("scan", "main", "TICKET-2")
    en.wait_for("VALID")


def test_manual_open_with_reason_mode_change_and_quit(slow_daemon, consoles):
    d = slow_daemon
    ru = consoles(d, "ru", lang="ru")
    ru.wait_for("Посетителя нет")
    ru.keys("o")
    ru.wait_for("Куда открыть?")
    ru.keys("a")
    ru.wait_for("Причина")
    ru.keys("Enter")  # an empty reason is refused
    ru.wait_for("Нужно указать причину")
    assert d.sim()["edges"]["open_a"] == 0
    ru.keys("o", "a")
    ru.keys("-l", "ребёнок с мамой")
    ru.wait_for("ребёнок с мамой")
    ru.keys("Enter")
    ru.wait_for("Открыто вручную")
    wait_until(lambda: d.sim()["edges"]["open_a"] == 1, what="the manual open")
    d.wait_state("idle", timeout=10)
    ru.keys("m")
    ru.wait_for("Режим: 1 обычный")
    ru.keys("5")
    ru.wait_for("Режим изменён", "ПРОХОД ЗАКРЫТ")
    assert d.lane()["mode"] == "locked"
    ru.save("ru-locked")
    ru.keys("q")
    wait_until(ru.dead, what="the console to quit on q")


def test_stop_key_blocks_the_lane_at_once_and_releases_it(slow_daemon, consoles):
    d = slow_daemon
    ru = consoles(d, "ru", lang="ru")
    d.ctl_ok("scan", "main", "TICKET-1")
    ru.wait_for("ДЕЙСТВИТЕЛЕН")
    ru.keys("s")  # the check in flight ends: no confirm after a stop
    ru.wait_for("Стоп: никто не пройдёт", "СТОП: проход заблокирован")
    lane = d.lane()
    assert lane["stop"] is True and lane["state"] == "blocked" and lane["check"] is None, lane
    ru.save("ru-stopped")
    ru.keys("c")
    assert d.sim()["edges"]["open_a"] == 0
    ru.keys("s")
    ru.wait_for("Стоп снят", "Посетителя нет")
    d.wait_state("idle")
    assert d.lane()["stop"] is False


def test_large_terminal(slow_daemon, consoles):
    d = slow_daemon
    big = consoles(d, "big", lang="en", size=(160, 50))
    d.ctl_ok("scan", "main", "TICKET-1")
    big.wait_for("VALID", "Seconds left:")
    big.save("en-160x50")


# ---- Gosuslugi certificates, against the fake portal (fake_portal.py) ----

U_DOWN = "00000000-0000-4000-8000-000000000002"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from fake_portal import make_pki
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def portal_daemon(daemon_factory, pki):
    from fake_portal import FakePortal
    portal = FakePortal(pki).serve_samples().start()
    cfg = (f"\n[gosuslugi]\nbase_url = {portal.base_url}\nca_file = {pki / 'ca.crt'}\n"
           "connect_timeout = 1s\ntimeout = 2s\n")
    d = daemon_factory(extra=cfg, attendant_timeout="60s").start(
        "-D", "lane.main.denied_time=5s")
    yield d, portal
    d.stop()
    portal.stop()


def test_valid_certificate_shows_holder_in_russian_and_english(portal_daemon, consoles):
    from fake_portal import UUID_VALID, qr_status
    d, _ = portal_daemon
    ru = consoles(d, "ru", lang="ru")
    en = consoles(d, "en", lang="en")
    d.ctl_ok("scan", "main", qr_status(UUID_VALID))
    c = d.wait_state("await_attendant")["check"]
    assert c["code_kind"] == "gosuslugi", c
    ru.wait_for("ДЕЙСТВИТЕЛЕН", "И. П. С.", "01.02.1980", "45** ***678", "сертификат Госуслуг",
                "31.12.2099", c["request_id"])
    ru.save("ru-valid-certificate")
    en.wait_for("VALID", "И. П. С.", "01.02.1980", "45** ***678", "Gosuslugi certificate",
                "31.12.2099")
    en.save("en-valid-certificate")
    en.keys("Enter")
    en.wait_for("Confirmed")
    wait_until(lambda: d.sim()["edges"]["open_a"] == 1, what="open after Enter")


def test_forged_link_and_unreachable_portal_in_russian_and_english(portal_daemon, consoles):
    from fake_portal import UUID_VALID, answer_json, api_status, qr_status
    d, portal = portal_daemon
    ru = consoles(d, "ru", lang="ru")
    en = consoles(d, "en", lang="en")
    d.ctl_ok("scan", "main", "https://www.gosuslugi.ru.evil.example/covid-cert/status/"
             + UUID_VALID)
    assert d.wait_state("denied")["check"]["verdict"] == "forged"
    ru.wait_for("ПОДДЕЛКА", "Не пропускать")
    ru.save("ru-forged")
    en.wait_for("FORGED", "Do not let this visitor in")
    en.save("en-forged")
    d.wait_state("idle", timeout=10)

    portal.route(api_status(U_DOWN), answer_json({}, status=503))
    d.ctl_ok("scan", "main", qr_status(U_DOWN))
    wait_until(lambda: (d.lane()["check"] or {}).get("verdict") == "unavailable",
               what="verdict unavailable")
    ru.wait_for("ПРОВЕРКА НЕВОЗМОЖНА", "ГОСУСЛУГИ НЕДОСТУПНЫ")
    ru.save("ru-portal-unreachable")
    en.wait_for("CANNOT VERIFY", "PORTAL UNREACHABLE")
    en.save("en-portal-unreachable")
    assert d.sim()["edges"]["open_a"] == 0


def test_portal_unreachable_stays_on_the_status_line_until_the_portal_answers(portal_daemon,
                                                                              consoles):
    """The status line follows the daemon's "portal" status, not the check on
    screen: it keeps warning after the failed check is gone, and clears when
    the portal answers again."""
    from fake_portal import UUID_VALID, answer_json, api_status, qr_status
    d, portal = portal_daemon
    en = consoles(d, "en", lang="en")
    assert d.ctl_json("status")["portal"] == {"state": "unknown"}
    portal.route(api_status(U_DOWN), answer_json({}, status=503))
    d.ctl_ok("scan", "main", qr_status(U_DOWN))
    d.wait_state("denied")
    d.wait_state("idle", timeout=10)
    status = d.ctl_json("status")["portal"]
    assert status["state"] == "unreachable" and status["reason"], status
    assert f"Gosuslugi portal unreachable: {status['reason']}" in d.ctl_ok("status")
    en.wait_for("PORTAL UNREACHABLE", "No visitor waiting")
    en.save("en-portal-unreachable-idle")
    d.ctl_ok("scan", "main", qr_status(UUID_VALID))
    d.wait_state("await_attendant")
    assert d.ctl_json("status")["portal"]["state"] == "ok"
    assert "portal" not in d.ctl_ok("status")
    en.wait_for("Connected", "VALID")


def test_io_fault_on_the_status_line_in_both_languages(daemon_factory, consoles):
    """A Modbus board that cannot be reached: the lane is io_fault from the start."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nobody listens there
    extra = (f"modbus = tcp:127.0.0.1:{port}\nmodbus_timeout = 100ms\n"
             "io.open_a = out:0\nio.fire_alarm = in:2\n")
    d = daemon_factory(extra=extra).start("-D", "lane.main.io=modbus")
    d.wait_state("io_fault")
    ru = consoles(d, "ru", lang="ru")
    en = consoles(d, "en", lang="en")
    ru.wait_for("НЕИСПРАВНОСТЬ: турникет не отвечает, ничего не откроется")
    ru.save("ru-io-fault")
    en.wait_for("IO FAULT: the turnstile does not answer, nothing opens")
    en.save("en-io-fault")


def test_resizing_the_terminal_repaints_the_whole_screen(slow_daemon, consoles):
    """A terminal that shrinks keeps its bottom rows and drops the top ones;
    curses must repaint every row, not only what it thinks changed."""
    d = slow_daemon
    en = consoles(d, "en", lang="en")
    d.ctl_ok("scan", "main", "TICKET-1")
    rid = d.wait_state("await_attendant")["check"]["request_id"]
    en.wait_for("Turnstile attendant", "VALID", rid)
    for rows in (40, 24, 30, 24):
        en.tmux("resize-window", "-t", en.name, "-x", "80", "-y", str(rows))
        en.wait_for("Turnstile attendant", "State: WAITING FOR YOU", "VALID", rid,
                    "c/Enter: let in")
    lines = en.screen().splitlines()
    assert lines[0].startswith(" Turnstile attendant"), lines
    en.save("en-after-resizes")


def test_ctrl_l_repaints_a_screen_spoiled_by_stray_output(slow_daemon, consoles):
    """Something else writes on the attendant's terminal (a kernel message on a
    text console): curses does not know, so only Ctrl-L brings the view back."""
    d = slow_daemon
    en = consoles(d, "en", lang="en")
    d.ctl_ok("scan", "main", "TICKET-1")
    rid = d.wait_state("await_attendant")["check"]["request_id"]
    en.wait_for("Turnstile attendant", "VALID", rid)
    tty = en.tmux("display-message", "-p", "-t", en.name, "#{pane_tty}").stdout.strip()
    with open(tty, "w") as t:
        t.write("\x1b[H\x1b[2J[12345.678] usb 1-1: USB disconnect, device number 3\r\n")
    en.wait_for("USB disconnect")
    time.sleep(1.5)  # the view redraws what changed (the clock), not the rest
    spoiled = en.screen()
    assert "Turnstile attendant" not in spoiled and rid not in spoiled, spoiled
    en.save("en-spoiled")
    en.keys("C-l")
    screen = en.wait_for("Turnstile attendant", "VALID", rid, "c/Enter: let in")
    assert "USB disconnect" not in screen, screen
    en.save("en-repainted")
