"""Shared pieces of the interop suite: a real HTTP/1.1 upstream, a Jaeger UDP agent that decodes with
jaeger-client's generated Thrift code, a Zipkin v2 collector that validates against zipkin2-span.schema.json,
and a handle on a traceproxy subprocess. Everything listens on 127.0.0.1 only.

The decoders here are deliberately not ours: Thrift compact decoding is jaeger-client 4.8.0's
vendored `jaeger_client.thrift_gen` over the `thrift` package's TCompactProtocol, and Zipkin JSON is
checked with `jsonschema` against a schema written from the Zipkin v2 API's span definition.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import http.client
import http.server
import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from typing import Callable, Optional

import jsonschema
import zipkin_schema
from jaeger_client.thrift_gen.agent import Agent
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

HOST = "127.0.0.1"
U64 = (1 << 64) - 1
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def traceproxy_path() -> str:
    """$TRACEPROXY (relative paths are taken from the repo root), else .build/release/traceproxy."""
    p = os.environ.get("TRACEPROXY") or os.path.join(".build", "release", "traceproxy")
    return p if os.path.isabs(p) else os.path.join(REPO_ROOT, p)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the kernel just handed out on 127.0.0.1 (closed again: a tiny race, accepted)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(pred: Callable[[], object], timeout: float, interval: float = 0.05):
    end = time.monotonic() + timeout
    val = pred()
    while not val and time.monotonic() < end:
        time.sleep(interval)
        val = pred()
    return val


def wait_port(port: int, timeout: float, proc: Optional[subprocess.Popen] = None) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


# ------------------------------------------------------------------------------------------------
# Upstream: http.server's ThreadingHTTPServer speaking HTTP/1.1 with keep-alive
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict  # lower-case name -> value (last wins)
    t: float


class _UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    disable_nagle_algorithm = True
    timeout = 30

    def log_message(self, *args):
        pass

    def setup(self):
        _tls_handshake(self)
        super().setup()

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(n) if n else b""
        up: Upstream = self.server.owner  # type: ignore[attr-defined]
        up.record(SeenRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              time.monotonic()))
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        body = b"ok\n"
        code = 200
        if parts[:1] == ["status"] and len(parts) == 2 and parts[1].isdigit():
            code = int(parts[1])  # /status/NNN answers NNN (the trace view tests want a mix)
        if parts == ["echo"]:
            body = received
        elif parts[:1] == ["slow"] and len(parts) == 2:
            time.sleep(int(parts[1]) / 1000.0)
            body = b"slow " + parts[1].encode() + b" done\n"
        elif parts[:1] == ["bytes"] and len(parts) == 2:
            body = b"x" * int(parts[1])
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class _Server(http.server.ThreadingHTTPServer):
    """With `tls` (a server-side ssl.SSLContext) every accepted connection is wrapped; its handshake
    runs in the connection's own thread (setup), so a stalled client cannot block accepting."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512
    block_on_close = False
    tls: Optional[ssl.SSLContext] = None

    def server_activate(self):
        super().server_activate()
        self.stats_lock = threading.Lock()
        self.accepted = 0  # TCP connections accepted
        self.closed = 0  # connections the server has finished with and closed
        self.handshakes = 0  # TLS handshakes completed
        self.handshake_errors: list[str] = []

    def get_request(self):
        sock, addr = self.socket.accept()
        with self.stats_lock:
            self.accepted += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def shutdown_request(self, request):
        super().shutdown_request(request)
        with self.stats_lock:
            self.closed += 1

    def handle_error(self, request, client_address):
        if self.tls is None:
            super().handle_error(request, client_address)
        # a refused TLS handshake is expected in TLS tests: recorded by _tls_handshake, not printed


def _tls_handshake(handler: http.server.BaseHTTPRequestHandler):
    """Completes the server side of the handshake (TLS servers only); a failure is recorded and
    ends the connection."""
    srv: _Server = handler.server  # type: ignore[assignment]
    if not isinstance(handler.request, ssl.SSLSocket):
        return
    handler.request.settimeout(handler.timeout)
    try:
        handler.request.do_handshake()
    except (OSError, ValueError) as e:
        with srv.stats_lock:
            srv.handshake_errors.append(f"{type(e).__name__}: {e}")
        raise
    with srv.stats_lock:
        srv.handshakes += 1


