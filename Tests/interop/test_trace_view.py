"""The trace view's JSON API (/api/spans, /api/routes, /api/traces/{id}) after real traffic through
the release binary: filters, per-route statistics, the trace of a chain of two proxies, and the
security headers. The page itself is driven in a browser by test_trace_page.py."""
from __future__ import annotations

import http.client
import json
import urllib.parse

import support

HOST = support.HOST
VIEW = ["--trace-view", "--flush-interval-ms", "50"]


def get(port: int, target: str, headers: dict | None = None):
    c = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        c.request("GET", target, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def api(port: int, target: str):
    status, _, body = get(port, target)
    return status, json.loads(body)


def spans(port: int, **params) -> list[dict]:
    status, body = api(port, "/api/spans?" + urllib.parse.urlencode(params))
    assert status == 200, body
    return body["spans"]


def wait_spans(port: int, n: int, **params) -> list[dict]:
    got = support.wait_until(lambda: (lambda s: s if len(s) >= n else None)(spans(port, limit=1000, **params)),
                             timeout=10)
    assert got, f"fewer than {n} spans for {params}: {spans(port, limit=1000, **params)}"
    return got


def test_api_after_traffic(upstream, proxy_factory):
    p = proxy_factory(upstream.url, [], extra=VIEW)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    for i in range(20):
        assert get(p.port, f"/users/{i}")[0] == 200
    for _ in range(3):
        assert get(p.port, "/slow/200")[0] == 200
    for code in (404, 503, 503):
        assert get(p.port, f"/status/{code}")[0] == code
    assert get(p.port, "/traced", {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})[0] == 200
    everything = wait_spans(p.admin_port, 27)
    assert len(everything) == 27
    # newest first
    starts = [s["start_us"] for s in everything]
    assert starts == sorted(starts, reverse=True)
    assert everything[0]["path"] == "/traced"

    users = spans(p.admin_port, route="GET /users/{id}", limit=100)
    assert len(users) == 20 and {s["status"] for s in users} == {200}
    slow = spans(p.admin_port, min_ms=150)
    assert [s["name"] for s in slow] == ["GET /slow/{id}"] * 3
    assert all(s["duration_us"] >= 200_000 for s in slow)
    failed = spans(p.admin_port, status="5xx")
    assert [s["status"] for s in failed] == [503, 503] and all(s["error"] for s in failed)
    assert [s["status"] for s in spans(p.admin_port, status="4xx")] == [404]
    assert [s["status"] for s in spans(p.admin_port, status="error")] == [503, 503]
    by_trace = spans(p.admin_port, trace_id=trace[:12])
    assert [s["trace_id"] for s in by_trace] == [trace]
    assert by_trace[0]["parent_id"] == "00f067aa0ba902b7"
    status, body = api(p.admin_port, "/api/spans?status=7xx")
    assert status == 400 and "status" in body["error"]

    status, routes = api(p.admin_port, "/api/routes")
    assert status == 200
    by_name = {r["route"]: r for r in routes["routes"]}
    assert by_name["GET /users/{id}"]["1m"]["count"] == 20
    assert by_name["GET /users/{id}"]["5m"]["count"] == 20
    slow_route = by_name["GET /slow/{id}"]["1m"]
    assert slow_route["count"] == 3 and slow_route["errors"] == 0
    assert 200_000 * 0.96 <= slow_route["p50_us"] <= 400_000
    assert slow_route["p50_us"] <= slow_route["p90_us"] <= slow_route["p99_us"]
    status_route = by_name["GET /status/{id}"]["1m"]
    assert status_route["count"] == 3 and status_route["errors"] == 2
    assert abs(status_route["error_rate"] - 2 / 3) < 0.001
    assert status_route["rate"] > 0
    assert len(by_name["GET /users/{id}"]["series"]) == 30

    status, t = api(p.admin_port, f"/api/traces/{trace}")
    assert status == 200 and t["trace_id"] == trace
    (s,) = t["spans"]
    assert s["path"] == "/traced" and s["parent_id"] == "00f067aa0ba902b7"
    assert s["upstream_connected_us"] is not None and s["first_response_byte_us"] is not None
    assert 0 <= s["upstream_connected_us"] <= s["first_response_byte_us"] <= s["duration_us"]
    tags = {x["key"]: x["value"] for x in s["tags"]}
    assert tags["http.status_code"] == 200 and tags["http.method"] == "GET"
    events = [f["value"] for log in s["logs"] for f in log["fields"] if f["key"] == "event"]
    assert "first_response_byte" in events
    assert api(p.admin_port, "/api/traces/" + "ab" * 16)[0] == 404
    assert api(p.admin_port, "/api/traces/nothex")[0] == 400

    m = p.metrics()
    assert m[("traceproxy_request_duration_seconds_count",
              frozenset({("route", "GET /status/{id}"), ("code", "5xx")}))] == 2
    assert m[("traceproxy_request_duration_seconds_bucket",
              frozenset({("route", "GET /slow/{id}"), ("code", "2xx"), ("le", "0.1")}))] == 0
    assert m[("traceproxy_request_duration_seconds_bucket",
              frozenset({("route", "GET /slow/{id}"), ("code", "2xx"), ("le", "+Inf")}))] == 3
    assert m[("traceproxy_trace_view_spans", frozenset())] == 27
    assert m[("traceproxy_trace_view_bytes", frozenset())] > 0


def test_security_headers_and_redirect(upstream, proxy_factory):
    p = proxy_factory(upstream.url, [], extra=VIEW)
    for target in ("/traces", "/traces.js", "/traces.css", "/api/spans", "/api/routes"):
        status, headers, _ = get(p.admin_port, target)
        assert status == 200, target
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    status, headers, _ = get(p.admin_port, "/")
    assert status == 302 and headers["location"] == "/traces"
    # the proxy listener knows nothing of the page: /traces there goes to the upstream
    get(p.port, "/traces")
    assert upstream.snapshot()[-1].path == "/traces"


def test_off_by_default(upstream, proxy_factory):
    p = proxy_factory(upstream.url, [])
    assert get(p.admin_port, "/traces")[0] == 404
    assert get(p.admin_port, "/api/spans")[0] == 404


def test_chain_each_proxy_holds_its_own_span(upstream, proxy_factory):
    """Two proxies with the page on, one behind the other: each shows its own span of the trace,
    the inner one's parent being the outer one's span."""
    inner = proxy_factory(upstream.url, [], extra=VIEW)
    outer = proxy_factory(inner.url, [], extra=VIEW)
    assert get(outer.port, "/chain/1")[0] == 200
    (o,) = wait_spans(outer.admin_port, 1)
    (i,) = wait_spans(inner.admin_port, 1)
    assert o["trace_id"] == i["trace_id"]
    assert i["parent_id"] == o["span_id"]
    for port, own in ((outer.admin_port, o), (inner.admin_port, i)):
        status, t = api(port, f"/api/traces/{o['trace_id']}")
        assert status == 200 and [s["span_id"] for s in t["spans"]] == [own["span_id"]]


def test_bounded_store(upstream, proxy_factory):
    p = proxy_factory(upstream.url, [], extra=VIEW + ["--trace-view-spans", "50"])
    problems = support.hammer(p.port, total=400, threads=4, path_of=lambda i: f"/item/{i}")
    assert not problems, problems[:3]
    assert support.wait_until(lambda: p.metrics().get(("traceproxy_spans_sampled_total", frozenset())) == 400, 10)
    support.wait_until(lambda: api(p.admin_port, "/api/routes")[1]["routes"][0]["5m"]["count"] == 400, 10)
    status, body = api(p.admin_port, "/api/spans?limit=1000")
    # 50 recent plus at most 5 slowest of the one route
    assert body["capacity"] == 50 and 50 <= body["held"] <= 55 and len(body["spans"]) == body["held"]
    assert api(p.admin_port, "/api/routes")[1]["routes"][0]["5m"]["count"] == 400
