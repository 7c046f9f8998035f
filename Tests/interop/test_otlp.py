"""traceproxy's OTLP/HTTP reporter against the official opentelemetry-proto decoder (otlp_collector.py),
the OpenTelemetry Python SDK, and the OpenTelemetry environment variables.

  1. export: protobuf and JSON, gzip or not -> every span decodes; ids, parent, kind, timing, status,
     events, attributes, resource, scope, request fields (headers, Content-Type, path); text JSON must
     escape; 64-bit incoming trace ids; the OTEL_* variables alone; an HTTPS collector asking for a
     client certificate (flags or OTEL_EXPORTER_OTLP_*CERTIFICATE*)
  2. the exporter rules: what is retried (503, 429/502/504 + Retry-After), what is not (4xx, 500,
     partial success), a collector that never answers (the batch timeout; the proxy keeps serving),
     one that closes its connections, and SIGTERM while it hangs
  3. volume (10,000 requests, none lost) and SIGTERM's final flush
  4. an app traced by the OpenTelemetry Python SDK between two traceproxies, one trace end to end
  5. the OTEL_* variables and their precedence, through --print-config

Attribute names: the proxy is moving from legacy names (http.method, http.status_code, http.url) to
the stable semantic conventions (http.request.method, http.response.status_code, url.path, ...), so
those checks accept either; ids, kind, timing, status, flags and events are checked exactly.
The bugs these tests found (non-UTF-8 header bytes, partial-success messages, tracestate, env ports) are fixed.
"""
from __future__ import annotations

import collections
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

import otlp_collector
import support
from otlp_collector import HANG, OK, Partial

SERVER, CLIENT = 2, 3  # Span.SpanKind
UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2  # Status.StatusCode
FLAGS_LOCAL_ROOT, FLAGS_REMOTE_PARENT = 0x101, 0x301  # sampled + HAS_IS_REMOTE (+ IS_REMOTE)
SERVICE = "otlp-interop"
SLACK_NS = 2_000_000  # clock readings of the test and of the proxy, both CLOCK_REALTIME
# A span may end a little after its client has the whole response (the proxy reads its clock once
# the write returned, and the client may run first on a busy machine).
END_SLACK_NS = 100_000_000

METHOD_KEYS = ("http.request.method", "http.method")
STATUS_KEYS = ("http.response.status_code", "http.status_code")
PATH_KEYS = ("url.path", "http.path", "http.target")
URL_KEYS = ("url.full", "http.url")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def otlp():
    c = otlp_collector.OTLPCollector().start()
    yield c
    c.stop()


def _hex(bits: int) -> str:
    return f"{random.getrandbits(bits) | 1:0{bits // 4}x}"


class Client:
    """One keep-alive connection to the proxy."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(support.HOST, port, timeout=10)

    def __call__(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        data = r.read()
        if r.will_close:
            self.conn.close()
        return r.status, data

    def close(self):
        self.conn.close()


def send(port: int, n: int, prefix: str = "/r") -> None:
    c = Client(port)
    try:
        for i in range(n):
            status, _ = c("GET", f"{prefix}/{i}")
            assert status == 200
    finally:
        c.close()


def attr(span, keys):
    for k in keys:
        if k in span.attrs:
            return span.attrs[k]
    return None


def path_of(span) -> str | None:
    p = attr(span, PATH_KEYS)
    if p is not None:
        return str(p).split("?", 1)[0]
    u = attr(span, URL_KEYS)
    if u is not None:
        rest = str(u).split("://", 1)[-1]
        return "/" + rest.split("/", 1)[1].split("?", 1)[0] if "/" in rest else "/"
    return None


def series(proxy: support.Proxy, label: str) -> dict:
    """The OTLP reporter's span counters: {'reported': n, 'send_failed': n, 'rejected': n, ...}."""
    out = collections.defaultdict(float)
    for (name, labels), v in proxy.metrics().items():
        d = dict(labels)
        if d.get("reporter") != label:
            continue
        if name == "traceproxy_spans_reported_total":
            out["reported"] += v
        elif name == "traceproxy_spans_dropped_total":
            out[d.get("reason", "?")] += v
            out["dropped"] += v
    return out


def settled(proxy: support.Proxy, label: str, timeout: float = 5.0, **want) -> dict:
    """The reporter's counters once they show `want` (the proxy counts a batch after reading the
    collector's answer, a moment after the collector has the spans), or as they are at the timeout."""
    support.wait_until(lambda: all(series(proxy, label)[k] == v for k, v in want.items()), timeout)
    return series(proxy, label)


def otlp_proxy(proxy_factory, upstream_url: str, col, *extra: str, service: str = SERVICE, env=None):
    return proxy_factory(upstream_url, [col.url], service=service, extra=list(extra), env=env or {})


def assert_span_basics(s, t0_ns: int, t1_ns: int):
    assert len(s.trace_id) == 32 and int(s.trace_id, 16) != 0, s.trace_id
    assert len(s.span_id) == 16 and int(s.span_id, 16) != 0, s.span_id
    assert s.parent_id == "" or len(s.parent_id) == 16
    assert s.name, "a span has a name"
    assert t0_ns - SLACK_NS <= s.start_ns <= s.end_ns <= t1_ns + END_SLACK_NS, (
        f"span [{s.start_ns}, {s.end_ns}] outside the test's window [{t0_ns}, {t1_ns}]")
    for e in s.events:
        assert s.start_ns <= e.time_ns <= s.end_ns, f"event {e.name} at {e.time_ns} outside its span"


# ------------------------------------------------------------------------------------------------
# 1. export
# ------------------------------------------------------------------------------------------------
RESOURCE_ENV = "deployment.environment=inter%20op, team=a%2Cb%3Dc,service.name=from-resource,x.unicode=caf%C3%A9"


