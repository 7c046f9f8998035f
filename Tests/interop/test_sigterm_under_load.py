"""SIGTERM while clients keep sending and a 1.5 s request is in flight.

A request whose bytes were all sent before the signal must get its full response; one sent later
may be answered (200 or 503) or find its connection refused or closed before any response byte, but
never a cut-off response. Every request answered 200 has its span at the agent, and the proxy
exits 0."""
from __future__ import annotations

import dataclasses
import http.client
import random
import signal
import threading
import time
from typing import Optional

import support

SLOW_MS = 1500
LOADERS = 3


@dataclasses.dataclass
class Outcome:
    trace_id: int
    path: str
    t_sent: float  # when the whole request had been written (monotonic); inf if it never was
    status: Optional[int] = None
    body: bytes = b""
    error: str = ""


def _send(conn: http.client.HTTPConnection, path: str, out: list, lock: threading.Lock) -> Outcome:
    tid = random.getrandbits(128) | 1
    o = Outcome(tid, path, float("inf"))
    try:
        conn.request("GET", path, headers={"traceparent": f"00-{tid:032x}-{random.getrandbits(64) | 1:016x}-01"})
        o.t_sent = time.monotonic()
        r = conn.getresponse()
        o.status, o.body = r.status, r.read()
        if r.will_close:
            conn.close()
    except (http.client.IncompleteRead, http.client.LineTooLong) as e:
        o.error = f"truncated: {type(e).__name__}: {e}"
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        o.error = f"closed: {type(e).__name__}: {e}"
        conn.close()
    with lock:
        out.append(o)
    return o


def test_sigterm_under_load(upstream, agent, proxy_factory):
    proxy = proxy_factory(upstream.url, [agent.url], service="drain",
                          extra=["--flush-interval-ms", "5000", "--max-queue-spans", "50000",
                                 "--drain-timeout-ms", "10000"])
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + 30

    def loader(k: int):
        conn = http.client.HTTPConnection(support.HOST, proxy.port, timeout=10)
        i = 0
        while not stop.is_set() and proxy.proc.poll() is None and time.monotonic() < deadline:
            if _send(conn, f"/load/{k}/{i}", outcomes, lock).error:
                time.sleep(0.005)  # refused while draining: do not spin
            i += 1
        conn.close()

    slow: list[Outcome] = []

    def slow_client():
        conn = http.client.HTTPConnection(support.HOST, proxy.port, timeout=15)
        _send(conn, f"/slow/{SLOW_MS}", slow, lock)
        conn.close()

    threads = [threading.Thread(target=loader, args=(k,)) for k in range(LOADERS)]
    threads.append(threading.Thread(target=slow_client))
    for t in threads:
        t.start()
    try:
        assert support.wait_until(lambda: any(r.path.startswith("/slow/") for r in upstream.snapshot()), 5), \
            "the slow request never reached the upstream"
        assert support.wait_until(lambda: len(outcomes) >= 300, 10), "load did not get going"
        time.sleep(0.2)
        t_sig = time.monotonic()
        proxy.signal(signal.SIGTERM)
        code = proxy.wait(timeout=15)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=20)
    assert code == 0, f"exit code {code}\n{proxy.log_tail()}"

    assert len(slow) == 1
    s = slow[0]
    assert s.t_sent < t_sig
    assert (s.status, s.body, s.error) == (200, f"slow {SLOW_MS} done\n".encode(), ""), \
        f"the in-flight slow request was cut: {s}"

    before = [o for o in outcomes if o.t_sent < t_sig]
    after = [o for o in outcomes if o.t_sent >= t_sig]
    assert len(before) >= 300
    cut = [o for o in before if o.status != 200 or o.body != b"ok\n"]
    assert not cut, f"{len(cut)} of {len(before)} requests sent before SIGTERM did not complete: {cut[:3]}"
    bad_after = [o for o in after
                 if not (o.status == 200 and o.body == b"ok\n")
                 and o.status != 503
                 and not (o.status is None and o.error.startswith("closed"))]
    assert not bad_after, f"requests sent after SIGTERM got a broken answer: {bad_after[:3]}"

    completed = before + [o for o in after if o.status == 200] + slow
    want = {o.trace_id for o in completed}
    agent.wait_spans(lambda sp: sp.trace_id in want, count=len(want), timeout=10)
    agent.settle(quiet=0.3)
    assert not agent.errors, agent.errors[:3]
    spans = [sp for sp in agent.snapshot() if sp.trace_id in want]
    per_trace: dict = {}
    for sp in spans:
        per_trace[sp.trace_id] = per_trace.get(sp.trace_id, 0) + 1
    missing = [o.path for o in completed if o.trace_id not in per_trace]
    twice = [o.path for o in completed if per_trace.get(o.trace_id, 0) > 1]
    assert not missing, f"{len(missing)} of {len(completed)} completed requests have no span: {missing[:5]}"
    assert not twice, f"spans reported twice: {twice[:5]}"
    slow_span = [sp for sp in spans if sp.trace_id == s.trace_id][0]
    assert slow_span.duration >= SLOW_MS * 1000
