"""An OTLP/HTTP trace collector for the interop suite: a threaded HTTP/1.1 server on 127.0.0.1 that
decodes every body with the official `opentelemetry-proto` package and answers what the test asks.

Decoding is not ours:
  * http/protobuf: `ExportTraceServiceRequest.ParseFromString` (opentelemetry-proto's generated code
    over the `protobuf` runtime);
  * http/json: the OTLP JSON rules checked by hand first (lowerCamelCase field names; trace and span
    ids as hex, not base64; enums as integers; 64-bit integers as decimal strings), then the ids
    turned into base64 so that protobuf's own `json_format.Parse` (unknown fields refused) reads the
    document into the same message.
`Content-Encoding: gzip` bodies are gunzipped first. An undecodable body is answered 400 and noted in
`errors`, which every test checks is empty.

Answers are planned per POST (`plan(...)`), then `OK` for the rest:
  OK                      200 with an empty ExportTraceServiceResponse
  400, 503, ...           that status (body: a google.rpc.Status-like message is not needed)
  (429, {"Retry-After": "1"})  a status with extra header fields
  Partial(rejected, msg)  200 with ExportTraceServiceResponse.partial_success set
  HANG                    reads the request, never answers, and closes once `release` is set
  CLOSE / DROP            200, then closes the connection, with / without "Connection: close"
The response is encoded like the request (protobuf or JSON, by its Content-Type).
"""
from __future__ import annotations

import base64
import dataclasses
import gzip
import http.server
import json
import queue
import re
import ssl
import threading
import time
from typing import Callable, Optional, Union

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                       ExportTraceServiceResponse)

import support

OK = "ok"
HANG = "hang"
CLOSE = "close"  # 200, then the connection is closed with "Connection: close"
DROP = "drop"  # 200, then the connection is closed without a word (a server's idle timeout)
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclasses.dataclass
class Partial:
    rejected: int
    message: str = ""
    chunked: bool = False  # send the response body with Transfer-Encoding: chunked


Answer = Union[str, int, tuple, Partial]


@dataclasses.dataclass
class Event:
    name: str
    time_ns: int
    attrs: dict


@dataclasses.dataclass
class OSpan:
    """One decoded span with its resource and scope, ids as lower-case hex ('' for no parent)."""
    post: int  # index into OTLPCollector.posts
    resource: dict
    scope_name: str
    scope_version: str
    trace_id: str
    span_id: str
    parent_id: str
    trace_state: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attrs: dict
    events: list  # [Event]
    status_code: int
    status_message: str
    flags: int

    @property
    def service(self) -> str:
        return self.resource.get("service.name", "")

    def event(self, name: str) -> Optional[Event]:
        found = [e for e in self.events if e.name == name]
        return found[0] if found else None


@dataclasses.dataclass
class OTLPPost:
    t: float  # time.monotonic() once the body was read
    path: str
    headers: dict  # lower-case name -> value
    content_type: str
    gzip: bool
    body_bytes: int
    answer: Answer
    status: int  # 0: never answered (HANG)
    spans: list  # [OSpan]
    error: Optional[str]
    peer_cert: Optional[dict] = None  # TLS: the client certificate (ssl.SSLSocket.getpeercert())

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def any_value(v):
    """opentelemetry.proto.common.v1.AnyValue -> a Python value."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which)


def attributes(kvs) -> dict:
    return {kv.key: any_value(kv.value) for kv in kvs}


def flatten(req: ExportTraceServiceRequest, post: int) -> list[OSpan]:
    out = []
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(OSpan(
                    post=post, resource=resource, scope_name=ss.scope.name, scope_version=ss.scope.version,
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(), parent_id=s.parent_span_id.hex(),
                    trace_state=s.trace_state, name=s.name, kind=s.kind, start_ns=s.start_time_unix_nano,
                    end_ns=s.end_time_unix_nano, attrs=attributes(s.attributes),
                    events=[Event(e.name, e.time_unix_nano, attributes(e.attributes)) for e in s.events],
                    status_code=s.status.code, status_message=s.status.message, flags=s.flags))
    return out


# ------------------------------------------------------------------------------------------------
# OTLP/JSON
# ------------------------------------------------------------------------------------------------
_CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*\Z")
_HEX = {"traceId": 32, "spanId": 16, "parentSpanId": 16}
_UINT64_STRINGS = {"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "intValue"}
_ENUMS = {"kind", "code"}


def _check_json(node, path: str, problems: list[str]):
    """The OTLP JSON rules that protobuf's JSON parser would not enforce, or would read differently."""
    if isinstance(node, list):
        for i, x in enumerate(node):
            _check_json(x, f"{path}[{i}]", problems)
        return
    if not isinstance(node, dict):
        return
    for k, v in node.items():
        p = f"{path}.{k}"
        if not _CAMEL.match(k):
            problems.append(f"{p}: field names are lowerCamelCase")
        if k in _HEX:
            if not (isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]*", v) and len(v) in (0, _HEX[k])):
                problems.append(f"{p}: {v!r} is not {_HEX[k]} hex digits")
            elif k != "parentSpanId" and len(v) == 0:
                problems.append(f"{p}: empty")
        elif k in _UINT64_STRINGS:
            if not (isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v)):
                problems.append(f"{p}: 64-bit integers are decimal strings, got {v!r}")
        elif k in _ENUMS:
            if not (isinstance(v, int) and not isinstance(v, bool)):
                problems.append(f"{p}: enums are integers, got {v!r}")
        elif k == "flags":
            if not (isinstance(v, int) and not isinstance(v, bool)):
                problems.append(f"{p}: flags is a number, got {v!r}")
        _check_json(v, p, problems)