@pytest.mark.parametrize("protocol,compression", [("http/protobuf", "none"), ("http/protobuf", "gzip"),
                                                  ("http/json", "none"), ("http/json", "gzip")])
def test_export(upstream, otlp, proxy_factory, protocol, compression):
    extra = ["--otlp-protocol", protocol, "--otlp-compression", compression, "--otlp-header", "X-Api-Key=abc",
             "--otlp-header", "X-Tenant=team one", "--flush-interval-ms", "100"]
    env = {"OTEL_RESOURCE_ATTRIBUTES": RESOURCE_ENV}
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *extra, env=env)
    dead = otlp_proxy(proxy_factory, f"http://{support.HOST}:{support.free_port()}", otlp, *extra, env=env)
    in_trace, in_span = _hex(128), _hex(64)

    t0 = time.time_ns()
    c = Client(proxy.port)
    for i in range(4):
        assert c("GET", f"/items/{i}?q=1")[0] == 200
    assert c("GET", "/w3c/child", {"traceparent": f"00-{in_trace}-{in_span}-01"})[0] == 200
    assert c("POST", "/submit", {"Content-Type": "text/plain"}, b"hello")[0] == 200
    c.close()
    d = Client(dead.port)
    assert d("GET", "/down")[0] == 502
    d.close()
    t1 = time.time_ns()

    spans = otlp.wait_spans(7, timeout=10)
    time.sleep(0.3)  # anything extra (a duplicate) would arrive now
    assert not otlp.errors, otlp.errors
    spans = otlp.spans()
    by_path = collections.defaultdict(list)
    for s in spans:
        by_path[path_of(s)].append(s)
    expected = {f"/items/{i}" for i in range(4)} | {"/w3c/child", "/submit", "/down"}
    assert set(by_path) == expected and all(len(v) == 1 for v in by_path.values()), (
        f"one span per request, got {[(p, len(v)) for p, v in by_path.items()]}; attrs {spans[0].attrs}")
    assert len({s.span_id for s in spans}) == 7

    # the requests the proxy made
    ctype = "application/json" if protocol == "http/json" else "application/x-protobuf"
    for p in otlp.posts:
        assert p.path == "/v1/traces"
        assert p.content_type == ctype, p.content_type
        assert p.headers.get("content-type", "").startswith(ctype)
        assert p.gzip == (compression == "gzip"), "Content-Encoding: gzip exactly when asked"
        assert p.headers.get("host") == f"{support.HOST}:{otlp.port}"
        assert p.headers.get("x-api-key") == "abc"
        assert p.headers.get("x-tenant") == "team one"
        assert p.status == 200

    seen_upstream = {r.path.split("?", 1)[0]: r for r in upstream.snapshot()}
    for path, (s,) in by_path.items():
        assert_span_basics(s, t0, t1)
        assert s.kind == SERVER, f"{path}: kind {s.kind}"
        # resource and scope
        r = s.resource
        assert r.get("service.name") == SERVICE, "--service-name wins over service.name in the resource variable"
        assert r.get("deployment.environment") == "inter op", r
        assert r.get("team") == "a,b=c", r
        assert r.get("x.unicode") == "café", r
        assert r.get("telemetry.sdk.name") == "traceproxy"
        assert r.get("telemetry.sdk.language") == "swift"
        assert r.get("telemetry.sdk.version")
        assert r.get("service.version")
        assert r.get("host.name") == socket.gethostname()
        assert s.scope_name == "traceproxy"
        assert s.scope_version and s.scope_version == r.get("service.version")
        # attributes
        method = "POST" if path == "/submit" else "GET"
        assert attr(s, METHOD_KEYS) == method, s.attrs
        events = [e.name for e in s.events]
        if path == "/down":
            assert attr(s, STATUS_KEYS) == 502, s.attrs
            assert s.status_code == STATUS_ERROR, f"a failed exchange is an ERROR span, status {s.status_code}"
            err = s.event("error")
            assert err is not None, f"error event, events {events}"
            assert err.attrs.get("error.kind") and err.attrs.get("message"), err.attrs
            assert s.status_message == err.attrs["message"], (s.status_message, err.attrs)
            assert s.event("first_response_byte") is None
        else:
            assert attr(s, STATUS_KEYS) == 200, s.attrs
            assert s.status_code in (UNSET, STATUS_OK) and s.status_message == ""
            assert {"upstream_connected", "first_response_byte"} <= set(events), events
            assert s.event("upstream_connected").time_ns <= s.event("first_response_byte").time_ns
            # the upstream's request carries the proxy's span as its parent
            tp = seen_upstream[path].headers.get("traceparent")
            assert tp == f"00-{s.trace_id}-{s.span_id}-01", f"{path}: upstream got traceparent {tp!r}"
        # parentage
        if path == "/w3c/child":
            assert s.trace_id == in_trace and s.parent_id == in_span, "the proxy's span is the caller's child"
            assert s.flags == FLAGS_REMOTE_PARENT, hex(s.flags)
        else:
            assert s.parent_id == "", "no incoming context: a root span"
            assert s.flags == FLAGS_LOCAL_ROOT, hex(s.flags)
    assert len({s.trace_id for s in spans}) == 7, "each request without context starts its own trace"


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_export_awkward_text(upstream, otlp, proxy_factory, protocol):
    """Text that JSON must escape, and UTF-8, arrives exactly as the client sent it."""
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--otlp-protocol", protocol, "--flush-interval-ms", "100")
    ua = 'agent "quoted" back\\slash\ttab caf\u00e9 \u65e5\u672c \U0001F600 </script>'
    c = Client(proxy.port)
    assert c("GET", "/odd/%22q%22%5C%7B%7D?x=%00&y=%C3%A9", {"User-Agent": ua.encode("utf-8")})[0] == 200
    c.close()
    (s,) = otlp.wait_spans(1, timeout=5)
    assert not otlp.errors, otlp.errors
    ua_attr = attr(s, ("user_agent.original", "http.user_agent"))
    assert ua_attr == ua, f"user agent {ua_attr!r}"
    assert path_of(s) == "/odd/%22q%22%5C%7B%7D"
    url = attr(s, URL_KEYS)
    assert url is None or url.endswith("/odd/%22q%22%5C%7B%7D?x=%00&y=%C3%A9"), url


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_export_invalid_utf8_header(upstream, otlp, proxy_factory, protocol):
    """A header value that is not UTF-8 (obs-text, which HTTP allows) must not make the batch undecodable:
    OTLP string values are UTF-8, and a collector refuses the whole request otherwise."""
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--otlp-protocol", protocol,
                       "--max-batch-spans", "2", "--flush-interval-ms", "60000")
    c = Client(proxy.port)
    assert c("GET", "/latin1", {"User-Agent": b"caf\xe9 \xff"})[0] == 200
    assert c("GET", "/plain")[0] == 200
    c.close()
    otlp.wait_posts(1, timeout=5)
    assert not otlp.errors, f"the collector could not decode the batch: {otlp.errors}"
    spans = otlp.wait_spans(2, timeout=3)
    assert sorted(path_of(s) for s in spans) == ["/latin1", "/plain"]