class Upstream:
    """Origin server. Paths: /slow/MS sleeps MS ms, /bytes/N returns N bytes, POST /echo returns the
    request body, anything else 'ok'. With `tls` (a server-side ssl.SSLContext) it speaks HTTPS."""

    def __init__(self, tls: Optional[ssl.SSLContext] = None):
        self.server = _Server((HOST, 0), _UpstreamHandler)
        self.server.tls = tls
        self.server.owner = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{HOST}:{self.port}"
        self._lock = threading.Lock()
        self.requests: list[SeenRequest] = []
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"upstream-{self.port}")

    def record(self, r: SeenRequest):
        with self._lock:
            self.requests.append(r)

    def snapshot(self) -> list[SeenRequest]:
        with self._lock:
            return list(self.requests)

    def start(self) -> "Upstream":
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------------
# Jaeger agent: UDP, one Agent.emitBatch per datagram, Thrift compact protocol
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class JSpan:
    service: str
    trace_id: int  # unsigned 128-bit: high << 64 | low
    span_id: int
    parent_id: int
    operation: str
    flags: int
    start_time: int
    duration: int
    tags: dict
    references: list  # [(refType, trace_id, span_id)]
    logs: list = dataclasses.field(default_factory=list)  # [{field key: value}] in the batch's order


def _u(v) -> int:
    return (v or 0) & U64


def decode_emit_batch(data: bytes):
    """What jaeger-agent does with a datagram on :6831; raises on anything it would reject."""
    trans = TTransport.TMemoryBuffer(data)
    proto = TCompactProtocol.TCompactProtocol(trans)
    name, mtype, _seqid = proto.readMessageBegin()
    if name != "emitBatch":
        raise ValueError(f"thrift method {name!r}, expected emitBatch")
    args = Agent.emitBatch_args()
    args.read(proto)
    proto.readMessageEnd()
    rest = trans._buffer.read()
    if rest:
        raise ValueError(f"{len(rest)} trailing bytes after the emitBatch message")
    if args.batch is None:
        raise ValueError("emitBatch without a batch")
    return mtype, args.batch


def _tag_value(t):
    return {0: t.vStr, 1: t.vDouble, 2: t.vBool, 3: t.vLong, 4: t.vBinary}.get(t.vType)


