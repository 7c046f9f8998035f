"""Two proxies in a row (client -> A -> B -> upstream), both reporting to one agent: one trace, B's span
the child of A's, and the upstream sees B's span as its parent in every injected format."""
from __future__ import annotations

import http.client
import re

import support


def _get(port: int, path: str, headers: dict):
    c = http.client.HTTPConnection(support.HOST, port, timeout=10)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def _check_chain(upstream, agent, path, headers, in_trace, in_span):
    a_spans = agent.wait_spans(lambda s: s.service == "proxy-a", timeout=10)
    b_spans = agent.wait_spans(lambda s: s.service == "proxy-b", timeout=10)
    agent.settle(quiet=0.3)
    assert len(a_spans) == 1 and len(b_spans) == 1, f"A: {len(a_spans)} spans, B: {len(b_spans)} spans"
    a, b = a_spans[0], b_spans[0]
    assert b.trace_id == a.trace_id, "one trace"
    assert b.parent_id == a.span_id, "B's span is the child of A's"
    assert b.references == [(0, a.trace_id, a.span_id)]
    if in_trace is None:
        assert a.parent_id == 0
    else:
        assert (a.trace_id, a.parent_id) == (in_trace, in_span)

    seen = [r for r in upstream.snapshot() if r.path == path]
    assert len(seen) == 1
    h = seen[0].headers
    m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", h.get("traceparent", ""))
    assert m, f"traceparent {h.get('traceparent')!r}"
    assert (int(m.group(1), 16), int(m.group(2), 16)) == (a.trace_id, b.span_id)
    assert int(h["x-b3-traceid"], 16) == a.trace_id
    assert int(h["x-b3-spanid"], 16) == b.span_id
    assert int(h["x-b3-parentspanid"], 16) == a.span_id
    uber = h["uber-trace-id"].split(":")
    assert (int(uber[0], 16), int(uber[1], 16)) == (a.trace_id, b.span_id)
    assert int(uber[2], 16) in (0, a.span_id)


def _start_chain(upstream, agent, proxy_factory):
    b = proxy_factory(upstream.url, [agent.url], service="proxy-b", extra=["--flush-interval-ms", "100"])
    a = proxy_factory(b.url, [agent.url], service="proxy-a", extra=["--flush-interval-ms", "100"])
    return a, b


def test_chain(upstream, agent, proxy_factory):
    a, _b = _start_chain(upstream, agent, proxy_factory)
    status, body = _get(a.port, "/chain/root", {})
    assert (status, body) == (200, b"ok\n")
    _check_chain(upstream, agent, "/chain/root", {}, None, None)


def test_chain_continues_incoming_w3c(upstream, agent, proxy_factory):
    a, _b = _start_chain(upstream, agent, proxy_factory)
    tid, sid = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7  # W3C trace-context example
    status, _ = _get(a.port, "/chain/w3c", {"traceparent": f"00-{tid:032x}-{sid:016x}-01"})
    assert status == 200
    _check_chain(upstream, agent, "/chain/w3c", {}, tid, sid)