@pytest.mark.parametrize("incoming", ["b3-64", "uber-64"])
def test_export_64bit_trace_id(upstream, otlp, proxy_factory, incoming):
    """A 64-bit trace id from B3 or Jaeger becomes a 16-byte OTLP trace id, zero-padded on the left."""
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--flush-interval-ms", "100")
    tid, sid = _hex(64), _hex(64)
    headers = ({"X-B3-TraceId": tid, "X-B3-SpanId": sid, "X-B3-Sampled": "1"} if incoming == "b3-64"
               else {"uber-trace-id": f"{tid}:{sid}:0:1"})
    c = Client(proxy.port)
    assert c("GET", "/short", headers)[0] == 200
    c.close()
    (s,) = otlp.wait_spans(1, timeout=5)
    assert s.trace_id == "0" * 16 + tid and s.parent_id == sid, (s.trace_id, s.parent_id)
    assert s.flags == FLAGS_REMOTE_PARENT


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_export_trace_state(upstream, otlp, proxy_factory, protocol):
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--otlp-protocol", protocol, "--flush-interval-ms", "100")
    tid, sid = _hex(128), _hex(64)
    c = Client(proxy.port)
    assert c("GET", "/ts", {"traceparent": f"00-{tid}-{sid}-01", "tracestate": "vendor=abc,other=x1"})[0] == 200
    c.close()
    (s,) = otlp.wait_spans(1, timeout=5)
    (up,) = upstream.snapshot()
    assert up.headers.get("tracestate") == "vendor=abc,other=x1", "forwarded upstream"
    assert s.trace_state == "vendor=abc,other=x1", f"span trace_state {s.trace_state!r}"