class JaegerAgent:
    """Receives on one thread and decodes on another, so that a burst does not overflow the socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 16 * 1024 * 1024)
                break
            except OSError:
                continue
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"jaeger-udp://{HOST}:{self.port}"
        self._lock = threading.Lock()
        self.sizes: list[int] = []
        self.message_types: list[int] = []
        self.errors: list[str] = []
        self.spans: list[JSpan] = []
        self._raw: "queue.SimpleQueue[bytes]" = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._recv_loop, daemon=True),
                         threading.Thread(target=self._decode_loop, daemon=True)]

    def start(self) -> "JaegerAgent":
        for t in self._threads:
            t.start()
        return self

    def _recv_loop(self):
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            self._raw.put(data)

    def _decode_loop(self):
        while not self._stop.is_set():
            try:
                data = self._raw.get(timeout=0.1)
            except queue.Empty:
                continue
            self._ingest(data)

    def _ingest(self, data: bytes):
        try:
            mtype, batch = decode_emit_batch(data)
        except Exception as e:  # noqa: BLE001 - an undecodable datagram is the finding
            with self._lock:
                self.sizes.append(len(data))
                self.errors.append(f"{len(data)}-byte datagram: {type(e).__name__}: {e}")
            return
        service = batch.process.serviceName if batch.process else None
        spans = []
        for s in batch.spans or []:
            spans.append(JSpan(
                service=service,
                trace_id=(_u(s.traceIdHigh) << 64) | _u(s.traceIdLow),
                span_id=_u(s.spanId), parent_id=_u(s.parentSpanId), operation=s.operationName,
                flags=s.flags or 0, start_time=s.startTime or 0, duration=s.duration or 0,
                tags={t.key: _tag_value(t) for t in (s.tags or [])},
                references=[(r.refType, (_u(r.traceIdHigh) << 64) | _u(r.traceIdLow), _u(r.spanId))
                            for r in (s.references or [])],
                logs=[{t.key: _tag_value(t) for t in (lg.fields or [])} for lg in (s.logs or [])]))
        with self._lock:
            self.sizes.append(len(data))
            self.message_types.append(mtype)
            self.spans.extend(spans)

    def snapshot(self) -> list[JSpan]:
        with self._lock:
            return list(self.spans)

    def wait_spans(self, pred: Callable[[JSpan], bool] = lambda s: True, count: int = 1,
                   timeout: float = 10.0) -> list[JSpan]:
        """Waits for at least `count` matching spans; returns every matching span seen by then."""
        def get():
            found = [s for s in self.snapshot() if pred(s)]
            return found if len(found) >= count else None
        return wait_until(get, timeout) or [s for s in self.snapshot() if pred(s)]

    def settle(self, quiet: float = 0.5, timeout: float = 10.0):
        """Waits until no datagram arrived for `quiet` seconds (to catch extra, duplicate spans)."""
        end = time.monotonic() + timeout
        last = -1
        while time.monotonic() < end:
            with self._lock:
                n = len(self.sizes)
            if n == last and self._raw.empty():
                return
            last = n
            time.sleep(quiet)

    def kernel_drops(self) -> Optional[int]:
        """Datagrams the kernel dropped on this socket (last column of /proc/net/udp): a full receive
        buffer is the test machine's loss, not the proxy's."""
        try:
            with open("/proc/net/udp") as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if int(fields[1].split(":")[1], 16) == self.port:
                        return int(fields[-1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.sock.close()


# ------------------------------------------------------------------------------------------------
# Zipkin v2: the span schema (zipkin_schema.py) and a collector
# ------------------------------------------------------------------------------------------------
_VALIDATORS: dict = {}


def zipkin_validator() -> jsonschema.Draft4Validator:
    path = zipkin_schema.schema_path()
    if path not in _VALIDATORS:
        _VALIDATORS[path] = zipkin_schema.list_of_spans_validator(path)
    return _VALIDATORS[path]


@dataclasses.dataclass
class ZipkinPost:
    path: str
    content_type: str
    gzip: bool
    body_bytes: int
    spans: int


class _ZipkinHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    def log_message(self, *args):
        pass

    def setup(self):
        _tls_handshake(self)
        super().setup()

    def do_POST(self):
        col: ZipkinCollector = self.server.owner  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        gz = (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip"
        status, spans, errors = 202, [], []
        if self.path.split("?", 1)[0] != "/api/v2/spans":
            status, errors = 404, [f"POST to {self.path}"]
        else:
            try:
                doc = json.loads((gzip.decompress(raw) if gz else raw).decode("utf-8"))
                errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                          for e in zipkin_validator().iter_errors(doc)]
                if isinstance(doc, list):
                    spans = doc
            except Exception as e:  # noqa: BLE001
                status, errors = 400, [f"undecodable body: {type(e).__name__}: {e}"]
        col.record(ZipkinPost(self.path, self.headers.get("Content-Type") or "", gz, len(raw), len(spans)),
                   spans, errors)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class ZipkinCollector:
    """POST /api/v2/spans, validated against the schema. With `tls` (a server-side ssl.SSLContext)
    it speaks HTTPS (`zipkin+https://`)."""

    def __init__(self, tls: Optional[ssl.SSLContext] = None):
        self.server = _Server((HOST, 0), _ZipkinHandler)
        self.server.tls = tls
        self.server.owner = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.url = f"zipkin+{'https' if tls else 'http'}://{HOST}:{self.port}"
        self._lock = threading.Lock()
        self.posts: list[ZipkinPost] = []
        self.spans: list[dict] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def record(self, post: ZipkinPost, spans: list, errors: list):
        with self._lock:
            self.posts.append(post)
            self.spans.extend(spans)
            self.errors.extend(errors)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.spans)

    def start(self) -> "ZipkinCollector":
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------------
# traceproxy subprocess
# ------------------------------------------------------------------------------------------------
class Proxy:
    """One traceproxy process. `stop()` sends SIGTERM and returns the exit code (None: had to kill)."""

    def __init__(self, upstream_url: str, reporters: list[str], service: str = "traceproxy-interop",
                 extra: Optional[list[str]] = None, admin: bool = True, log_dir: Optional[str] = None,
                 env: Optional[dict] = None):
        self.port = free_port()
        self.admin_port = free_port() if admin else None
        self.args = [traceproxy_path(), "--listen", f"{HOST}:{self.port}", "--upstream", upstream_url,
                     "--service-name", service,
                     "--admin", f"{HOST}:{self.admin_port}" if admin else "off"]
        for r in reporters:
            self.args += ["--reporter", r]
        self.args += extra or []
        fd, self.log_path = tempfile.mkstemp(prefix="traceproxy-", suffix=".log", dir=log_dir)
        self._log = os.fdopen(fd, "wb")
        # env given: the test's OpenTelemetry/Jaeger variables replace any the caller's shell had
        self.env = None if env is None else dict(clean_environ(), **env)
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> "Proxy":
        if not os.access(self.args[0], os.X_OK):
            raise FileNotFoundError(f"traceproxy binary {self.args[0]} (set $TRACEPROXY or build it)")
        for attempt in range(3):
            self._log.flush()
            log_start = os.path.getsize(self.log_path)
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, env=self.env)
            ok = wait_port(self.port, timeout, self.proc)
            if ok and self.admin_port:
                ok = wait_port(self.admin_port, timeout, self.proc)
            if ok:
                return self
            self.kill()
            with open(self.log_path, "rb") as f:
                f.seek(log_start)
                lost_race = b"Address already in use" in f.read()
            if not lost_race or attempt == 2:
                break
            # free_port()'s race lost (the port was taken between its close and our bind): new ports
            self._new_ports()
        raise RuntimeError(f"traceproxy did not start listening: {' '.join(self.args)}\n{self.log_tail()}")

    def _new_ports(self):
        i = self.args.index("--listen")
        self.port = free_port()
        self.args[i + 1] = f"{HOST}:{self.port}"
        if self.admin_port:
            i = self.args.index("--admin")
            self.admin_port = free_port()
            self.args[i + 1] = f"{HOST}:{self.admin_port}"

    def signal(self, sig: int = signal.SIGTERM):
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> Optional[int]:
        assert self.proc is not None
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.returncode = None
        return self.returncode

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # by pid
            self.proc.wait(timeout=5)

    def log_tail(self, n: int = 3000) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")

    def metrics(self) -> dict:
        """GET /metrics on the admin port: {(name, frozenset(labels)): value} from the Prometheus text."""
        assert self.admin_port
        c = http.client.HTTPConnection(HOST, self.admin_port, timeout=5)
        try:
            c.request("GET", "/metrics")
            r = c.getresponse()
            text = r.read().decode()
            assert r.status == 200, f"/metrics answered {r.status}"
        finally:
            c.close()
        out = {}
        line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = line_re.match(line)
            if not m:
                continue
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out


def clean_environ() -> dict:
    """os.environ without the OTEL_* and JAEGER_* variables traceproxy (and OpenTelemetry SDKs) read."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "JAEGER_"))}


