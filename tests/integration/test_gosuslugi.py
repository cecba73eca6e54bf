"""The Gosuslugi verifier end to end: the real turnstiled against a fake portal on
loopback HTTPS (fake_portal.py), TLS verification on, the test CA trusted via
gosuslugi.ca_file. Each test says what it proves in its name."""
import json
import sqlite3
import time

import pytest

from conftest import wait_until
from fake_portal import (CK, UNRZ_VALID, UUID_VALID, Answer, FakePortal, answer_json, api_check,
                         api_status, api_vaccine, flat_v3, item, items, make_pki, qr_status,
                         qr_vaccine, qr_verify)

LANES = """
[lane.second]
io = sim
attendant_min = 0ms
denied_time = 500ms

[lane.third]
io = sim
attendant_min = 0ms
denied_time = 500ms
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def portal(pki):
    p = FakePortal(pki).serve_samples().start()
    yield p
    p.stop()


def start(daemon_factory, portal, pki, timeout="2s", extra=""):
    cfg = (LANES + f"\n[gosuslugi]\nbase_url = {portal.base_url}\nca_file = {pki / 'ca.crt'}\n"
           f"connect_timeout = 1s\ntimeout = {timeout}\n{extra}\n")
    return daemon_factory(extra=cfg, denied_time="500ms").start()


def lane(d, name="main"):
    return d.ctl_json("status", name)["lanes"][0]


def wait_verdict(d, name="main", timeout=6.0):
    """The lane's check once the verifier answered (state past verifying)."""
    def done():
        ln = lane(d, name)
        c = ln["check"]
        return ln if c and c.get("verdict") and ln["state"] != "verifying" else None
    return wait_until(done, timeout, f"a verdict on lane {name}")


def edges(d, name="main"):
    return d.ctl_json("sim", "get", name)["edges"]


