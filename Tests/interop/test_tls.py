"""TLS end to end: the release binary against real TLS peers over loopback.

Certificates are made at test time with the `openssl` CLI in a temporary directory (see PKI): a CA,
server certificates for DNS:localhost + IP:127.0.0.1 (two pairs, for the SIGHUP swap), an expired
one, one for another host only, a client certificate from the CA and one from a second CA. The peers
are independent implementations: curl, Python's `ssl` (through requests, http.client and raw
sockets), `openssl s_client`, the `websockets` client and server, and http.server wrapped in `ssl`
as an HTTPS upstream and an HTTPS Zipkin collector (support.Upstream/ZipkinCollector with tls=).

Counters come from /metrics (traceproxy_tls_handshakes_total, traceproxy_tls_handshake_errors_total
by reason, traceproxy_upstream_errors_total{kind="tls"}, reporter batches); spans from
`--reporter stdout` (Zipkin JSON lines in the proxy's log), the Jaeger agent (whose decoded logs keep
error.kind and the message) or the TLS collector.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from typing import Optional

import pytest
import requests
import websockets.sync.client
import websockets.sync.server

import support

HOST = support.HOST
HANDSHAKES = "traceproxy_tls_handshakes_total"
HANDSHAKE_ERRORS = "traceproxy_tls_handshake_errors_total"


# ------------------------------------------------------------------------------------------------
# Certificates, made with the openssl CLI (OpenSSL 3.0 has no `x509 -not_before`: `openssl ca`
# takes -startdate/-enddate, which also gives the expired certificate its 2020 validity)
# ------------------------------------------------------------------------------------------------
_REQ_CNF = """\
[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

_CA_CNF = """\
[ ca ]
default_ca = this_ca
[ this_ca ]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_name
copy_extensions = none
unique_subject = no
[ any_name ]
commonName = supplied
[ server_local ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost,IP:127.0.0.1
[ server_other ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:other.example
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclasses.dataclass
class Cert:
    pem: str
    key: str
    cn: str
    serial: int


def _openssl(*args: str, cwd: str) -> str:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30,
                       env={**os.environ, "OPENSSL_CONF": os.path.join(cwd, "req.cnf")})
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def _asn1_time(offset_s: float) -> str:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + offset_s))


class PKI:
    """Two CAs and the certificates the tests need (EC P-256: quick to make and to handshake)."""

    def __init__(self, root: str):
        self.root = root
        with open(os.path.join(root, "req.cnf"), "w") as f:
            f.write(_REQ_CNF)
        self.ca = self._make_ca("ca", "traceproxy interop CA")
        self.other_ca = self._make_ca("other-ca", "traceproxy interop other CA")
        now_ok = (_asn1_time(-86400), _asn1_time(2 * 86400))
        self.server = self._issue("ca", "server-a", "traceproxy interop server A", "server_local", *now_ok)
        self.server2 = self._issue("ca", "server-b", "traceproxy interop server B", "server_local", *now_ok)
        self.expired = self._issue("ca", "expired", "traceproxy interop expired", "server_local",
                                   "20200101000000Z", "20200102000000Z")
        self.wrong_host = self._issue("ca", "wrong-host", "other.example", "server_other", *now_ok)
        self.client = self._issue("ca", "client", "interop-client", "client", *now_ok)
        self.intruder = self._issue("other-ca", "intruder", "interop-intruder", "client", *now_ok)
        self.expired_client = self._issue("ca", "expired-client", "interop-expired-client", "client",
                                          "20200101000000Z", "20200102000000Z")

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def _make_ca(self, name: str, cn: str) -> Cert:
        d = self.path(name)
        os.makedirs(d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n" if name == "ca" else "5000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(_CA_CNF.format(dir=d))
        pem, key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", pem, "-days", "3", "-subj", f"/CN={cn}", "-extensions", "v3_ca",
                 cwd=self.root)
        return Cert(pem, key, cn, self._serial(pem))

    def _issue(self, ca: str, name: str, cn: str, section: str, start: str, end: str) -> Cert:
        d = self.path(ca)
        key, csr, pem = self.path(f"{name}.key"), self.path(f"{name}.csr"), self.path(f"{name}.pem")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/CN={cn}", cwd=self.root)
        _openssl("ca", "-batch", "-notext", "-config", os.path.join(d, "ca.cnf"), "-cert", os.path.join(d, "ca.pem"),
                 "-keyfile", os.path.join(d, "ca.key"), "-in", csr, "-out", pem, "-extensions", section,
                 "-startdate", start, "-enddate", end, cwd=self.root)
        return Cert(pem, key, cn, self._serial(pem))

    def _serial(self, pem: str) -> int:
        out = _openssl("x509", "-in", pem, "-noout", "-serial", cwd=self.root)
        return int(out.strip().split("=", 1)[1], 16)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is needed to make the test certificates (apt-get install openssl)",
                    pytrace=False)
    return PKI(str(tmp_path_factory.mktemp("pki")))


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def client_ctx(pki: PKI, cert: Optional[Cert] = None, minimum=None, maximum=None,
               ciphers: Optional[str] = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki.ca.pem)
    if cert is not None:
        ctx.load_cert_chain(cert.pem, cert.key)
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def server_ctx(cert: Cert, client_ca: Optional[Cert] = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.pem, cert.key)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca.pem)
    return ctx


def tls_proxy(proxy_factory, pki: PKI, upstream_url: str, reporters=("stdout",), cert: Optional[str] = None,
              key: Optional[str] = None, extra=()) -> support.Proxy:
    """A proxy with an HTTPS listener beside the plain one; its port is `.tls_port`. Both listeners
    are bound before the plain port answers (ProxyServer.start), so only that one is probed: a probe
    of the TLS port would count as a failed handshake."""
    port = support.free_port()
    p = proxy_factory(upstream_url, list(reporters),
                      extra=["--listen-tls", f"{HOST}:{port}", "--tls-cert", cert or pki.server.pem,
                             "--tls-key", key or pki.server.key, "--flush-interval-ms", "100", *extra])
    p.tls_port = port  # type: ignore[attr-defined]
    return p


def metric(proxy: support.Proxy, name: str, **labels) -> Optional[float]:
    """The sum of the series of `name` whose labels include `labels`; None if there is none."""
    want = set(labels.items())
    vals = [v for (n, ls), v in proxy.metrics().items() if n == name and want <= set(ls)]
    return sum(vals) if vals else None


def handshake_errors(proxy: support.Proxy) -> dict:
    return {dict(ls)["reason"]: v for (n, ls), v in proxy.metrics().items() if n == HANDSHAKE_ERRORS}


def moved(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


def wait_handshake_errors(proxy: support.Proxy, before: dict, expect: dict, timeout: float = 5.0) -> dict:
    """Polls /metrics until the failed-handshake counters moved by at least `expect`; returns the
    move (the caller compares it exactly, so an extra or different reason is reported)."""
    def done():
        d = moved(before, handshake_errors(proxy))
        return d if all(d.get(k, 0) >= v for k, v in expect.items()) else None
    return support.wait_until(done, timeout) or moved(before, handshake_errors(proxy))


def log_text(proxy: support.Proxy) -> str:
    with open(proxy.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_log(proxy: support.Proxy, pattern: str, timeout: float = 5.0) -> Optional[re.Match]:
    return support.wait_until(lambda: re.search(pattern, log_text(proxy)), timeout)


def stdout_spans(proxy: support.Proxy) -> list[dict]:
    """Spans written by `--reporter stdout` (one Zipkin v2 JSON object per line in the log)."""
    out = []
    for line in log_text(proxy).splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_span(proxy: support.Proxy, path: str, timeout: float = 5.0) -> dict:
    found = support.wait_until(
        lambda: [s for s in stdout_spans(proxy) if s.get("tags", {}).get("http.path") == path], timeout)
    assert found, f"no span for {path} in the proxy's stdout:\n{proxy.log_tail()}"
    assert len(found) == 1, f"{len(found)} spans for {path}"
    return found[0]


def https_connection(port: int, ctx: ssl.SSLContext, server_hostname: str = "localhost",
                     timeout: float = 10.0) -> http.client.HTTPSConnection:
    """An HTTPS connection to 127.0.0.1 that verifies (and sends as SNI, unless it is an IP)
    `server_hostname`; connected and handshaken here, so a refused handshake raises here."""
    conn = http.client.HTTPSConnection(server_hostname, port, timeout=timeout, context=ctx)
    raw = socket.create_connection((HOST, port), timeout=timeout)
    try:
        conn.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise
    return conn


def https_get(port: int, path: str, ctx: ssl.SSLContext, server_hostname: str = "localhost",
              headers: Optional[dict] = None, timeout: float = 10.0):
    """One request on a new HTTPS connection: (status, body, negotiated (cipher, version), peer cert)."""
    conn = https_connection(port, ctx, server_hostname, timeout)
    try:
        cipher = conn.sock.cipher()
        peer = conn.sock.getpeercert()
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(), (cipher[0], cipher[1]), peer
    finally:
        conn.close()


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float, bool]:
    """Reads until EOF or reset: (bytes read, seconds until closed, whether it closed in time)."""
    t0 = time.monotonic()
    data = b""
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            return data, time.monotonic() - t0, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, time.monotonic() - t0, False
        except (ConnectionResetError, BrokenPipeError):
            return data, time.monotonic() - t0, True
        if not chunk:
            return data, time.monotonic() - t0, True
        data += chunk


def client_hello(server_hostname: str = "localhost") -> bytes:
    """A real ClientHello from Python's ssl (through memory BIOs, nothing sent)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 100
    return hello


def localhost_is_ipv4() -> bool:
    """The proxy connects to the first address getaddrinfo gives; our servers listen on 127.0.0.1."""
    infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    return bool(infos) and infos[0][4][0] == HOST


def assert_works(proxy: support.Proxy, pki: PKI, path: str = "/still/serving"):
    status, body, _, _ = https_get(proxy.tls_port, path, client_ctx(pki))
    assert (status, body) == (200, b"ok\n"), "the proxy stopped serving HTTPS after a refused client"


# ------------------------------------------------------------------------------------------------
# 1. the HTTPS listener with real clients
# ------------------------------------------------------------------------------------------------
def test_https_listener_curl_requests_and_span_tags(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url)
    port = p.tls_port

    # curl, by name (SNI localhost) and by IP (the IP SAN, no SNI); it offers h2 and http/1.1 by
    # ALPN, and HTTP/1.1 is what it must end up speaking
    for host, path in (("localhost", "/curl/name"), (HOST, "/curl/ip")):
        r = subprocess.run(["curl", "-sS", "--http2", "--max-time", "10", "--cacert", pki.ca.pem, "-o", "-",
                            "-w", "\n%{http_code} %{http_version} %{ssl_verify_result}",
                            "-H", "User-Agent: interop-curl", f"https://{host}:{port}{path}"],
                           capture_output=True, text=True, timeout=15)
        assert r.returncode == 0, f"curl https://{host}:{port}{path}: {r.stderr}\n{p.log_tail()}"
        assert r.stdout == "ok\n\n200 1.1 0", r.stdout

    # requests: several requests on one Session are one TLS connection, one handshake
    hs0, acc0 = metric(p, HANDSHAKES), metric(p, "traceproxy_accepted_connections_total")
    assert hs0 == 2, f"{HANDSHAKES} = {hs0} after two curl requests"
    with requests.Session() as s:
        s.trust_env = False  # else $REQUESTS_CA_BUNDLE wins over Session.verify (requests#3829)
        s.verify = pki.ca.pem
        for i in range(5):
            r = s.get(f"https://localhost:{port}/session/{i}", timeout=10)
            assert (r.status_code, r.content) == (200, b"ok\n")
    assert metric(p, HANDSHAKES) - hs0 == 1, "five requests on one requests.Session took more than one handshake"
    assert metric(p, "traceproxy_accepted_connections_total") - acc0 == 1

    # the upstream was told the client spoke HTTPS
    seen = {r.path: r.headers for r in upstream.snapshot()}
    for path in ["/curl/name", "/curl/ip"] + [f"/session/{i}" for i in range(5)]:
        assert seen[path].get("x-forwarded-proto") == "https", f"{path}: {seen[path]}"

    # a TLS 1.3 and a TLS 1.2 client: the span names the version and the cipher the client saw
    st, body, (cipher13, ver13), _ = https_get(port, "/tls13", client_ctx(pki, minimum=ssl.TLSVersion.TLSv1_3))
    assert (st, body, ver13) == (200, b"ok\n", "TLSv1.3")
    st, body, (cipher12, ver12), _ = https_get(port, "/tls12", client_ctx(pki, maximum=ssl.TLSVersion.TLSv1_2))
    assert (st, body, ver12) == (200, b"ok\n", "TLSv1.2")
    alpn = client_ctx(pki)
    alpn.set_alpn_protocols(["h2", "http/1.1"])
    conn = https_connection(port, alpn)
    assert conn.sock.selected_alpn_protocol() == "http/1.1"
    conn.close()

    name = wait_span(p, "/curl/name")["tags"]
    assert name["http.url"] == f"https://localhost:{port}/curl/name"
    assert name["tls.protocol.version"] == "1.3"
    assert name["tls.cipher"].startswith("TLS_"), name
    assert name["tls.client.server_name"] == "localhost"
    assert name["http.user_agent"] == "interop-curl"
    assert "tls.client.subject" not in name, "no client certificate was shown"
    ip = wait_span(p, "/curl/ip")["tags"]
    assert ip["http.url"] == f"https://{HOST}:{port}/curl/ip"
    assert "tls.client.server_name" not in ip, f"curl sends no SNI for an IP address: {ip}"
    t13 = wait_span(p, "/tls13")["tags"]
    assert (t13["tls.protocol.version"], t13["tls.cipher"]) == ("1.3", cipher13)
    t12 = wait_span(p, "/tls12")["tags"]
    assert (t12["tls.protocol.version"], t12["tls.cipher"]) == ("1.2", cipher12)
    for i in range(5):
        assert wait_span(p, f"/session/{i}")["tags"]["tls.client.server_name"] == "localhost"
    assert handshake_errors(p) and not any(handshake_errors(p).values()), handshake_errors(p)


def _read_response(f) -> tuple[int, dict, bytes]:
    status_line = f.readline()
    assert status_line.startswith(b"HTTP/1.1 "), f"status line {status_line!r}"
    headers = {}
    while True:
        line = f.readline()
        assert line, "connection closed inside a response head"
        if line in (b"\r\n", b"\n"):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def test_https_pipelining(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=())
    raw = socket.create_connection((HOST, p.tls_port), timeout=10)
    with client_ctx(pki).wrap_socket(raw, server_hostname="localhost") as s:
        paths = ["/bytes/5", "/bytes/11", "/pipe/ok"]
        s.sendall(b"".join(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() for path in paths))
        f = s.makefile("rb")
        got = [_read_response(f) for _ in paths]
    assert [(st, body) for st, _, body in got] == [(200, b"x" * 5), (200, b"x" * 11), (200, b"ok\n")]
    assert [r.path for r in upstream.snapshot()] == paths
    assert metric(p, HANDSHAKES) == 1


def test_https_large_bodies_both_ways(upstream, proxy_factory, pki, tmp_path):
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=())
    size = 20 * 1024 * 1024
    payload = os.urandom(size)
    want = hashlib.sha256(payload).hexdigest()

    # requests: a 20 MB POST, the echo read back as a stream
    r = requests.post(f"https://localhost:{p.tls_port}/echo", data=payload, verify=pki.ca.pem, stream=True,
                      timeout=30)
    assert r.status_code == 200
    h, n = hashlib.sha256(), 0
    for chunk in r.iter_content(1 << 20):
        h.update(chunk)
        n += len(chunk)
    assert (n, h.hexdigest()) == (size, want), "the 20 MB body did not come back byte-exact through requests"

    # curl: the same upload from a file, the echo written to a file
    src, dst = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(payload)
    c = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", pki.ca.pem, "--data-binary", f"@{src}",
                        "-H", "Content-Type: application/octet-stream", "-o", str(dst), "-w", "%{http_code}",
                        f"https://localhost:{p.tls_port}/echo"], capture_output=True, text=True, timeout=40)
    assert (c.returncode, c.stdout) == (0, "200"), c.stderr
    assert dst.stat().st_size == size and hashlib.sha256(dst.read_bytes()).hexdigest() == want, \
        "the 20 MB body did not come back byte-exact through curl"


