"""The user scenario: a Flask service traced by jaeger-client behind traceproxy, both reporting to one
agent. The app's span must be the child of the proxy's span in one trace, whatever context (none,
W3C, B3) the caller brought; the proxy's span continues the caller's context."""
from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys

import pytest

import support

PROXY_SERVICE = "traceproxy-front"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    logs = tmp_path_factory.mktemp("flask")
    agent = support.JaegerAgent().start()
    app_port = support.free_port()
    app_log = open(logs / "flask.log", "wb")
    app = subprocess.Popen([sys.executable, "-W", "ignore::DeprecationWarning",
                            os.path.join(support.HERE, "flask_app.py"), str(app_port), str(agent.port)],
                           stdin=subprocess.DEVNULL, stdout=app_log, stderr=subprocess.STDOUT)
    proxy = None
    try:
        assert support.wait_port(app_port, 20, app), "flask app did not start: " + \
            (logs / "flask.log").read_text(errors="replace")[-2000:]
        proxy = support.Proxy(f"http://{support.HOST}:{app_port}", [agent.url], service=PROXY_SERVICE,
                              extra=["--propagation", "w3c,b3,jaeger", "--flush-interval-ms", "100"],
                              log_dir=str(logs)).start()
        yield agent, proxy
    finally:
        code = proxy.stop() if proxy else None
        if app.poll() is None:
            app.terminate()  # by pid
            try:
                app.wait(timeout=5)
            except subprocess.TimeoutExpired:
                app.kill()
        app_log.close()
        agent.stop()
        if proxy is not None:
            assert code == 0, f"traceproxy exit code {code}\n{proxy.log_tail()}"


def _get(port: int, path: str, headers: dict) -> dict:
    c = http.client.HTTPConnection(support.HOST, port, timeout=10)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, f"{r.status} {body[:200]!r}"
        return json.loads(body)
    finally:
        c.close()


def _hex(bits: int) -> str:
    return f"{random.getrandbits(bits) | 1:0{bits // 4}x}"


def _case(name: str):
    """-> (request headers, incoming trace id or None, incoming span id or None)"""
    if name == "none":
        return {}, None, None
    tid, sid = _hex(128), _hex(64)
    if name == "w3c":
        return {"traceparent": f"00-{tid}-{sid}-01"}, int(tid, 16), int(sid, 16)
    if name == "b3":
        return {"X-B3-TraceId": tid, "X-B3-SpanId": sid, "X-B3-Sampled": "1"}, int(tid, 16), int(sid, 16)
    raise ValueError(name)


@pytest.mark.parametrize("incoming", ["none", "w3c", "b3"])
def test_flask_child(stack, incoming):
    agent, proxy = stack
    headers, in_trace, in_span = _case(incoming)
    seen = _get(proxy.port, f"/hello/{incoming}", headers)
    app_span_id = int(seen["span_id"], 16)

    app_spans = agent.wait_spans(lambda s: s.service == "flask-app" and s.span_id == app_span_id, timeout=10)
    assert len(app_spans) == 1, f"app span {seen['span_id']} reached the agent {len(app_spans)} times"
    app_span = app_spans[0]
    proxy_spans = agent.wait_spans(lambda s: s.service == PROXY_SERVICE and s.span_id == app_span.parent_id,
                                   timeout=10)
    in_app_trace = [(s.service, f"{s.span_id:016x}") for s in agent.snapshot() if s.trace_id == app_span.trace_id]
    assert len(proxy_spans) == 1, (
        f"app span's parent {app_span.parent_id:016x} is not exactly one {PROXY_SERVICE} span; spans in the "
        f"app's trace: {in_app_trace}"
        f"; the app saw uber-trace-id {seen['uber']!r}")
    proxy_span = proxy_spans[0]

    assert app_span.trace_id == proxy_span.trace_id, "one trace"
    assert app_span.parent_id == proxy_span.span_id
    if in_trace is None:
        assert proxy_span.parent_id == 0, "no incoming context: the proxy's span is the root"
        assert proxy_span.references == []
    else:
        assert proxy_span.trace_id == in_trace, f"proxy continues the incoming {incoming} trace"
        assert proxy_span.parent_id == in_span, "proxy's span is the child of the incoming span"
        assert proxy_span.references == [(0, in_trace, in_span)], "one CHILD_OF reference to the caller"
    # the app's own view agrees with what it reported
    assert int(seen["trace_id"], 16) == app_span.trace_id
    assert int(seen["parent_id"], 16) == proxy_span.span_id