def metric_sum(metrics: dict, name: str) -> Optional[float]:
    """Sum over every series of `name`; None when no series of that name exists."""
    vals = [v for (n, _), v in metrics.items() if n == name]
    return sum(vals) if vals else None


# ------------------------------------------------------------------------------------------------
# load
# ------------------------------------------------------------------------------------------------
def hammer(port: int, total: int, threads: int, path_of: Callable[[int], str] = lambda i: f"/item/{i}",
           deadline_s: float = 120.0) -> list[str]:
    """Sends `total` GETs over `threads` keep-alive connections; returns a list of problems."""
    problems: list[str] = []
    lock = threading.Lock()
    end = time.monotonic() + deadline_s

    def worker(k: int):
        conn = http.client.HTTPConnection(HOST, port, timeout=15)
        try:
            for i in range(k, total, threads):
                if time.monotonic() > end:
                    with lock:
                        problems.append(f"thread {k}: deadline reached")
                    return
                conn.request("GET", path_of(i))
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or body != b"ok\n":
                    with lock:
                        problems.append(f"request {i}: {r.status} {body[:60]!r}")
                if r.will_close:
                    conn.close()
        except Exception as e:  # noqa: BLE001
            with lock:
                problems.append(f"thread {k}: {type(e).__name__}: {e}")
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return problems


@contextlib.contextmanager
def running(*things):
    """Starts each thing in order; stops them in reverse order."""
    started = []
    try:
        for t in things:
            started.append(t.start())
        yield started
    finally:
        for t in reversed(started):
            with contextlib.suppress(Exception):
                t.stop()