@pytest.mark.parametrize("variant", ["generic", "traces"])
def test_environment_configures_the_exporter(upstream, proxy_factory, variant):
    """No --reporter: the OTEL_* variables alone pick the collector, path, encoding, compression, headers."""
    path = "/v1/traces" if variant == "generic" else "/custom/traces"
    col = otlp_collector.OTLPCollector(path=path).start()
    try:
        base = f"http://{support.HOST}:{col.port}"
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
               "OTEL_EXPORTER_OTLP_HEADERS": "X-Api-Key=a%20b%2Cc, X-Other=1,Authorization=Basic dXNlcjpwdw==",
               "OTEL_EXPORTER_OTLP_TIMEOUT": "3000", "OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=pod%2F1"}
        if variant == "generic":
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = base + "/"
        else:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{support.HOST}:9"  # the traces variable wins
            env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = base + path
        proxy = proxy_factory(upstream.url, [], service=SERVICE, env=env, extra=["--flush-interval-ms", "100"])
        send(proxy.port, 2)
        spans = col.wait_spans(2, timeout=5)
        assert not col.errors, col.errors
        assert len(spans) == 2
        for p in col.posts:
            assert p.path == path and p.content_type == "application/json" and p.gzip
            assert p.headers.get("x-api-key") == "a b,c" and p.headers.get("x-other") == "1"
            assert p.headers.get("authorization") == "Basic dXNlcjpwdw==", "a value may hold '='"
        assert spans[0].resource.get("k8s.pod.name") == "pod/1"
    finally:
        col.stop()


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI."""
    import shutil
    if not shutil.which("openssl"):
        pytest.skip("no openssl CLI")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=interop-ca",
             cwd=d)
    for name, ext in [("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")]:
        (d / f"{name}.ext").write_text(ext)
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=interop-{name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


@pytest.mark.parametrize("how", ["flags", "env"])
def test_https_collector_with_client_certificate(upstream, proxy_factory, pki, how):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    ctx.load_verify_locations(str(pki / "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    col = otlp_collector.OTLPCollector(tls=ctx).start()
    try:
        if how == "flags":
            proxy = proxy_factory(upstream.url, [col.url], service=SERVICE, env={}, extra=[
                "--collector-ca", str(pki / "ca.pem"), "--collector-cert", str(pki / "client.pem"),
                "--collector-key", str(pki / "client.key"), "--flush-interval-ms", "100"])
        else:
            proxy = proxy_factory(upstream.url, [], service=SERVICE, extra=["--flush-interval-ms", "100"], env={
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://{support.HOST}:{col.port}/v1/traces",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki / "ca.pem"),
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": str(pki / "client.pem"),
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": str(pki / "client.key")})
        send(proxy.port, 3)
        spans = col.wait_spans(3, timeout=5)
        assert not col.errors, col.errors
        assert len(spans) == 3, proxy.log_tail()
        subject = dict(x[0] for x in col.posts[0].peer_cert["subject"])
        assert subject.get("commonName") == "interop-client", "the proxy presented its client certificate"
    finally:
        col.stop()


# ------------------------------------------------------------------------------------------------
# 2. the exporter rules
# ------------------------------------------------------------------------------------------------
BATCH3 = ("--max-batch-spans", "3", "--flush-interval-ms", "60000")  # the third span sends the batch


def test_retry_503_then_200(upstream, otlp, proxy_factory):
    otlp.plan(503, OK)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3)
    send(proxy.port, 3)
    posts = otlp.wait_posts(2, timeout=5)
    time.sleep(0.6)  # a third attempt would show now
    posts = otlp.posts
    assert [p.status for p in posts] == [503, 200], [p.status for p in posts]
    ids = [sorted(s.span_id for s in p.spans) for p in posts]
    assert ids[0] == ids[1] and len(ids[0]) == 3, "the retry resends the same batch"
    gap = posts[1].t - posts[0].t
    assert 0.08 <= gap <= 1.5, f"first backoff ~200 ms with jitter, waited {gap:.3f}s"
    m = settled(proxy, otlp.label, reported=3)
    assert m["reported"] == 3 and m["dropped"] == 0, dict(m)


@pytest.mark.parametrize("status", [429, 502, 504])
def test_retry_after_is_honoured(upstream, otlp, proxy_factory, status):
    otlp.plan((status, {"Retry-After": "1"}), OK)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3)
    send(proxy.port, 3)
    posts = otlp.wait_posts(2, timeout=5)
    assert [p.status for p in posts] == [status, 200]
    gap = posts[1].t - posts[0].t
    assert 0.9 <= gap <= 2.5, f"Retry-After: 1 -> the retry waits ~1 s, waited {gap:.3f}s"
    m = settled(proxy, otlp.label, reported=3)
    assert m["reported"] == 3 and m["dropped"] == 0, dict(m)


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_not_retried(upstream, otlp, proxy_factory, status):
    otlp.plan(status)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3)
    send(proxy.port, 3)
    otlp.wait_posts(1, timeout=5)
    assert support.wait_until(lambda: series(proxy, otlp.label)["send_failed"] == 3, 3), dict(
        series(proxy, otlp.label))
    time.sleep(0.8)  # the first retry would come after ~0.1-0.2 s
    assert [p.status for p in otlp.posts] == [status], f"{status} is not retried: {[p.status for p in otlp.posts]}"
    m = series(proxy, otlp.label)
    assert m["send_failed"] == 3 and m["reported"] == 0, dict(m)
    # the exporter goes on with the next batch
    send(proxy.port, 3, prefix="/after")
    assert len(otlp.wait_spans(3, timeout=5)) == 3
    assert support.wait_until(lambda: series(proxy, otlp.label)["reported"] == 3, 3)


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_partial_success(upstream, otlp, proxy_factory, protocol):
    otlp.plan(Partial(2, "quota exceeded for tenant"))
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3, "--otlp-protocol", protocol)
    send(proxy.port, 3)
    otlp.wait_posts(1, timeout=5)
    assert support.wait_until(lambda: series(proxy, otlp.label)["rejected"] == 2, 3), dict(series(proxy, otlp.label))
    time.sleep(0.6)
    assert len(otlp.posts) == 1, "a partial success is not retried"
    m = series(proxy, otlp.label)
    assert m["rejected"] == 2 and m["reported"] == 1 and m["send_failed"] == 0, dict(m)
    log = proxy.log_tail(20000)
    warn = [l for l in log.splitlines() if "quota exceeded for tenant" in l]
    assert warn and "warn" in warn[0].lower(), f"a warning with the collector's message; log:\n{log}"


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_partial_success_message_with_quotes(upstream, otlp, proxy_factory, protocol):
    msg = 'span "GET /x" rejected: attribute \\ limit'
    otlp.plan(Partial(1, msg))
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3, "--otlp-protocol", protocol)
    send(proxy.port, 3)
    assert support.wait_until(lambda: series(proxy, otlp.label)["rejected"] == 1, 5)
    log = proxy.log_tail(20000)
    assert msg in log, f"the collector's message, whole: {msg!r}; log:\n{log}"


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_partial_success_chunked_answer(upstream, otlp, proxy_factory, protocol):
    """The collector's answer framed with Transfer-Encoding: chunked is read like any other."""
    otlp.plan(Partial(2, "chunked answer", chunked=True), OK)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3, "--otlp-protocol", protocol)
    send(proxy.port, 3)
    assert support.wait_until(lambda: series(proxy, otlp.label)["rejected"] == 2, 5), dict(series(proxy, otlp.label))
    send(proxy.port, 3, prefix="/next")  # the connection is still good for the next batch
    assert support.wait_until(lambda: series(proxy, otlp.label)["reported"] == 4, 5), dict(series(proxy, otlp.label))
    assert [p.status for p in otlp.posts] == [200, 200]
    assert "chunked answer" in proxy.log_tail(20000)


def test_retry_after_beyond_the_batch_timeout(upstream, otlp, proxy_factory):
    """Retry-After longer than what is left of --otlp-timeout-ms: the batch ends at its timeout, not later."""
    otlp.plan((503, {"Retry-After": "30"}), OK)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3, "--otlp-timeout-ms", "1000")
    t = time.monotonic()
    send(proxy.port, 3)
    assert support.wait_until(lambda: series(proxy, otlp.label)["send_failed"] == 3, 5)
    assert time.monotonic() - t < 1.0 + 0.8
    assert len(otlp.posts) == 1


