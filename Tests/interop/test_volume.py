"""10,000 requests through the proxy: every span arrives exactly once, decodable by independent code."""
from __future__ import annotations

import collections
import time

import support

REQUESTS = 10_000
CLIENT_THREADS = 8
MAX_DATAGRAM = 65000  # jaeger clients' UDP limit (specs/README.md, "Jaeger agent UDP")


def _assert_no_loss(proxy: support.Proxy, expected: int):
    m = proxy.metrics()
    dropped = support.metric_sum(m, "traceproxy_spans_dropped_total")
    reported = support.metric_sum(m, "traceproxy_spans_reported_total")
    assert dropped == 0, f"traceproxy_spans_dropped_total = {dropped} (None: metric missing)"
    assert reported == expected, f"traceproxy_spans_reported_total = {reported}, expected {expected}"


def test_volume_jaeger(upstream, agent, proxy_factory):
    service = "interop-volume-jaeger"
    proxy = proxy_factory(upstream.url, [agent.url], service=service,
                          extra=["--max-queue-spans", "50000", "--flush-interval-ms", "200"])
    t0 = time.monotonic()
    problems = support.hammer(proxy.port, REQUESTS, CLIENT_THREADS)
    assert not problems, f"{len(problems)} client problems, first: {problems[:5]}"
    assert len(upstream.snapshot()) == REQUESTS

    spans = agent.wait_spans(count=REQUESTS, timeout=30)
    agent.settle()
    spans = agent.snapshot()
    elapsed = time.monotonic() - t0

    assert not agent.errors, f"undecodable datagrams: {agent.errors[:3]}"
    assert len(spans) == REQUESTS, (
        f"{len(spans)} spans decoded, expected {REQUESTS} ({elapsed:.1f}s, {len(agent.sizes)} datagrams, "
        f"kernel dropped {agent.kernel_drops()} on the agent socket)")
    ids = collections.Counter(s.span_id for s in spans)
    dup = [f"{k:016x}x{v}" for k, v in ids.items() if v > 1]
    assert not dup, f"duplicate span ids: {dup[:5]}"
    assert 0 not in ids
    assert {s.service for s in spans} == {service}
    assert all(s.parent_id == 0 and s.trace_id != 0 for s in spans), "requests without context are roots"
    assert len({s.trace_id for s in spans}) == REQUESTS, "each root span starts its own trace"
    flagged = [s for s in spans if "error" in s.tags]
    assert not flagged, f"{len(flagged)} spans of 200 responses carry an error tag, e.g. {flagged[0].tags}"
    assert {str(s.tags.get("http.status_code")) for s in spans} == {"200"}
    assert max(agent.sizes) <= MAX_DATAGRAM, f"largest datagram {max(agent.sizes)} bytes"
    assert len(agent.sizes) < REQUESTS, "spans are batched"
    assert set(agent.message_types) <= {1, 4}, f"message types {set(agent.message_types)} (CALL=1, ONEWAY=4)"
    # every request path shows up on exactly one span (http.target, or http.url ending in the path)
    targets = [str(s.tags.get("http.target") or s.tags.get("http.url") or "") for s in spans]
    items = sorted(int(t.rsplit("/item/", 1)[-1]) for t in targets if "/item/" in t)
    assert items == list(range(REQUESTS)), "one span per request path"
    _assert_no_loss(proxy, REQUESTS)


def _zipkin_volume(upstream, collector, proxy_factory, n: int, gzip: bool):
    service = "interop-volume-zipkin"
    extra = ["--max-queue-spans", "50000", "--flush-interval-ms", "200"] + (["--zipkin-gzip"] if gzip else [])
    proxy = proxy_factory(upstream.url, [collector.url], service=service, extra=extra)
    problems = support.hammer(proxy.port, n, CLIENT_THREADS)
    assert not problems, f"{len(problems)} client problems, first: {problems[:5]}"

    support.wait_until(lambda: len(collector.snapshot()) >= n, timeout=30)
    time.sleep(0.5)  # anything extra (duplicates) would arrive now
    spans = collector.snapshot()
    assert not collector.errors, f"{len(collector.errors)} schema/strict errors, first: {collector.errors[:5]}"
    assert len(spans) == n, f"{len(spans)} spans at the collector, expected {n}"
    assert len({s["id"] for s in spans}) == n, "span ids are unique"
    assert {s["localEndpoint"]["serviceName"] for s in spans} == {service}
    assert {s.get("kind") for s in spans} == {"SERVER"}
    flagged = [s for s in spans if "error" in (s.get("tags") or {})]
    assert not flagged, f"{len(flagged)} spans of 200 responses carry an error tag, e.g. {flagged[0]}"
    assert {(s.get("tags") or {}).get("http.status_code") for s in spans} == {"200"}
    assert all(p.path == "/api/v2/spans" for p in collector.posts)
    assert all(p.gzip == gzip for p in collector.posts), "Content-Encoding: gzip exactly when --zipkin-gzip"
    assert all(p.content_type.startswith("application/json") for p in collector.posts)
    assert len(collector.posts) < n, "spans are batched"
    _assert_no_loss(proxy, n)


def test_zipkin_schema_rejects_a_bad_span():
    """The schema is live: it must reject what the Zipkin v2 API forbids, exact id widths included."""
    v = support.zipkin_validator()
    good = [{"traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "kind": "SERVER",
             "timestamp": 1, "duration": 1, "localEndpoint": {"serviceName": "x"}, "tags": {"a": "b"}}]
    assert not list(v.iter_errors(good))
    assert list(v.iter_errors([dict(good[0], kind="BOGUS")]))
    assert list(v.iter_errors([dict(good[0], tags={"a": 1})]))
    assert list(v.iter_errors([dict(good[0], traceId="XYZ")]))
    assert list(v.iter_errors([dict(good[0], traceId="463ac35c9f6413ad0")]))
    assert list(v.iter_errors([dict(good[0], id="a2fb4a1d1a96d312\n")]))
    assert list(v.iter_errors([dict(good[0], timestamp=1.5)]))
    assert list(v.iter_errors([dict(good[0], duration=0)]))
    assert list(v.iter_errors([{"id": "a2fb4a1d1a96d312"}]))
    assert list(v.iter_errors({"not": "a list"}))


def test_volume_zipkin(upstream, collector, proxy_factory):
    _zipkin_volume(upstream, collector, proxy_factory, REQUESTS, gzip=False)


def test_volume_zipkin_gzip(upstream, collector, proxy_factory):
    _zipkin_volume(upstream, collector, proxy_factory, 500, gzip=True)