# ------------------------------------------------------------------------------------------------
# 2. WebSocket over TLS
# ------------------------------------------------------------------------------------------------
def test_websocket_upgrade_over_tls(proxy_factory, pki):
    forwarded_proto = []

    def echo(ws):
        forwarded_proto.append(ws.request.headers.get("X-Forwarded-Proto"))
        for message in ws:
            ws.send(message)

    with websockets.sync.server.serve(echo, HOST, 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ws_port = server.socket.getsockname()[1]
        p = tls_proxy(proxy_factory, pki, f"http://{HOST}:{ws_port}")
        big = os.urandom(300_000)  # many TLS records each way
        with websockets.sync.client.connect(f"wss://localhost:{p.tls_port}/ws/echo", ssl=client_ctx(pki),
                                            open_timeout=5, close_timeout=2) as ws:
            ws.send("hello over tls")
            assert ws.recv(timeout=5) == "hello over tls"
            ws.send(big)
            assert ws.recv(timeout=5) == big
            for i in range(20):
                ws.send(f"m{i}")
            assert [ws.recv(timeout=5) for _ in range(20)] == [f"m{i}" for i in range(20)]
    assert forwarded_proto == ["https"]
    tags = wait_span(p, "/ws/echo")["tags"]
    assert tags["http.status_code"] == "101"
    assert tags["tls.protocol.version"] == "1.3" and tags["tls.client.server_name"] == "localhost"


# ------------------------------------------------------------------------------------------------
# 3./4. not TLS, and too slow
# ------------------------------------------------------------------------------------------------
def test_not_tls_is_closed_and_counted(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=())
    for what, data in (("garbage", b"\x00garbage, not a ClientHello\r\n" * 4),
                       ("plain HTTP", b"GET /plain HTTP/1.1\r\nHost: localhost\r\n\r\n")):
        before = handshake_errors(p)
        with socket.create_connection((HOST, p.tls_port), timeout=5) as s:
            s.sendall(data)
            got, took, closed = read_until_closed(s, 3.0)
        assert closed and took < 1.5, f"{what}: not closed within 1.5 s (took {took:.2f} s, read {got[:40]!r})"
        assert not got.startswith(b"HTTP/"), f"{what}: answered in plain HTTP: {got[:60]!r}"
        d = wait_handshake_errors(p, before, {"protocol": 1})
        assert d == {"protocol": 1}, f"{what}: handshake error counters moved by {d}"
        assert_works(p, pki, f"/after/{what.replace(' ', '-')}")
    assert not [r for r in upstream.snapshot() if r.path == "/plain"]
    assert wait_log(p, r"TLS handshake from 127\.0\.0\.1 failed \(protocol\)"), p.log_tail()


def test_handshake_timeout(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=(), extra=["--tls-handshake-timeout-ms", "500"])
    hello = client_hello()
    for what, data in (("silent", b""), ("half a ClientHello", hello[: len(hello) // 2])):
        before = handshake_errors(p)
        with socket.create_connection((HOST, p.tls_port), timeout=5) as s:
            if data:
                s.sendall(data)
            got, took, closed = read_until_closed(s, 4.0)
        assert closed, f"{what}: still open after 4 s with --tls-handshake-timeout-ms 500"
        assert 0.4 <= took <= 2.0, f"{what}: closed after {took:.2f} s, expected about 0.5 s"
        d = wait_handshake_errors(p, before, {"handshake_timeout": 1})
        assert d == {"handshake_timeout": 1}, f"{what}: handshake error counters moved by {d}"
    # a client that gives up half-way is not a timeout
    before = handshake_errors(p)
    with socket.create_connection((HOST, p.tls_port), timeout=5) as s:
        s.sendall(hello[: len(hello) // 2])
    d = wait_handshake_errors(p, before, {"connection_closed": 1}, timeout=2)
    assert d == {"connection_closed": 1}, f"half a ClientHello, then close: counters moved by {d}"
    # the deadline is the handshake's only: a finished handshake may idle past it
    raw = socket.create_connection((HOST, p.tls_port), timeout=5)
    with client_ctx(pki).wrap_socket(raw, server_hostname="localhost") as s:
        time.sleep(0.9)  # nothing to poll: the point is that nothing happens for longer than 500 ms
        s.sendall(b"GET /late HTTP/1.1\r\nHost: localhost\r\n\r\n")
        st, _, body = _read_response(s.makefile("rb"))
    assert (st, body) == (200, b"ok\n"), "a connection was cut by the handshake deadline after its handshake"


# ------------------------------------------------------------------------------------------------
# 5. versions
# ------------------------------------------------------------------------------------------------
def _refused(port: int, ctx: ssl.SSLContext) -> Optional[str]:
    """None if a request got through; else the client's error."""
    try:
        st, _, _, _ = https_get(port, "/should/not/arrive", ctx, timeout=5)
    except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
        return f"{type(e).__name__}: {e}"
    return None if st else "no status"


def test_old_tls_versions_refused(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=())
    # Python's ssl allowed to offer TLS 1.1 at most (security level 0 lets OpenSSL 3 try)
    old = client_ctx(pki, minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1_1,
                     ciphers="DEFAULT@SECLEVEL=0")
    before = handshake_errors(p)
    err = _refused(p.tls_port, old)
    assert err is not None, "a TLS 1.1 client was served"
    d = wait_handshake_errors(p, before, {"version": 1})
    assert d == {"version": 1}, f"TLS 1.1 client ({err}): counters moved by {d}"

    # openssl s_client offering TLS 1.0 only
    before = handshake_errors(p)
    r = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{p.tls_port}", "-tls1",
                        "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "localhost"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert r.returncode != 0, f"openssl s_client -tls1 connected:\n{r.stdout[-800:]}"
    d = wait_handshake_errors(p, before, {"version": 1})
    assert d == {"version": 1}, f"s_client -tls1 ({r.stderr.strip()[-200:]}): counters moved by {d}"
    assert_works(p, pki)
    assert not [r for r in upstream.snapshot() if r.path == "/should/not/arrive"]


def test_tls_ciphers(upstream, proxy_factory, pki):
    """--tls-ciphers is the TLS 1.2 list: the one cipher allowed is chosen, a client without it is
    refused as no_shared_cipher, and TLS 1.3 suites are not affected."""
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=(),
                  extra=["--tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"])
    tls12 = ssl.TLSVersion.TLSv1_2
    st, _, negotiated, _ = https_get(p.tls_port, "/cipher/12", client_ctx(pki, maximum=tls12))
    assert (st, negotiated) == (200, ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2"))
    before = handshake_errors(p)
    err = _refused(p.tls_port, client_ctx(pki, maximum=tls12, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"))
    assert err is not None, "a client without the one allowed TLS 1.2 cipher was served"
    d = wait_handshake_errors(p, before, {"no_shared_cipher": 1})
    assert d == {"no_shared_cipher": 1}, f"no shared cipher ({err}): counters moved by {d}"
    st, _, (_, version), _ = https_get(p.tls_port, "/cipher/13", client_ctx(pki))
    assert (st, version) == (200, "TLSv1.3")


def test_min_version_13_refuses_tls12(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=(), extra=["--tls-min-version", "1.3"])
    before = handshake_errors(p)
    err = _refused(p.tls_port, client_ctx(pki, maximum=ssl.TLSVersion.TLSv1_2))
    assert err is not None, "--tls-min-version 1.3 served a TLS 1.2-only client"
    d = wait_handshake_errors(p, before, {"version": 1})
    assert d == {"version": 1}, f"TLS 1.2 client ({err}): counters moved by {d}"
    st, body, (_, version), _ = https_get(p.tls_port, "/v13", client_ctx(pki))
    assert (st, body, version) == (200, b"ok\n", "TLSv1.3")


# ------------------------------------------------------------------------------------------------
# 6. mTLS
# ------------------------------------------------------------------------------------------------
def test_mtls_client_certificates(upstream, proxy_factory, pki):
    p = tls_proxy(proxy_factory, pki, upstream.url, extra=["--tls-client-ca", pki.ca.pem])
    st, body, _, _ = https_get(p.tls_port, "/mtls/ok", client_ctx(pki, cert=pki.client))
    assert (st, body) == (200, b"ok\n")
    tags = wait_span(p, "/mtls/ok")["tags"]
    assert "CN=interop-client" in tags.get("tls.client.subject", ""), tags

    # requests with cert= too
    r = requests.get(f"https://localhost:{p.tls_port}/mtls/requests", verify=pki.ca.pem,
                     cert=(pki.client.pem, pki.client.key), timeout=10)
    assert (r.status_code, r.content) == (200, b"ok\n")

    for what, cert, reason in (("no certificate", None, "certificate_required"),
                               ("a certificate from another CA", pki.intruder, "unknown_ca"),
                               ("an expired certificate", pki.expired_client, "certificate_expired")):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            before = handshake_errors(p)
            err = _refused(p.tls_port, client_ctx(pki, cert=cert, maximum=version))
            assert err is not None, f"{what} over {version.name}: served"
            d = wait_handshake_errors(p, before, {reason: 1})
            assert d == {reason: 1}, f"{what} over {version.name} ({err}): counters moved by {d}"
    assert not [r for r in upstream.snapshot() if r.path == "/should/not/arrive"]
    assert https_get(p.tls_port, "/mtls/again", client_ctx(pki, cert=pki.client))[:2] == (200, b"ok\n")


# ------------------------------------------------------------------------------------------------
# 7. HTTPS upstream
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def tls_upstream_factory():
    ups: list[support.Upstream] = []

    def make(cert: Cert, client_ca: Optional[Cert] = None) -> support.Upstream:
        u = support.Upstream(tls=server_ctx(cert, client_ca)).start()
        ups.append(u)
        return u

    yield make
    for u in ups:
        u.stop()


def _plain_get(port: int, path: str, conn: Optional[http.client.HTTPConnection] = None):
    c = conn or http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        if conn is None:
            c.close()


def test_https_upstream_verified(tls_upstream_factory, proxy_factory, pki):
    up = tls_upstream_factory(pki.server)
    by_ip = proxy_factory(f"https://{HOST}:{up.port}", [], extra=["--upstream-ca", pki.ca.pem, "--threads", "1"])
    # keep-alive to the upstream: five requests on one client connection, one upstream TLS connection
    conn = http.client.HTTPConnection(HOST, by_ip.port, timeout=10)
    for i in range(5):
        assert _plain_get(by_ip.port, f"/ip/{i}", conn) == (200, b"ok\n")
    conn.close()
    assert (up.server.accepted, up.server.handshakes) == (1, 1), \
        f"upstream saw {up.server.accepted} connections, {up.server.handshakes} handshakes for 5 requests"
    assert metric(by_ip, "traceproxy_upstream_connections_opened_total") == 1
    assert [r.path for r in up.snapshot()] == [f"/ip/{i}" for i in range(5)]
    assert {r.headers.get("x-forwarded-proto") for r in up.snapshot()} == {"http"}, \
        "a plain-HTTP client's request forwarded to an https upstream is still X-Forwarded-Proto: http"

    if localhost_is_ipv4():
        by_name = proxy_factory(f"https://localhost:{up.port}", [], extra=["--upstream-ca", pki.ca.pem])
        assert _plain_get(by_name.port, "/by/name") == (200, b"ok\n")
    # a client certificate for an upstream that asks for one
    mtls_up = tls_upstream_factory(pki.server, client_ca=pki.ca)
    with_cert = proxy_factory(f"https://{HOST}:{mtls_up.port}", [],
                              extra=["--upstream-ca", pki.ca.pem, "--upstream-cert", pki.client.pem,
                                     "--upstream-key", pki.client.key])
    assert _plain_get(with_cert.port, "/with/cert") == (200, b"ok\n")
    without_cert = proxy_factory(f"https://{HOST}:{mtls_up.port}", [], extra=["--upstream-ca", pki.ca.pem])
    assert _plain_get(without_cert.port, "/without/cert")[0] == 502
    assert [r.path for r in mtls_up.snapshot()] == ["/with/cert"]
    # an upstream that closes its idle TLS connection: the next request goes on a new one
    brief = support.Upstream(tls=server_ctx(pki.server))
    brief.server.RequestHandlerClass = type("ShortIdle", (support._UpstreamHandler,), {"timeout": 0.3})
    brief.start()
    try:
        q = proxy_factory(brief.url, [], extra=["--upstream-ca", pki.ca.pem, "--threads", "1"])
        conn = http.client.HTTPConnection(HOST, q.port, timeout=10)
        assert _plain_get(q.port, "/idle/1", conn) == (200, b"ok\n")
        assert support.wait_until(lambda: brief.server.closed >= 1, 5), "the upstream kept its idle connection"
        assert _plain_get(q.port, "/idle/2", conn) == (200, b"ok\n")
        conn.close()
        assert (brief.server.accepted, brief.server.handshakes) == (2, 2)
    finally:
        brief.stop()
    # the certificate names other.example only: --upstream-server-name says that is the one wanted
    other = tls_upstream_factory(pki.wrong_host)
    renamed = proxy_factory(f"https://{HOST}:{other.port}", [],
                            extra=["--upstream-ca", pki.ca.pem, "--upstream-server-name", "other.example"])
    assert _plain_get(renamed.port, "/renamed") == (200, b"ok\n")


def test_https_upstream_insecure(tls_upstream_factory, proxy_factory, pki):
    up = tls_upstream_factory(pki.server)
    p = proxy_factory(f"https://{HOST}:{up.port}", [], extra=["--upstream-insecure"])
    assert _plain_get(p.port, "/insecure") == (200, b"ok\n")
    assert "traceproxy: warning: --upstream-insecure" in log_text(p), p.log_tail()
    # and without the flag (and no --upstream-ca) the same upstream is refused: the test could fail
    q = proxy_factory(f"https://{HOST}:{up.port}", [])
    assert _plain_get(q.port, "/secure")[0] == 502
    assert "--upstream-insecure" not in log_text(q)



@pytest.mark.parametrize("case,reason", [
    ("untrusted", "unknown_ca"),
    ("wrong_host", "hostname_mismatch"),
    ("expired", "certificate_expired"),
    # TLS 1.2: OpenSSL's server refuses the missing certificate with a bare handshake_failure alert,
    # which is all the client can go by (the proxy names it no_shared_cipher)
    ("no_client_cert_tls12", "[a-z_]+"),
    # TLS 1.3: the refusal arrives after our side of the handshake; it is still named.
    ("no_client_cert", "certificate_required"),
])
def test_https_upstream_refused(case, reason, tls_upstream_factory, proxy_factory, agent, pki):
    cert = {"wrong_host": pki.wrong_host, "expired": pki.expired}.get(case, pki.server)
    up = tls_upstream_factory(cert, client_ca=pki.ca if case.startswith("no_client_cert") else None)
    if case.endswith("tls12"):
        up.server.tls.maximum_version = ssl.TLSVersion.TLSv1_2
    extra = ["--flush-interval-ms", "100"] + ([] if case == "untrusted" else ["--upstream-ca", pki.ca.pem])
    p = proxy_factory(f"https://{HOST}:{up.port}", [agent.url], service=f"tls-up-{case}", extra=extra)
    status, body = _plain_get(p.port, f"/refused/{case}")
    assert status == 502, f"{case}: {status} {body[:80]!r}"
    assert not up.snapshot(), "the request reached an upstream whose certificate was refused"

    spans = agent.wait_spans(lambda s: s.service == f"tls-up-{case}", timeout=10)
    assert len(spans) == 1
    s = spans[0]
    assert s.tags.get("error") is True and str(s.tags.get("http.status_code")) == "502", s.tags
    errs = [lg for lg in s.logs if lg.get("event") == "error"]
    assert errs and errs[0].get("error.kind") == "upstream_tls", s.logs
    assert re.match(rf"upstream TLS handshake failed \({reason}\): TLS (handshake|session) failed: .+", errs[0].get("message", "")), \
        errs[0]
    assert metric(p, "traceproxy_upstream_errors_total", kind="tls") == 1
    line = wait_log(p, rf"upstream .*: upstream_tls: upstream TLS handshake failed \({reason}\): [^\n]+")
    assert line, f"no upstream_tls log line naming {reason}:\n{p.log_tail()}"


# ------------------------------------------------------------------------------------------------
# 8. zipkin+https collectors
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def tls_collector_factory():
    cols: list[support.ZipkinCollector] = []

    def make(client_ca: Optional[Cert] = None, cert: Optional[Cert] = None) -> support.ZipkinCollector:
        c = support.ZipkinCollector(tls=server_ctx(cert, client_ca)).start()
        cols.append(c)
        return c

    yield make
    for c in cols:
        c.stop()


def test_zipkin_https_collector(upstream, tls_collector_factory, proxy_factory, pki):
    col = tls_collector_factory(cert=pki.server)
    assert col.url.startswith("zipkin+https://")
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=(col.url,), extra=["--collector-ca", pki.ca.pem])
    st, _, (cipher, _), _ = https_get(p.tls_port, "/to/collector", client_ctx(pki))
    assert st == 200
    spans = support.wait_until(lambda: [s for s in col.snapshot()
                                        if s.get("tags", {}).get("http.path") == "/to/collector"], 10)
    assert spans, f"no span at the zipkin+https collector:\n{p.log_tail()}"
    assert not col.errors, col.errors[:3]
    tags = spans[0]["tags"]
    assert tags["http.url"] == f"https://localhost:{p.tls_port}/to/collector"
    assert (tags["tls.protocol.version"], tags["tls.cipher"], tags["tls.client.server_name"]) == \
        ("1.3", cipher, "localhost")
    assert col.server.handshakes >= 1


def test_zipkin_https_collector_mtls(upstream, tls_collector_factory, proxy_factory, pki):
    col = tls_collector_factory(cert=pki.server, client_ca=pki.ca)
    good = proxy_factory(upstream.url, [col.url], service="collector-with-cert",
                         extra=["--flush-interval-ms", "100", "--collector-ca", pki.ca.pem,
                                "--collector-cert", pki.client.pem, "--collector-key", pki.client.key])
    bad = proxy_factory(upstream.url, [col.url], service="collector-without-cert",
                        extra=["--flush-interval-ms", "100", "--collector-ca", pki.ca.pem])
    untrusting = proxy_factory(upstream.url, [col.url], service="collector-untrusted",
                               extra=["--flush-interval-ms", "100"])
    for p in (good, bad, untrusting):
        assert _plain_get(p.port, f"/mtls-collector/{p.args[p.args.index('--service-name') + 1]}") == (200, b"ok\n")

    def failed(p):
        return metric(p, "traceproxy_reporter_batches_total", result="failed")

    assert support.wait_until(lambda: [s for s in col.snapshot()
                                       if s.get("localEndpoint", {}).get("serviceName") == "collector-with-cert"], 10), \
        f"no span from the proxy with --collector-cert:\n{good.log_tail()}"
    for p in (bad, untrusting):
        _assert_batches_fail(p)
    line = wait_log(untrusting, r"reporter [^\n]*a batch of \d+ spans? was not delivered[^\n]*")
    assert re.search(r": TLS to 127\.0\.0\.1:\d+: TLS handshake failed: certificate verify failed", line.group(0)), \
        f"the warning does not name the TLS failure: {line.group(0)}"
    names = {s.get("localEndpoint", {}).get("serviceName") for s in col.snapshot()}
    assert names == {"collector-with-cert"}, names
    assert failed(good) == 0
    # The proxy without a client certificate is refused (no certificate); the one that does not
    # trust the collector refuses it (unknown CA alert), when the alert reaches it before the close.
    assert col.server.handshake_errors and all(
        "PEER_DID_NOT_RETURN_A_CERTIFICATE" in e or "EOF" in e or "UNKNOWN_CA" in e
        for e in col.server.handshake_errors), col.server.handshake_errors
    assert any("PEER_DID_NOT_RETURN_A_CERTIFICATE" in e for e in col.server.handshake_errors), \
        col.server.handshake_errors


def _assert_batches_fail(p: support.Proxy) -> str:
    """The reporter's batches failed: counted, spans dropped, a warning logged (returned)."""
    assert support.wait_until(lambda: (metric(p, "traceproxy_reporter_batches_total", result="failed") or 0) >= 1,
                              10), f"no failed batch counted:\n{p.log_tail()}"
    assert metric(p, "traceproxy_spans_dropped_total", reason="send_failed") >= 1
    assert metric(p, "traceproxy_reporter_batches_total", result="ok") == 0
    line = wait_log(p, r"reporter [^\n]*a batch of \d+ spans? was not delivered[^\n]*")
    assert line, f"no warning about the undelivered batch:\n{p.log_tail()}"
    return line.group(0)



def test_zipkin_https_collector_without_client_cert_names_the_failure(upstream, tls_collector_factory,
                                                                      proxy_factory, pki):
    col = tls_collector_factory(cert=pki.server, client_ca=pki.ca)
    p = proxy_factory(upstream.url, [col.url], extra=["--flush-interval-ms", "100", "--collector-ca", pki.ca.pem])
    assert _plain_get(p.port, "/no/collector/cert") == (200, b"ok\n")
    line = _assert_batches_fail(p)
    assert re.search(r"not delivered: .*certificate.required", line), \
        f"the warning does not name the TLS failure: {line}"


def test_zipkin_https_collector_without_client_cert_tls12(upstream, tls_collector_factory, proxy_factory, pki):
    """Over TLS 1.2 the refusal comes inside the handshake, and the warning names it."""
    col = tls_collector_factory(cert=pki.server, client_ca=pki.ca)
    col.server.tls.maximum_version = ssl.TLSVersion.TLSv1_2
    p = proxy_factory(upstream.url, [col.url], extra=["--flush-interval-ms", "100", "--collector-ca", pki.ca.pem])
    assert _plain_get(p.port, "/no/collector/cert/12") == (200, b"ok\n")
    line = _assert_batches_fail(p)
    assert re.search(r"not delivered: TLS to 127\.0\.0\.1:\d+: TLS handshake failed: .*handshake failure", line), \
        f"the warning does not name the TLS failure: {line}"
    assert not col.snapshot()


# ------------------------------------------------------------------------------------------------
# 9. SIGHUP certificate swap under load
# ------------------------------------------------------------------------------------------------
def _install(src: Cert, cert_path: str, key_path: str):
    """Replaces the files the proxy reads, each atomically (write aside, rename)."""
    for s, d in ((src.pem, cert_path), (src.key, key_path)):
        shutil.copyfile(s, d + ".new")
        os.replace(d + ".new", d)


def test_sighup_swaps_certificate_under_load(upstream, proxy_factory, pki, tmp_path):
    cert_path, key_path = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    _install(pki.server, cert_path, key_path)
    p = tls_proxy(proxy_factory, pki, upstream.url, reporters=(), cert=cert_path, key=key_path)
    ctx = client_ctx(pki)
    lock = threading.Lock()
    failures: list[str] = []
    new_conns: list[tuple[float, float, int]] = []  # (connect started, response read, serial presented)
    keepalive_done = [0]
    stop = threading.Event()
    deadline = time.monotonic() + 15

    def fresh_connections(k: int):
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                t0 = time.monotonic()
                st, body, _, peer = https_get(p.tls_port, f"/hup/new/{k}/{i}", ctx, timeout=5)
                t1 = time.monotonic()
                if (st, body) != (200, b"ok\n"):
                    raise AssertionError(f"{st} {body[:60]!r}")
                with lock:
                    new_conns.append((t0, t1, int(peer["serialNumber"], 16)))
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append(f"new connection {k}/{i}: {type(e).__name__}: {e}")
            i += 1

    def keep_alive():
        conn = https_connection(p.tls_port, ctx, timeout=5)
        serial = int(conn.sock.getpeercert()["serialNumber"], 16)
        i = 0
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                conn.request("GET", f"/hup/ka/{i}")
                r = conn.getresponse()
                body = r.read()
                if (r.status, body) != (200, b"ok\n"):
                    raise AssertionError(f"{r.status} {body[:60]!r}")
                keepalive_done[0] += 1
                i += 1
            if serial != pki.server.serial:
                raise AssertionError(f"the keep-alive connection began with serial {serial:x}")
        except Exception as e:  # noqa: BLE001
            with lock:
                failures.append(f"keep-alive request {i}: {type(e).__name__}: {e}")
        finally:
            conn.close()

    threads = [threading.Thread(target=fresh_connections, args=(k,)) for k in range(2)]
    threads.append(threading.Thread(target=keep_alive))
    t_load = time.monotonic()
    for t in threads:
        t.start()
    try:
        # about 1 s of load on the first certificate, the swap, then about 1.5 s on the second
        assert support.wait_until(lambda: time.monotonic() - t_load >= 1.0 and len(new_conns) >= 20
                                  and keepalive_done[0] >= 20, 6), \
            f"load did not get going: {len(new_conns)} new connections, {keepalive_done[0]} keep-alive, {failures[:3]}"
        _install(pki.server2, cert_path, key_path)
        t_hup = time.monotonic()
        p.signal(signal.SIGHUP)
        assert wait_log(p, r"traceproxy: SIGHUP: reloaded"), f"no reload message:\n{p.log_tail()}"
        t_reloaded = time.monotonic()
        ka_at_reload = keepalive_done[0]
        assert support.wait_until(lambda: time.monotonic() - t_reloaded >= 1.5 and keepalive_done[0] >= ka_at_reload + 20
                                  and sum(1 for t0, _, _ in new_conns if t0 > t_reloaded) >= 30, 6), \
            f"load stalled after SIGHUP: {failures[:3]}"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert p.proc.poll() is None, "the proxy exited on SIGHUP"
    assert not failures, f"{len(failures)} failed requests during the swap: {failures[:5]}"
    before = [s for _, t1, s in new_conns if t1 < t_hup]
    after = [s for t0, _, s in new_conns if t0 > t_reloaded]  # connected after the swap was reported
    assert before and set(before) == {pki.server.serial}
    assert after and set(after) == {pki.server2.serial}, \
        f"new connections after the reload presented serials {sorted({hex(s) for s in after})}"
    assert keepalive_done[0] >= 40
    assert metric(p, HANDSHAKES) == len(new_conns) + 1, "one handshake per connection"
    assert not any(handshake_errors(p).values()), handshake_errors(p)

    # a broken key: the process stays up, says so, and keeps serving the second certificate
    with open(key_path, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    p.signal(signal.SIGHUP)
    assert wait_log(p, r"traceproxy: SIGHUP: kept the running configuration: HTTPS listener [^\n]+"), p.log_tail()
    assert p.proc.poll() is None
    _, _, _, peer = https_get(p.tls_port, "/hup/after-bad-key", ctx)
    assert int(peer["serialNumber"], 16) == pki.server2.serial
    assert dict(x[0] for x in peer["subject"])["commonName"] == pki.server2.cn
    # the mismatched pair (first certificate, second key) is refused the same way
    _install(pki.server2, cert_path, key_path)
    shutil.copyfile(pki.server.pem, cert_path)
    log_before = log_text(p).count("kept the running configuration: HTTPS listener")
    p.signal(signal.SIGHUP)
    assert support.wait_until(lambda: log_text(p).count("kept the running configuration: HTTPS listener") > log_before, 5), \
        p.log_tail()
    _, _, _, peer = https_get(p.tls_port, "/hup/after-mismatch", ctx)
    assert int(peer["serialNumber"], 16) == pki.server2.serial
    # and as openssl s_client sees it
    r = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{p.tls_port}", "-servername", "localhost",
                        "-CAfile", pki.ca.pem, "-verify_return_error"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr[-500:]
    assert re.search(rf"^subject=CN ?= ?{re.escape(pki.server2.cn)}$", r.stdout, re.M), r.stdout[:1500]
    assert "Verify return code: 0 (ok)" in r.stdout


# ------------------------------------------------------------------------------------------------
# 10. start-up errors
# ------------------------------------------------------------------------------------------------
def _run_binary(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([support.traceproxy_path(), "--listen", f"{HOST}:{support.free_port()}",
                           "--admin", "off", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=10)


def test_startup_errors(pki, tmp_path):
    tls = ["--upstream", f"http://{HOST}:9", "--listen-tls", f"{HOST}:{support.free_port()}"]
    missing = str(tmp_path / "no-such-cert.pem")
    cases = [
        ("missing certificate", tls + ["--tls-cert", missing, "--tls-key", pki.server.key], 1, [missing]),
        ("key of another certificate", tls + ["--tls-cert", pki.server.pem, "--tls-key", pki.server2.key], 1,
         [pki.server2.key, "does not match", pki.server.pem]),
        ("missing key", tls + ["--tls-cert", pki.server.pem, "--tls-key", missing], 1, [missing]),
        ("--listen-tls without --tls-cert", tls + ["--tls-key", pki.server.key], 2, ["--tls-cert"]),
        ("missing --upstream-ca", ["--upstream", f"https://{HOST}:9", "--upstream-ca", missing], 1, [missing]),
    ]
    for what, args, code, words in cases:
        r = _run_binary(*args)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == code, f"{what}: exit {r.returncode}, expected {code}; stderr: {r.stderr}"
        assert len(lines) == 1, f"{what}: expected a one-line message, got {len(lines)} lines:\n{r.stderr}"
        for w in words:
            assert w in lines[0], f"{what}: the message does not name {w!r}: {lines[0]}"