def test_partial_success_message_only_is_logged(upstream, otlp, proxy_factory):
    otlp.plan(Partial(0, "heads up: attribute limit reached"))
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, *BATCH3)
    send(proxy.port, 3)
    otlp.wait_posts(1, timeout=5)
    assert support.wait_until(lambda: series(proxy, otlp.label)["reported"] == 3, 3)
    time.sleep(0.5)
    assert len(otlp.posts) == 1
    assert series(proxy, otlp.label)["rejected"] == 0
    log = proxy.log_tail(20000)
    assert "heads up: attribute limit reached" in log, f"the collector's message is logged; log:\n{log}"


def test_hanging_collector(upstream, otlp, proxy_factory):
    otlp.plan(HANG)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--otlp-timeout-ms", "700",
                       "--max-batch-spans", "2", "--flush-interval-ms", "100")
    send(proxy.port, 2, prefix="/first")
    (hung,) = otlp.wait_posts(1, timeout=5)
    assert hung.status == 0
    # the proxy keeps serving while its exporter waits
    c = Client(proxy.port)
    for i in range(10):
        t = time.monotonic()
        assert c("GET", f"/during/{i}")[0] == 200
        assert time.monotonic() - t < 0.3, "a hung collector must not slow requests"
    c.close()
    assert support.wait_until(lambda: series(proxy, otlp.label)["send_failed"] >= 2, 3)
    gave_up = time.monotonic() - hung.t
    assert gave_up <= 0.7 + 0.8, f"the batch gave up {gave_up:.2f}s after its POST, --otlp-timeout-ms 700"
    # the next batches go out on a new connection and are delivered
    spans = otlp.wait_spans(10, pred=lambda s: (path_of(s) or "").startswith("/during/"), timeout=10)
    assert len(spans) == 10
    m = settled(proxy, otlp.label, send_failed=2, reported=10)
    assert m["send_failed"] == 2 and m["reported"] == 10, dict(m)
    assert not otlp.errors


def test_hanging_collector_total_timeout(upstream, otlp, proxy_factory):
    """A collector that never answers and is retried: the whole batch stays within --otlp-timeout-ms."""
    otlp.plan(HANG, HANG, HANG, HANG, HANG, HANG, HANG, HANG)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--otlp-timeout-ms", "1500",
                       "--max-batch-spans", "1", "--flush-interval-ms", "60000")
    t = time.monotonic()
    send(proxy.port, 1)
    assert support.wait_until(lambda: series(proxy, otlp.label)["send_failed"] >= 1, 5)
    took = time.monotonic() - t
    assert 1.2 <= took <= 1.5 + 0.8, f"one batch took {took:.2f}s with --otlp-timeout-ms 1500"
    assert 1 <= len(otlp.posts) <= 8


@pytest.mark.parametrize("how", [otlp_collector.CLOSE, otlp_collector.DROP])
def test_collector_closes_connections(upstream, otlp, proxy_factory, how):
    """After each answer the collector closes the connection (with "Connection: close", or silently like an
    idle timeout): every later batch still arrives, none is counted as failed."""
    otlp.plan(*[how] * 10)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--max-batch-spans", "2", "--flush-interval-ms", "60000")
    for i in range(4):
        send(proxy.port, 2, prefix=f"/b{i}")
        otlp.wait_spans(2 * (i + 1), timeout=5)
        time.sleep(0.15)  # let the close reach the proxy's idle connection
    assert len(otlp.spans()) == 8
    m = settled(proxy, otlp.label, reported=8)
    assert m["reported"] == 8 and m["dropped"] == 0, dict(m)


def test_sigterm_with_hanging_collector(upstream, otlp, proxy_factory):
    """SIGTERM while the collector never answers: the proxy still exits 0, within the drain bound."""
    otlp.plan(*[HANG] * 10)
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--max-batch-spans", "2", "--flush-interval-ms", "60000",
                       "--drain-timeout-ms", "1000")
    send(proxy.port, 4)
    otlp.wait_posts(1, timeout=5)
    t = time.monotonic()
    proxy.signal(signal.SIGTERM)
    code = proxy.wait(15)
    took = time.monotonic() - t
    assert code == 0, proxy.log_tail()
    assert took < 4.0, f"exit took {took:.1f}s"


def test_reporters_are_independent(upstream, otlp, collector, proxy_factory):
    """Two OTLP collectors and a Zipkin one: each gets every span; one that hangs holds back no other."""
    other = otlp_collector.OTLPCollector(path="/other/traces").start()
    try:
        other.plan(*[HANG] * 20)
        proxy = proxy_factory(upstream.url, [otlp.url, other.url, collector.url], service=SERVICE, env={},
                              extra=["--flush-interval-ms", "100", "--otlp-timeout-ms", "1500",
                                     "--drain-timeout-ms", "500"])
        assert other.url.endswith("/other/traces")
        send(proxy.port, 20)
        assert len(otlp.wait_spans(20, timeout=5)) == 20, "the hung collector holds back its own lane only"
        assert support.wait_until(lambda: len(collector.snapshot()) >= 20, 5), len(collector.snapshot())
        assert other.wait_posts(1, timeout=5) and other.spans() == []
        assert settled(proxy, otlp.label, reported=20)["reported"] == 20
        assert series(proxy, other.label)["reported"] == 0
        assert not otlp.errors and not other.errors and not collector.errors
    finally:
        other.stop()


# ------------------------------------------------------------------------------------------------
# 3. volume and shutdown
# ------------------------------------------------------------------------------------------------
REQUESTS = 10_000


