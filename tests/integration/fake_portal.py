"""A scriptable fake of the Gosuslugi certificate API over HTTPS on loopback.

TLS stays on exactly as in production: `make_pki()` creates a throw-away CA and
server certificates with the openssl CLI at test time (test-rigs.md "HTTPS on
loopback"); the daemon trusts the CA through gosuslugi.ca_file. A portal serves
scripted answers per request path (`route()`), can misbehave on purpose (slow,
any status, garbage, huge body with or without a length, truncated transfer,
hang-up, redirect, wrong or untrusted certificate), and records every request it
received (`requests`, with the portal's own time per answer) so that tests can
prove a forged link never caused one.

Run as a program it serves the demo's sample certificates (`DEMO`: the spec's
valid ones for each link form, an expired, a not found, a cancelled one, a
portal outage, and a forged link that must cause no request):
    /usr/bin/python3 tests/integration/fake_portal.py DIR [PORT]
keeps its throw-away CA in DIR, prints the base URL and the CA file to put into
[gosuslugi], then one line per sample, "scan NAME PAYLOAD", and writes
"NAME<tab>PAYLOAD" lines to DIR/samples.tsv.
"""
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Sample ids (made-up data, spec section 8) and the API path each QR form asks.
UUID_VALID = "00000000-0000-4000-8000-000000000001"
UNRZ_VALID = "9000000000000001"
CK = "0123456789abcdef0123456789abcdef"


def qr_status(uuid):
    return f"https://www.gosuslugi.ru/covid-cert/status/{uuid}"


def api_status(uuid):
    return f"/api/covid-cert-checker/v3/cert/status/{uuid}"


def api_status_v2(uuid):
    return f"/api/covid-cert/v2/cert/status/{uuid}?lang=ru"


def qr_verify(unrz, ck=CK):
    return f"https://www.gosuslugi.ru/covid-cert/verify/{unrz}?lang=ru&ck={ck}"


def api_check(unrz, ck=CK, version=3):
    return f"/api/covid-cert/v{version}/cert/check/{unrz}?lang=ru&ck={ck}"


def qr_vaccine(uuid):
    return f"https://www.gosuslugi.ru/vaccine/cert/verify/{uuid}"


def api_vaccine(uuid):
    return f"/api/vaccine/v1/cert/verify/{uuid}"


FIO = {"type": "fio", "title": "ФИО", "entitle": "Full name",
       "value": "И***** П*** С********", "envalue": "I***** P*** S*********", "order": 1}
BIRTH = {"type": "birthDate", "title": "Дата рождения", "entitle": "Date of birth",
         "value": "01.02.1980", "envalue": "01.02.1980", "order": 2}
PASSPORT = {"type": "passport", "title": "Паспорт", "entitle": "National passport",
            "value": "45** ***678", "envalue": "45** ***678", "order": 3}


def flat_v3(expired_at="31.12.2099", found=True, expired=False, unavailable=False):
    return {"certId": "1000000000000001", "title": "Сертификат COVID-19",
            "entitle": "COVID-19 certificate", "validFrom": "01.01.2022",
            "expiredAt": expired_at, "isExpired": expired, "isBeforeValidFrom": False,
            "isCertFound": found, "serviceUnavailable": unavailable,
            "attrs": [FIO, BIRTH, PASSPORT]}


def item(type_="VACCINE_CERT", status="1", expired_at="31.12.2099", attrs=None):
    return {"type": type_, "unrz": "000000000000001", "unrzFull": UNRZ_VALID,
            "attrs": attrs if attrs is not None else [PASSPORT, FIO, BIRTH],
            "title": "Сертификат вакцинации от COVID-19",
            "entitle": "COVID-19 vaccination certificate", "qr": "iVBORw0KGgo" * 400,
            "status": status, "order": 0, "expiredAt": expired_at,
            "serviceUnavailable": False}


def items(*its):
    return {"items": list(its), "hasNext": False}


def v1(status="1"):
    return {"unrz": UNRZ_VALID, "fio": "И***** П*** С********",
            "enFio": "I***** P*** S*********", "birthdate": "01.02.1980",
            "doc": "45** ***678", "enDoc": "6* ****597", "expiredAt": "31.12.2099",
            "status": status, "qr": "iVBORw0KGgo"}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _cert(d: Path, name, ca, san):
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
             "-out", f"{name}.crt", cwd=d)


def make_pki(d: Path):
    """ca.crt (trusted by the daemon); server (127.0.0.1, localhost) and wronghost
    (wrong.example) signed by it; untrusted signed by another CA."""
    d.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "otherca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                 "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN=turnstiled test {ca}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _cert(d, "server", "ca", "IP:127.0.0.1,DNS:localhost")
    _cert(d, "wronghost", "ca", "DNS:wrong.example")
    _cert(d, "untrusted", "otherca", "IP:127.0.0.1,DNS:localhost")
    return d


@dataclass
class Answer:
    """One scripted answer. mode misbehaves at the transport level: "stream" sends
    the body without Content-Length and closes (only the client's own cap stops a
    huge one), "short" promises twice the body's length and closes after it (a
    truncated transfer), "hangup" closes without answering at all."""
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    mode: str = ""