def journal(d, sql, *args):
    time.sleep(0.2)  # non-grant rows are committed within daemon.flush
    con = sqlite3.connect(d.db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


FORMS = [
    ("A", qr_status(UUID_VALID), api_status(UUID_VALID)),
    ("A_lang", qr_status(UUID_VALID) + "?lang=en", api_status(UUID_VALID)),
    ("B", qr_verify(UNRZ_VALID), api_check(UNRZ_VALID)),
    ("C", qr_vaccine(UUID_VALID), api_vaccine(UUID_VALID)),
]


@pytest.mark.parametrize("form,payload,path", FORMS, ids=[f[0] for f in FORMS])
def test_valid_certificate_awaits_attendant_with_holder_then_confirm_opens(
        daemon_factory, portal, pki, form, payload, path):
    d = start(daemon_factory, portal, pki)
    d.ctl_ok("scan", "main", payload)
    ln = wait_verdict(d)
    c = ln["check"]
    assert ln["state"] == "await_attendant", ln
    assert (c["code_kind"], c["verdict"], c["attendant_required"], c["reuse"]) == \
        ("gosuslugi", "valid", True, False), c
    assert c["holder"] == {"initials": "И. П. С.", "birth_date": "01.02.1980",
                           "doc": "45** ***678"}, c
    assert c["valid_until"] == "31.12.2099", c
    assert edges(d)["open_a"] == 0, "nothing opens before the attendant confirms"
    # The request path is the spec's for this form, on the configured host only.
    assert portal.paths() == [path]
    hdrs = portal.requests[0]["headers"]
    assert hdrs["User-Agent"].startswith("turnstiled/"), hdrs
    assert hdrs["Accept"] == "application/json", hdrs
    d.ctl_ok("confirm", "main", c["request_id"])
    wait_until(lambda: edges(d)["open_a"] == 1, what="open_a pulse after confirm")
    # Privacy: the body (masked fields, QR image) never reaches the log or, by default,
    # the journal; the journal keys on the certificate id, not the link.
    log = d.log.read_text()
    for secret in ("45** ***678", "И*****", "iVBORw0KGgo", "01.02.1980"):
        assert secret not in log, f"{secret!r} leaked into the daemon log"
    rows = journal(d, "SELECT code_hash, detail FROM journal WHERE code_kind='gosuslugi'")
    assert rows and all("45**" not in (r[1] or "") for r in rows), rows
    assert len({r[0] for r in rows if r[0]}) == 1, rows


def test_keep_holder_policy_journals_the_masked_fields(daemon_factory, portal, pki):
    d = start(daemon_factory, portal, pki, extra="keep_holder = yes")
    d.ctl_ok("scan", "main", qr_status(UUID_VALID))
    assert wait_verdict(d)["check"]["verdict"] == "valid"
    rows = journal(d, "SELECT detail FROM journal WHERE step='verdict'")
    detail = json.loads(rows[-1][0])
    assert detail["holder"] == {"initials": "И. П. С.", "birth_date": "01.02.1980",
                                "doc": "45** ***678"}, detail


U2 = "00000000-0000-4000-8000-000000000002"
DENIED = [
    ("expired_flat", answer_json(flat_v3(expired_at="01.12.2021", expired=True)), "expired"),
    ("expired_today_is_expired", answer_json(flat_v3(expired_at=time.strftime("%d.%m.%Y"))),
     "expired"),
    ("not_found_flag", answer_json({"isCertFound": False, "attrs": []}), "not_found"),
    ("not_found_empty_object", answer_json({}), "not_found"),
    ("not_found_http_404", answer_json({}, status=404), "not_found"),
    ("not_found_http_400", answer_json({"error": "bad"}, status=400), "not_found"),
    ("not_found_items_404", answer_json(items({"type": "VACCINE_CERT", "status": "404",
                                               "attrs": [], "order": 0,
                                               "serviceUnavailable": False})), "not_found"),
    ("not_found_items_empty", answer_json(items()), "not_found"),
    ("cancelled", answer_json(items(item("TEMPORARY_CERT", "CANCELED"))), "cancelled"),
    ("invalid_status_0", answer_json(items(item("VACCINE_CERT", "0"))), "invalid"),
]


@pytest.mark.parametrize("name,ans,verdict", DENIED, ids=[x[0] for x in DENIED])
def test_negative_answers_are_denied_with_reason(daemon_factory, portal, pki, name, ans, verdict):
    d = start(daemon_factory, portal, pki)
    portal.route(api_status(U2), ans)
    d.ctl_ok("scan", "main", qr_status(U2))
    ln = wait_verdict(d)
    assert (ln["state"], ln["check"]["verdict"]) == ("denied", verdict), ln
    assert ln["check"]["reason"], ln
    assert edges(d)["open_a"] == 0 and edges(d)["open_b"] == 0
    rows = journal(d, "SELECT value FROM journal WHERE step='verdict'")
    assert rows == [(verdict,)], rows


FORGED = [
    "http://www.gosuslugi.ru/covid-cert/status/" + UUID_VALID,
    "https://www.gosuslugi.ru.evil.example/covid-cert/status/" + UUID_VALID,
    "https://gosuslugi.ru/covid-cert/status/" + UUID_VALID,
    "https://www.gosuslugi.ru:443/covid-cert/status/" + UUID_VALID,
    "https://user@www.gosuslugi.ru/covid-cert/status/" + UUID_VALID,
    "https://www.gosuslugi.ru/covid-cert/status/" + UUID_VALID + "?lang=ru&x=1",
    "https://xn--80ajghhoc2aj1c8b.xn--p1ai/covid-cert/status/" + UUID_VALID,
    f"https://www.gosuslugi.ru/covid-cert/verify/{UNRZ_VALID}?ck={CK}&lang=ru",
]


def test_forged_links_are_refused_without_any_request(daemon_factory, portal, pki):
    d = start(daemon_factory, portal, pki)
    for payload in FORGED:
        d.wait_state("idle")
        d.ctl_ok("scan", "main", payload)
        ln = wait_verdict(d)
        assert (ln["state"], ln["check"]["verdict"]) == ("denied", "forged"), (payload, ln)
        assert "not a Gosuslugi code" in ln["check"]["reason"], ln
    assert portal.paths() == [], "a forged link caused a request to the portal"
    assert edges(d)["open_a"] == 0


MISBEHAVE = [
    ("http_503", answer_json({}, status=503), "503"),
    ("http_429", answer_json({}, status=429), "429"),
    ("http_403", answer_json({}, status=403), "403"),
    ("http_500", answer_json({}, status=500), "500"),
    ("garbage", Answer(200, b"<html>SECRET-GARBAGE-BODY</html>"), ""),
    ("truncated_json", Answer(200, json.dumps(flat_v3()).encode()[:100]), ""),
    ("service_unavailable", answer_json(flat_v3(found=False, unavailable=True)), ""),
    ("huge_body", Answer(200, b'{"x":"' + b"A" * (10 << 20) + b'"}'), "too large"),
    ("huge_body_chunked_like", Answer(200, b" " * (300 << 10) + b"{}"), "too large"),
    ("redirect_other_host", Answer(302, b"", 0, {"Location": "https://evil.example/x"}),
     "redirect"),
    ("slow_past_deadline", answer_json(flat_v3(), delay=3.0), "in time"),
]


@pytest.mark.parametrize("name,ans,why", MISBEHAVE, ids=[x[0] for x in MISBEHAVE])
def test_portal_misbehaviour_is_unavailable_and_never_opens(daemon_factory, portal, pki, name,
                                                           ans, why):
    d = start(daemon_factory, portal, pki, timeout="1s")
    portal.route(api_status(U2), ans)
    d.ctl_ok("scan", "main", qr_status(U2))
    ln = wait_verdict(d)
    assert (ln["state"], ln["check"]["verdict"]) == ("denied", "unavailable"), ln
    assert why in ln["check"]["reason"], ln
    assert edges(d)["open_a"] == 0 and edges(d)["open_b"] == 0
    assert "SECRET-GARBAGE-BODY" not in d.log.read_text()


@pytest.mark.parametrize("cert,why", [("wronghost", "TLS"), ("untrusted", "TLS")])
def test_wrong_portal_certificate_is_unavailable(daemon_factory, pki, cert, why):
    bad = FakePortal(pki, cert=cert).serve_samples().start()
    try:
        d = start(daemon_factory, bad, pki)
        d.ctl_ok("scan", "main", qr_status(UUID_VALID))
        ln = wait_verdict(d)
        assert (ln["state"], ln["check"]["verdict"]) == ("denied", "unavailable"), ln
        assert why in ln["check"]["reason"], ln
        assert bad.paths() == [], "an HTTP request went over an unverified connection"
        assert edges(d)["open_a"] == 0
    finally:
        bad.stop()


def test_portal_down_attendant_admits_only_by_manual_open_with_reason(daemon_factory, portal,
                                                                     pki):
    d = start(daemon_factory, portal, pki)
    portal.route(api_status(U2), answer_json({}, status=503))
    d.ctl_ok("scan", "main", qr_status(U2))
    ln = wait_verdict(d)
    assert ln["check"]["verdict"] == "unavailable"
    code, _, _ = d.ctl("confirm", "main", ln["check"]["request_id"])
    assert edges(d)["open_a"] == 0, "an unavailable check cannot be confirmed open"
    code, _, err = d.ctl("open", "main", "a", "--reason", "")
    assert code != 0
    d.ctl_ok("open", "main", "a", "--reason", "paper certificate, portal down")
    wait_until(lambda: edges(d)["open_a"] == 1, what="manual open pulse")
    rows = journal(d, "SELECT source, detail FROM journal WHERE source='manual'")
    assert any("paper certificate, portal down" in (r[1] or "") for r in rows), rows


def test_same_certificate_again_within_window_is_flagged_reuse(daemon_factory, portal, pki):
    d = start(daemon_factory, portal, pki)
    d.ctl_ok("scan", "main", qr_status(UUID_VALID))
    c = wait_verdict(d)["check"]
    assert c["reuse"] is False
    d.ctl_ok("confirm", "main", c["request_id"])
    d.wait_state("open")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    # The same certificate (other link form with lang, other lane): the id is what counts.
    d.ctl_ok("scan", "second", qr_status(UUID_VALID) + "?lang=ru")
    ln = wait_verdict(d, "second")
    assert (ln["state"], ln["check"]["verdict"], ln["check"]["reuse"]) == \
        ("await_attendant", "valid", True), ln
    # Another certificate is not flagged.
    portal.route(api_status(U2), answer_json(flat_v3()))
    d.ctl_ok("scan", "third", qr_status(U2))
    assert wait_verdict(d, "third")["check"]["reuse"] is False


def test_slow_portal_checks_on_three_lanes_do_not_block_the_loop(daemon_factory, portal, pki):
    d = start(daemon_factory, portal, pki, timeout="5s")
    ids = ["00000000-0000-4000-8000-00000000001%d" % i for i in range(3)]
    for i in ids:
        portal.route(api_status(i), answer_json(flat_v3(), delay=2.0))
    t0 = time.monotonic()
    for name, i in zip(("main", "second", "third"), ids):
        d.ctl_ok("scan", name, qr_status(i))
    wait_until(lambda: len(portal.paths()) == 3, what="3 requests in flight")
    worst = 0.0
    for _ in range(10):
        s = time.monotonic()
        st = d.ctl_json("status")
        worst = max(worst, time.monotonic() - s)
        assert [ln["state"] for ln in st["lanes"]] == ["verifying"] * 3, st
    assert worst < 0.2, f"status took {worst * 1000:.0f} ms while checks were in flight"
    for name in ("main", "second", "third"):
        assert wait_verdict(d, name)["check"]["verdict"] == "valid"
    assert time.monotonic() - t0 < 4.0, "the checks ran one after another, not in parallel"
    print(f"worst status reply with 3 checks in flight: {worst * 1000:.1f} ms")


def test_v4_and_v2_fallback_switches_pick_the_spec_paths(daemon_factory, portal, pki):
    d = start(daemon_factory, portal, pki, extra="check_v4 = yes\nv2_fallback = yes")
    portal.route(api_check(UNRZ_VALID, version=4), answer_json(items(item())))
    d.ctl_ok("scan", "main", qr_verify(UNRZ_VALID))
    assert wait_verdict(d)["check"]["verdict"] == "valid"
    assert portal.paths() == [api_check(UNRZ_VALID, version=4)]
    d.ctl_ok("reject", "main")
    d.wait_state("idle")
    # v3 status does not know U2 (404): the v2 items[] endpoint is asked next.
    portal.route(f"/api/covid-cert/v2/cert/status/{U2}?lang=ru", answer_json(items(item())))
    d.ctl_ok("scan", "main", qr_status(U2))
    assert wait_verdict(d)["check"]["verdict"] == "valid"
    assert portal.paths()[1:] == [api_status(U2), f"/api/covid-cert/v2/cert/status/{U2}?lang=ru"]