def test_volume(upstream, otlp, proxy_factory):
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--max-queue-spans", "50000",
                       "--flush-interval-ms", "200")
    t0 = time.monotonic()
    problems = support.hammer(proxy.port, REQUESTS, 8, path_of=lambda i: f"/v/{i}")
    assert not problems, f"{len(problems)} client problems, first: {problems[:5]}"
    otlp.wait_spans(REQUESTS, timeout=30)
    time.sleep(0.5)
    spans = otlp.spans()
    elapsed = time.monotonic() - t0
    assert not otlp.errors, otlp.errors[:3]
    assert len(spans) == REQUESTS, f"{len(spans)} spans at the collector after {elapsed:.1f}s"
    assert len({s.span_id for s in spans}) == REQUESTS, "unique span ids"
    paths = sorted(int(path_of(s).rsplit("/", 1)[1]) for s in spans)
    assert paths == list(range(REQUESTS)), "one span per request"
    assert {s.kind for s in spans} == {SERVER}
    assert {s.status_code for s in spans} <= {UNSET, STATUS_OK}
    assert all(p.status == 200 for p in otlp.posts)
    assert len(otlp.posts) < REQUESTS / 10, "spans are batched"
    m = settled(proxy, otlp.label, reported=REQUESTS)
    assert m["dropped"] == 0 and m["reported"] == REQUESTS, dict(m)


def test_volume_json_gzip(upstream, otlp, proxy_factory):
    n = 2000
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--otlp-protocol", "http/json", "--otlp-compression",
                       "gzip", "--flush-interval-ms", "200")
    problems = support.hammer(proxy.port, n, 4, path_of=lambda i: f"/j/{i}")
    assert not problems, problems[:5]
    otlp.wait_spans(n, timeout=20)
    time.sleep(0.3)
    assert not otlp.errors, otlp.errors[:3]
    spans = otlp.spans()
    assert len(spans) == n and len({s.span_id for s in spans}) == n
    m = settled(proxy, otlp.label, reported=n)
    assert m["dropped"] == 0 and m["reported"] == n, dict(m)


def test_sigterm_flushes(upstream, otlp, proxy_factory):
    n = 300
    proxy = otlp_proxy(proxy_factory, upstream.url, otlp, "--flush-interval-ms", "60000",
                       "--max-batch-spans", "1000")
    problems = support.hammer(proxy.port, n, 4, path_of=lambda i: f"/t/{i}")
    assert not problems, problems[:5]
    assert otlp.posts == [], "nothing is sent before the interval or a full batch"
    proxy.signal(signal.SIGTERM)
    assert proxy.wait(15) == 0, proxy.log_tail()
    spans = otlp.spans()  # the proxy waited for the answers before it exited
    assert not otlp.errors
    assert len(spans) == n and len({s.span_id for s in spans}) == n, f"{len(spans)} spans of {n}"


# ------------------------------------------------------------------------------------------------
# 4. an OpenTelemetry SDK app between two traceproxies
# ------------------------------------------------------------------------------------------------
FRONT, EGRESS = "traceproxy-front", "traceproxy-egress"


@pytest.fixture(scope="module")
def sdk_stack(tmp_path_factory):
    logs = tmp_path_factory.mktemp("otel-app")
    col = otlp_collector.OTLPCollector().start()
    backend = support.Upstream().start()
    egress = front = app = None
    app_log = open(logs / "app.log", "wb")
    try:
        egress = support.Proxy(backend.url, [col.url], service=EGRESS, log_dir=str(logs), env={},
                               extra=["--span-kind", "client", "--flush-interval-ms", "100"]).start()
        app_port = support.free_port()
        app = subprocess.Popen(
            [sys.executable, "-W", "ignore::DeprecationWarning", os.path.join(support.HERE, "otel_app.py"),
             str(app_port), f"http://{support.HOST}:{col.port}/v1/traces", egress.url],
            stdin=subprocess.DEVNULL, stdout=app_log, stderr=subprocess.STDOUT, env=support.clean_environ())
        assert support.wait_port(app_port, 30, app), "app did not start: " + \
            (logs / "app.log").read_text(errors="replace")[-3000:]
        front = support.Proxy(f"http://{support.HOST}:{app_port}", [col.url], service=FRONT, log_dir=str(logs),
                              env={}, extra=["--flush-interval-ms", "100"]).start()
        yield col, backend, front
    finally:
        codes = [(p, p.stop()) for p in (front, egress) if p is not None]
        if app is not None and app.poll() is None:
            app.terminate()  # by pid
            try:
                app.wait(timeout=5)
            except subprocess.TimeoutExpired:
                app.kill()
        app_log.close()
        backend.stop()
        col.stop()
        for p, code in codes:
            assert code == 0, f"traceproxy exit code {code}\n{p.log_tail()}"