def answer_json(obj, status=200, delay=0.0):
    return Answer(status, json.dumps(obj, ensure_ascii=False).encode(), delay,
                  {"Content-Type": "application/json; charset=utf-8"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        portal = self.server.portal
        t0 = time.monotonic()
        rec = {"path": self.path, "headers": dict(self.headers), "peer": self.client_address}
        with portal.lock:
            portal.requests.append(rec)
            ans = portal.routes.get(self.path, portal.default)
        if ans.delay:
            time.sleep(ans.delay)
        try:
            self._answer(ans)
        except (ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True  # the client gave up (deadline, body cap)
        # The portal's own share of the round trip, for the benchmark.
        rec["server_s"] = time.monotonic() - t0 - ans.delay

    def _answer(self, ans):
        if ans.mode == "hangup":
            self.close_connection = True
            return
        self.send_response(ans.status)
        for k, v in ans.headers.items():
            self.send_header(k, v)
        if ans.mode == "stream":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            length = len(ans.body) * (2 if ans.mode == "short" else 1)
            self.send_header("Content-Length", str(length))
            if ans.mode == "short":
                self.close_connection = True
        self.end_headers()
        for i in range(0, len(ans.body), 65536):
            self.wfile.write(ans.body[i:i + 65536])


class _Server(ThreadingHTTPServer):
    """TLS handshakes run in each connection's thread, not in accept(), and the
    listen backlog is deep: a hundred clients may connect at once."""
    request_queue_size = 256
    daemon_threads = True

    def finish_request(self, request, client_address):
        # As production servers do: with Nagle the body waits behind the headers for
        # the client's delayed ACK, 40 ms per answer, which would swamp the benchmark.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refuses our certificate: what some tests want
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        pass


class FakePortal:
    def __init__(self, pki: Path, cert="server", port=0):
        self.lock = threading.Lock()
        self.requests = []
        self.routes = {}
        self.default = answer_json({}, status=404)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki / f"{cert}.crt", pki / f"{cert}.key")
        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.httpd.ssl_context = ctx
        self.httpd.portal = self
        self.port = self.httpd.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, path, ans):
        with self.lock:
            self.routes[path] = ans

    def paths(self):
        with self.lock:
            return [r["path"] for r in self.requests]

    def serve_samples(self):
        """The spec's sample answers, one per QR form and verdict (also the demo's)."""
        self.route(api_status(UUID_VALID), answer_json(flat_v3()))
        self.route(api_check(UNRZ_VALID), answer_json(items(item())))
        self.route(api_vaccine(UUID_VALID), answer_json(v1()))
        return self

    def serve_demo(self):
        self.serve_samples()
        for _, _, path, ans in DEMO:
            if path:
                self.route(path, ans)
        return self


UNRZ_EXPIRED, UNRZ_CANCELLED = "8000000000000002", "7000000000000004"
UUID_NOT_FOUND = "00000000-0000-4000-8000-000000000003"
UUID_OUTAGE = "00000000-0000-4000-8000-000000000005"
RECOVERY_ATTRS = [
    {"type": "date", "title": "Дата выздоровления", "entitle": "Recovery date",
     "value": "01.06.2021", "envalue": "01.06.2021", "order": 1},
    {"type": "date", "title": "Действует до", "entitle": "Valid until",
     "value": "01.12.2021", "envalue": "01.12.2021", "order": 2},
    dict(FIO, order=3, envalue="I***** P***"), dict(PASSPORT, order=4), dict(BIRTH, order=6)]
# (name, payload, API path or None, answer): what the demo offers to scan.
DEMO = [
    ("valid-status", qr_status(UUID_VALID), None, None),
    ("valid-verify", qr_verify(UNRZ_VALID), None, None),
    ("valid-vaccine", qr_vaccine(UUID_VALID), None, None),
    ("expired", qr_verify(UNRZ_EXPIRED), api_check(UNRZ_EXPIRED),
     answer_json(items(dict(item("ILLNESS_FACT", "3", "01.12.2021", RECOVERY_ATTRS),
                            unrzFull=UNRZ_EXPIRED,
                            title="Сведения о перенесенном заболевании COVID-19")))),
    ("not-found", qr_status(UUID_NOT_FOUND), api_status(UUID_NOT_FOUND),
     answer_json({"isCertFound": False, "attrs": []})),
    ("cancelled", qr_verify(UNRZ_CANCELLED), api_check(UNRZ_CANCELLED),
     answer_json(items(dict(item("TEMPORARY_CERT", "CANCELED"), unrzFull=UNRZ_CANCELLED)))),
    ("outage", qr_status(UUID_OUTAGE), api_status(UUID_OUTAGE),
     answer_json(flat_v3(found=False, unavailable=True))),
    ("forged", "https://www.gosuslugi.ru.evil.example/covid-cert/status/" + UUID_VALID, None,
     None),
]


if __name__ == "__main__":
    pki = make_pki(Path(sys.argv[1]))
    p = FakePortal(pki, port=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    p.serve_demo().start()
    (pki / "samples.tsv").write_text("".join(f"{n}\t{q}\n" for n, q, _, _ in DEMO))
    print(f"base_url = {p.base_url}\nca_file = {pki / 'ca.crt'}", flush=True)
    for name, payload, _, _ in DEMO:
        print(f"scan {name} {payload}", flush=True)
    try:
        p.thread.join()
    except KeyboardInterrupt:
        p.stop()
