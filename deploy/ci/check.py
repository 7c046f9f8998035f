"""Assertions for deploy/test.sh: poll until what should happen has happened, or fail with what was
seen. Every URL is on 127.0.0.1. Exit status 0 when the check holds, 1 when it does not.

  check.py http URL [--status N] [--contains TEXT] [--timeout S] [--save FILE]
      GET URL until it answers N (default 200) with TEXT in the body; --save writes the body.
  check.py span QUERY --via otlp|jaeger|zipkin --service NAME --path PATH [--timeout S]
      A stand-in (deploy/ci/standin.py, GET QUERY/spans) received a span from NAME for PATH.
  check.py trace RESPONSE --proxy QUERY,VIA,SERVICE [--app QUERY,VIA,SERVICE] [--timeout S]
      RESPONSE is the demo app's JSON answer (its own trace_id, span_id, parent_id). The proxy's span
      arrived with that trace id and the app's parent id as its span id; with --app, the app's span
      arrived too, in the same trace, as a child of the proxy's span.
Every check also fails if a stand-in it read reports undecodable input (GET QUERY/errors).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def poll(what: str, attempt, timeout: float):
    """attempt() returns (ok, detail); retried every 0.1 s until ok or the deadline."""
    deadline = time.monotonic() + timeout
    detail = "nothing yet"
    while True:
        try:
            ok, detail = attempt()
        except (OSError, ValueError) as e:
            ok, detail = False, f"{type(e).__name__}: {e}"
        if ok:
            return detail
        if time.monotonic() > deadline:
            print(f"check: FAILED after {timeout:.0f} s: {what}; last seen: {detail}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.1)


def spans(query: str) -> list[dict]:
    status, body = get(f"{query}/errors")
    errors = json.loads(body) if status == 200 else [f"GET /errors answered {status}"]
    if errors:
        print(f"check: FAILED: the stand-in at {query} could not decode: {errors}", file=sys.stderr)
        sys.exit(1)
    status, body = get(f"{query}/spans")
    if status != 200:
        raise ValueError(f"GET {query}/spans answered {status}")
    return json.loads(body)


def span_path(s: dict) -> str:
    a = s.get("attributes", {})
    return str(a.get("url.path") or a.get("http.path") or a.get("http.url") or "")


def cmd_http(a):
    def attempt():
        status, body = get(a.url)
        text = body.decode(errors="replace")
        ok = status == a.status and (a.contains is None or a.contains in text)
        return ok, (body if ok else f"status {status}, body {text[:200]!r}")
    body = poll(f"GET {a.url} -> {a.status}" + (f" with {a.contains!r}" if a.contains else ""), attempt, a.timeout)
    if a.save:
        with open(a.save, "wb") as f:
            f.write(body)
    print(f"check: GET {a.url}: {a.status}")


def cmd_span(a):
    def attempt():
        seen = spans(a.query)
        hits = [s for s in seen if s["via"] == a.via and s["service"] == a.service and span_path(s).endswith(a.path)]
        return bool(hits), (hits[0] if hits else [(s["via"], s["service"], s["name"]) for s in seen])
    s = poll(f"a {a.via} span from {a.service} for {a.path} at {a.query}", attempt, a.timeout)
    print(f"check: {a.via} span from {s['service']}: {s['name']!r} trace {s['trace_id']} span {s['span_id']}")


def cmd_trace(a):
    with open(a.response) as f:
        resp = json.load(f)
    trace_id, app_span, app_parent = resp["trace_id"], resp["span_id"], resp["parent_id"]
    if int(app_parent, 16) == 0:
        print(f"check: FAILED: the app's span has no parent: traceproxy's context did not reach it: {resp}",
              file=sys.stderr)
        sys.exit(1)
    pq, pvia, psvc = a.proxy.split(",")

    def proxy_attempt():
        seen = spans(pq)
        hits = [s for s in seen if s["via"] == pvia and s["service"] == psvc and s["trace_id"] == trace_id]
        if not hits:
            return False, [(s["via"], s["service"], s["trace_id"]) for s in seen]
        return hits[0]["span_id"] == app_parent, hits[0]
    proxy = poll(f"the proxy's {pvia} span in trace {trace_id} at {pq}", proxy_attempt, a.timeout)
    print(f"check: proxy span via {pvia}: {proxy['service']} {proxy['name']!r} trace {trace_id} "
          f"span {proxy['span_id']} (the app's parent)")
    if a.app:
        aq, avia, asvc = a.app.split(",")

        def app_attempt():
            seen = spans(aq)
            hits = [s for s in seen if s["via"] == avia and s["span_id"] == app_span]
            if not hits:
                return False, [(s["via"], s["service"], s["span_id"]) for s in seen]
            s = hits[0]
            ok = s["service"] == asvc and s["trace_id"] == trace_id and s["parent_id"] == proxy["span_id"]
            return ok, s
        app = poll(f"the app's {avia} span {app_span}, child of {proxy['span_id']}, at {aq}", app_attempt, a.timeout)
        print(f"check: app span via {avia}: {app['service']} {app['name']!r} trace {app['trace_id']} "
              f"span {app['span_id']} parent {app['parent_id']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("--status", type=int, default=200)
    h.add_argument("--contains")
    h.add_argument("--save")
    s = sub.add_parser("span")
    s.add_argument("query")
    s.add_argument("--via", required=True, choices=["otlp", "jaeger", "zipkin"])
    s.add_argument("--service", required=True)
    s.add_argument("--path", required=True)
    t = sub.add_parser("trace")
    t.add_argument("response")
    t.add_argument("--proxy", required=True)
    t.add_argument("--app")
    for p in (h, s, t):
        p.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()
    {"http": cmd_http, "span": cmd_span, "trace": cmd_trace}[a.cmd](a)


if __name__ == "__main__":
    main()