@pytest.mark.parametrize("incoming", ["none", "w3c"])
def test_sdk_app_between_proxies(sdk_stack, incoming):
    col, backend, front = sdk_stack
    headers, in_trace, in_span = {}, None, None
    if incoming == "w3c":
        in_trace, in_span = _hex(128), _hex(64)
        headers = {"traceparent": f"00-{in_trace}-{in_span}-01"}
    c = Client(front.port)
    status, body = c("GET", f"/hello/{incoming}", headers)
    c.close()
    assert status == 200, body[:300]
    seen = json.loads(body)
    assert seen["downstream_status"] == 200
    trace_id = seen["trace_id"]

    # front proxy (SERVER) -> app server span (SERVER) -> app's requests span (CLIENT) -> egress proxy (CLIENT)
    in_trace_spans = col.wait_spans(4, pred=lambda s: s.trace_id == trace_id, timeout=10)
    time.sleep(0.3)
    in_trace_spans = [s for s in col.spans() if s.trace_id == trace_id]
    assert not col.errors, col.errors
    summary = [(s.service, s.kind, s.span_id, s.parent_id) for s in in_trace_spans]
    by = collections.defaultdict(list)
    for s in in_trace_spans:
        by[(s.service, s.kind)].append(s)
    assert sorted(by) == sorted([(FRONT, SERVER), ("otel-app", SERVER), ("otel-app", CLIENT), (EGRESS, CLIENT)]) \
        and all(len(v) == 1 for v in by.values()), f"one trace of four spans, got {summary}"
    (p1,), (app,), (out,), (p2,) = (by[(FRONT, SERVER)], by[("otel-app", SERVER)], by[("otel-app", CLIENT)],
                                    by[(EGRESS, CLIENT)])
    assert app.span_id == seen["span_id"] and app.parent_id == seen["parent_id"]
    assert app.parent_id == p1.span_id, f"the app's server span is the proxy's child: {summary}"
    assert seen["traceparent"] == f"00-{trace_id}-{p1.span_id}-01"
    assert out.parent_id == app.span_id, summary
    assert p2.parent_id == out.span_id, f"the egress proxy's CLIENT span continues the app's call: {summary}"
    assert p2.flags == FLAGS_REMOTE_PARENT
    assert path_of(p2) == f"/backend/{incoming}"
    tp = [r.headers.get("traceparent") for r in backend.snapshot() if r.path == f"/backend/{incoming}"]
    assert tp == [f"00-{trace_id}-{p2.span_id}-01"], tp
    if in_trace is None:
        assert p1.parent_id == "" and p1.flags == FLAGS_LOCAL_ROOT
    else:
        assert trace_id == in_trace and p1.parent_id == in_span and p1.flags == FLAGS_REMOTE_PARENT
    # the SDK's spans and the proxies' decode alike: one resource per service
    assert app.resource.get("telemetry.sdk.language") == "python"
    assert p1.resource.get("telemetry.sdk.language") == "swift"
    # causal order of the starts (two processes reading CLOCK_REALTIME)
    assert p1.start_ns <= app.start_ns + SLACK_NS and app.start_ns <= out.start_ns
    assert out.start_ns <= p2.start_ns + SLACK_NS


# ------------------------------------------------------------------------------------------------
# 5. the environment, through --print-config
# ------------------------------------------------------------------------------------------------
def print_config(env: dict, *args: str):
    """-> (exit code, {key: value}, stderr)"""
    cmd = [support.traceproxy_path(), "--upstream", "http://127.0.0.1:9", "--print-config", *args]
    r = subprocess.run(cmd, env=dict(support.clean_environ(), **env), capture_output=True, text=True, timeout=10)
    cfg = {}
    for line in r.stdout.splitlines():
        k, sep, v = line.partition(" = ")
        if sep:
            cfg[k] = v
    return r.returncode, cfg, r.stderr


E = "OTEL_EXPORTER_OTLP_"
T = "OTEL_EXPORTER_OTLP_TRACES_"

