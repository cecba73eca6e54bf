"""What the running daemon keeps in memory: libcurl (and with it OpenSSL, GnuTLS,
Kerberos, LDAP, ...) is loaded only when the first Gosuslugi link is checked
(daemon/curl_lazy.c), and that first check then works like any other, over
loopback HTTPS with TLS verification on. Each test says what it proves in its name."""
import pytest

from conftest import wait_until
from fake_portal import UUID_VALID, FakePortal, make_pki, qr_status

HEAVY = ("libcurl", "libssl", "libcrypto", "libgnutls")


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