def _hex_ids_to_base64(doc):
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                for obj in [s] + list(s.get("links", [])):
                    for k in _HEX:
                        if isinstance(obj.get(k), str):
                            obj[k] = base64.b64encode(bytes.fromhex(obj[k])).decode()


def parse_otlp_json(body: bytes) -> ExportTraceServiceRequest:
    doc = json.loads(body.decode("utf-8"))
    problems: list[str] = []
    _check_json(doc, "$", problems)
    if problems:
        raise ValueError("OTLP JSON: " + "; ".join(problems[:5]))
    _hex_ids_to_base64(doc)
    return json_format.Parse(json.dumps(doc), ExportTraceServiceRequest(), ignore_unknown_fields=False)


# ------------------------------------------------------------------------------------------------
# the server
# ------------------------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: bytes, ctype: str, extra: Optional[dict] = None, chunked: bool = False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                if part:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_POST(self):
        col: OTLPCollector = self.server.owner  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        t = time.monotonic()
        headers = {k.lower(): v for k, v in self.headers.items()}
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        gz = (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip"
        answer = col.next_answer()
        index, spans, error = col.reserve(), [], None
        try:
            if self.path.split("?", 1)[0] != col.path:
                raise ValueError(f"POST to {self.path}, expected {col.path}")
            body = gzip.decompress(raw) if gz else raw
            if ctype == PROTOBUF:
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
            elif ctype == JSON:
                req = parse_otlp_json(body)
            else:
                raise ValueError(f"Content-Type {ctype!r}")
            spans = flatten(req, index)
        except Exception as e:  # noqa: BLE001 - an undecodable body is the finding
            error = f"POST {index}: {type(e).__name__}: {e}"
            answer = 400
        status = 0 if answer == HANG else 200 if (answer in (OK, CLOSE, DROP) or isinstance(answer, Partial)) \
            else (answer[0] if isinstance(answer, tuple) else int(answer))
        peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        col.record(index, OTLPPost(t, self.path, headers, ctype, gz, len(raw), answer, status, spans, error, peer))
        if answer == HANG:
            col.release.wait(timeout=30)
            self.close_connection = True
            return
        rtype = JSON if ctype == JSON else PROTOBUF
        if status == 200:
            resp = ExportTraceServiceResponse()
            if isinstance(answer, Partial):
                resp.partial_success.rejected_spans = answer.rejected
                resp.partial_success.error_message = answer.message
            body = json_format.MessageToJson(resp).encode() if rtype == JSON else resp.SerializeToString()
            self._reply(200, body, rtype, {"Connection": "close"} if answer == CLOSE else None,
                        chunked=isinstance(answer, Partial) and answer.chunked)
            if answer in (CLOSE, DROP):
                self.close_connection = True
        else:
            extra = answer[1] if isinstance(answer, tuple) else None
            self._reply(status, b"", rtype, extra)


class OTLPCollector:
    """`tls`: an ssl.SSLContext (server side) makes it an HTTPS collector; the handshake runs in the
    connection's thread."""

    def __init__(self, path: str = "/v1/traces", tls: Optional[ssl.SSLContext] = None):
        self.server = support._Server((support.HOST, 0), _Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.server.owner = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.path = path
        scheme = "https" if tls is not None else "http"
        # the reporter URL for --reporter (the default path is /v1/traces)
        self.url = f"otlp+{scheme}://{support.HOST}:{self.port}" + ("" if path == "/v1/traces" else path)
        # the reporter label in /metrics
        self.label = self.url
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._answers: "queue.SimpleQueue[Answer]" = queue.SimpleQueue()
        self._slots: list[Optional[OTLPPost]] = []
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"otlp-{self.port}")

    def plan(self, *answers: Answer) -> "OTLPCollector":
        for a in answers:
            self._answers.put(a)
        return self

    def next_answer(self) -> Answer:
        try:
            return self._answers.get_nowait()
        except queue.Empty:
            return OK

    def reserve(self) -> int:
        with self._lock:
            self._slots.append(None)
            return len(self._slots) - 1

    def record(self, index: int, post: OTLPPost):
        with self._lock:
            self._slots[index] = post

    @property
    def posts(self) -> list[OTLPPost]:
        with self._lock:
            return [p for p in self._slots if p is not None]

    @property
    def errors(self) -> list[str]:
        return [p.error for p in self.posts if p.error]

    def spans(self, accepted_only: bool = True) -> list[OSpan]:
        return [s for p in self.posts if p.accepted or not accepted_only for s in p.spans]

    def wait_spans(self, count: int, pred: Callable[[OSpan], bool] = lambda s: True,
                   timeout: float = 10.0) -> list[OSpan]:
        """Waits for at least `count` accepted spans matching `pred`; returns all of them by then."""
        def get():
            found = [s for s in self.spans() if pred(s)]
            return found if len(found) >= count else None
        return support.wait_until(get, timeout) or [s for s in self.spans() if pred(s)]

    def wait_posts(self, count: int, timeout: float = 10.0) -> list[OTLPPost]:
        return support.wait_until(lambda: (lambda p: p if len(p) >= count else None)(self.posts),
                                  timeout) or self.posts

    def start(self) -> "OTLPCollector":
        self._thread.start()
        return self

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