CONFIG_CASES = [
    # (id, env, args, {key: expected value})
    ("endpoint", {E + "ENDPOINT": "http://col:4318"}, [], {"reporter": "otlp+http://col:4318"}),
    ("endpoint-base-path", {E + "ENDPOINT": "http://col:1234/base/"}, [],
     {"reporter": "otlp+http://col:1234/base/v1/traces"}),
    ("endpoint-https", {E + "ENDPOINT": "https://col:4318"}, [], {"reporter": "otlp+https://col:4318"}),
    ("traces-endpoint-as-is", {T + "ENDPOINT": "http://col:9/custom/path"}, [],
     {"reporter": "otlp+http://col:9/custom/path"}),
    ("traces-endpoint-no-path", {T + "ENDPOINT": "http://col:9"}, [], {"reporter": "otlp+http://col:9/"}),
    ("traces-endpoint-wins", {E + "ENDPOINT": "http://generic:1", T + "ENDPOINT": "http://traces:2/v1/traces"}, [],
     {"reporter": "otlp+http://traces:2"}),
    ("reporter-flag-wins", {E + "ENDPOINT": "http://generic:1"}, ["--reporter", "otlp+http://flag:3"],
     {"reporter": "otlp+http://flag:3"}),
    ("protocol", {E + "PROTOCOL": "http/json"}, [], {"otlp-protocol": "http/json"}),
    ("protocol-default", {}, [], {"otlp-protocol": "http/protobuf", "otlp-compression": "none",
                                  "otlp-headers": "none", "otlp-timeout-ms": "10000", "resource-attributes": "none"}),
    ("protocol-traces-wins", {E + "PROTOCOL": "http/json", T + "PROTOCOL": "http/protobuf"}, [],
     {"otlp-protocol": "http/protobuf"}),
    ("protocol-traces-wins-over-grpc", {E + "PROTOCOL": "grpc", T + "PROTOCOL": "http/json"}, [],
     {"otlp-protocol": "http/json"}),
    ("protocol-flag-wins", {T + "PROTOCOL": "http/protobuf"}, ["--otlp-protocol", "http/json"],
     {"otlp-protocol": "http/json"}),
    ("compression", {E + "COMPRESSION": "gzip"}, [], {"otlp-compression": "gzip"}),
    ("compression-traces-wins", {E + "COMPRESSION": "gzip", T + "COMPRESSION": "none"}, [],
     {"otlp-compression": "none"}),
    ("compression-flag-wins", {T + "COMPRESSION": "gzip"}, ["--otlp-compression", "none"],
     {"otlp-compression": "none"}),
    ("headers", {E + "HEADERS": "api-key=s3cr3t-value,X-Tenant=a%20b"}, [], {"otlp-headers": "api-key,X-Tenant"}),
    ("headers-traces-wins", {E + "HEADERS": "a=1", T + "HEADERS": "b=2"}, [], {"otlp-headers": "b"}),
    ("headers-flag-wins", {T + "HEADERS": "b=2"}, ["--otlp-header", "c=3", "--otlp-header", "d=4"],
     {"otlp-headers": "c,d"}),
    ("timeout", {E + "TIMEOUT": "2500"}, [], {"otlp-timeout-ms": "2500"}),
    ("timeout-traces-wins", {E + "TIMEOUT": "2500", T + "TIMEOUT": "750"}, [], {"otlp-timeout-ms": "750"}),
    ("timeout-flag-wins", {T + "TIMEOUT": "750"}, ["--otlp-timeout-ms", "123"], {"otlp-timeout-ms": "123"}),
    ("certificates", {E + "ENDPOINT": "https://col:4318", E + "CERTIFICATE": "/etc/ca.pem",
                      E + "CLIENT_CERTIFICATE": "/etc/c.pem", E + "CLIENT_KEY": "/etc/k.pem"}, [],
     {"collector-ca": "/etc/ca.pem", "collector-cert": "/etc/c.pem", "collector-key": "/etc/k.pem"}),
    ("certificates-traces-win", {E + "ENDPOINT": "https://col:4318", E + "CERTIFICATE": "/g/ca.pem",
                                 T + "CERTIFICATE": "/t/ca.pem", E + "CLIENT_CERTIFICATE": "/g/c.pem",
                                 T + "CLIENT_CERTIFICATE": "/t/c.pem", E + "CLIENT_KEY": "/g/k.pem",
                                 T + "CLIENT_KEY": "/t/k.pem"}, [],
     {"collector-ca": "/t/ca.pem", "collector-cert": "/t/c.pem", "collector-key": "/t/k.pem"}),
    ("certificates-flags-win", {T + "CERTIFICATE": "/t/ca.pem", T + "CLIENT_CERTIFICATE": "/t/c.pem",
                                T + "CLIENT_KEY": "/t/k.pem"},
     ["--reporter", "otlp+https://col:4318", "--collector-ca", "/f/ca.pem", "--collector-cert", "/f/c.pem",
      "--collector-key", "/f/k.pem"],
     {"collector-ca": "/f/ca.pem", "collector-cert": "/f/c.pem", "collector-key": "/f/k.pem"}),
    ("traces-exporter-list", {"OTEL_TRACES_EXPORTER": "otlp,zipkin,console", E + "ENDPOINT": "http://col:1"}, [],
     {"reporter": "otlp+http://col:1 zipkin+http://localhost:9411 stdout"}),
    ("traces-exporter-otlp-default", {"OTEL_TRACES_EXPORTER": "otlp"}, [], {"reporter": "otlp+http://localhost:4318"}),
    ("traces-exporter-jaeger", {"OTEL_TRACES_EXPORTER": "jaeger"}, [], {"reporter": "jaeger-udp://127.0.0.1:6831"}),
    ("traces-exporter-none", {"OTEL_TRACES_EXPORTER": "none", E + "ENDPOINT": "http://col:1"}, [],
     {"reporter": "none"}),
    ("sdk-disabled", {"OTEL_SDK_DISABLED": "true", E + "ENDPOINT": "http://col:1"}, [], {"reporter": "none"}),
    ("sdk-disabled-flag-wins", {"OTEL_SDK_DISABLED": "true"}, ["--reporter", "otlp+http://flag:3"],
     {"reporter": "otlp+http://flag:3"}),
    ("resource", {"OTEL_RESOURCE_ATTRIBUTES": "a=b%20c,team=x%2Cy,service.name=svc%2Dres"}, [],
     {"resource-attributes": "a=b c,team=x,y,service.name=svc-res", "service-name": "svc-res"}),
    ("service-name-env-wins", {"OTEL_RESOURCE_ATTRIBUTES": "service.name=res", "OTEL_SERVICE_NAME": "env"}, [],
     {"service-name": "env"}),
    ("service-name-flag-wins", {"OTEL_RESOURCE_ATTRIBUTES": "service.name=res", "OTEL_SERVICE_NAME": "env"},
     ["--service-name", "flag"], {"service-name": "flag"}),
]


@pytest.mark.parametrize("env,args,want", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_print_config(env, args, want):
    # The OTLP variables apply to an OTLP reporter only; cases about them get one.
    if "reporter" not in want and "OTEL_TRACES_EXPORTER" not in env:
        env = dict(env, OTEL_TRACES_EXPORTER="otlp")
    code, cfg, err = print_config(env, *args)
    assert code == 0, err
    got = {k: cfg.get(k) for k in want}
    assert got == want, f"env {env} args {args}"
    for v in env.values():
        if "s3cr3t" in v:
            assert "s3cr3t" not in json.dumps(cfg), "header values are never printed"


@pytest.mark.parametrize("env,want", [
    ({E + "ENDPOINT": "https://api.vendor.example"}, "otlp+https://api.vendor.example:443"),
    ({T + "ENDPOINT": "https://api.vendor.example/v1/traces"}, "otlp+https://api.vendor.example:443"),
    ({E + "ENDPOINT": "http://col"}, "otlp+http://col:80"),
], ids=["generic-https", "traces-https", "generic-http"])
def test_endpoint_without_port_uses_the_scheme_port(env, want):
    code, cfg, err = print_config(env)
    assert code == 0, err
    assert cfg.get("reporter") == want


@pytest.mark.parametrize("var", [E + "PROTOCOL", T + "PROTOCOL"])
def test_grpc_refused(var):
    code, cfg, err = print_config({var: "grpc", E + "ENDPOINT": "http://col:4317"})
    lines = err.strip().splitlines()
    assert code == 2 and not cfg, (code, cfg)
    assert len(lines) == 1 and var in lines[0] and "grpc" in lines[0].lower(), err
