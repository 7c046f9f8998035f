"""A stand-in for the tracing back ends the deploy recipes name (Jaeger v2, Zipkin, the OpenTelemetry
Collector), for CI where their images cannot be pulled. It decodes what it receives with the
independent implementations the interop suite uses (Tests/interop), and keeps every span for a test
to read back:

  --otlp PORT        OTLP/HTTP POST /v1/traces: http/protobuf decoded by opentelemetry-proto's
                     ExportTraceServiceRequest (http/json through protobuf's json_format), gzip or not
  --jaeger-udp PORT  Jaeger agent UDP: Thrift compact Agent.emitBatch, decoded by jaeger-client's
                     generated Thrift code (jaeger_client.thrift_gen) over the thrift runtime
  --zipkin PORT      Zipkin v2 POST /api/v2/spans: a JSON list of spans (gzip or not)
  --query PORT       GET /spans: every span so far as JSON; GET /errors: bodies that did not decode

Spans are normalised to {"via", "service", "trace_id" (32 hex), "span_id" (16 hex), "parent_id"
(16 hex, "" for a root), "name", "kind", "attributes"}. Every socket binds --host (127.0.0.1 by
default). SIGTERM and SIGINT stop it.
"""
from __future__ import annotations

import argparse
import gzip
import http.server
import json
import signal
import socket
import sys
import threading

from google.protobuf import json_format
from jaeger_client.thrift_gen.agent import Agent
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                       ExportTraceServiceResponse)
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

U64 = (1 << 64) - 1
LOCK = threading.Lock()
SPANS: list[dict] = []
ERRORS: list[str] = []


def record(spans: list[dict]):
    with LOCK:
        SPANS.extend(spans)
    for s in spans:
        print(f"span via {s['via']}: {s['service']} {s['name']!r} trace {s['trace_id']} "
              f"span {s['span_id']} parent {s['parent_id'] or '-'}", flush=True)


def error(msg: str):
    with LOCK:
        ERRORS.append(msg)
    print(f"undecodable: {msg}", file=sys.stderr, flush=True)


# --- OTLP/HTTP ----------------------------------------------------------------------------------
def _any(v):
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_any(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which) if which else None


def otlp_spans(req: ExportTraceServiceRequest) -> list[dict]:
    out = []
    for rs in req.resource_spans:
        resource = {kv.key: _any(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append({"via": "otlp", "service": resource.get("service.name", ""),
                            "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                            "parent_id": s.parent_span_id.hex(), "name": s.name, "kind": s.kind,
                            "attributes": {kv.key: _any(kv.value) for kv in s.attributes}})
    return out


# --- Jaeger Thrift compact ----------------------------------------------------------------------
def jaeger_spans(datagram: bytes) -> list[dict]:
    trans = TTransport.TMemoryBuffer(datagram)
    proto = TCompactProtocol.TCompactProtocol(trans)
    name, _mtype, _seq = proto.readMessageBegin()
    if name != "emitBatch":
        raise ValueError(f"thrift method {name!r}, expected emitBatch")
    args = Agent.emitBatch_args()
    args.read(proto)
    proto.readMessageEnd()
    batch = args.batch
    out = []
    for s in batch.spans or []:
        trace_id = ((s.traceIdHigh or 0) & U64) << 64 | ((s.traceIdLow or 0) & U64)
        tags = {t.key: {0: t.vStr, 1: t.vDouble, 2: t.vBool, 3: t.vLong, 4: t.vBinary}.get(t.vType)
                for t in s.tags or []}
        out.append({"via": "jaeger", "service": batch.process.serviceName,
                    "trace_id": "%032x" % trace_id, "span_id": "%016x" % ((s.spanId or 0) & U64),
                    "parent_id": "%016x" % ((s.parentSpanId or 0) & U64) if s.parentSpanId else "",
                    "name": s.operationName, "kind": tags.get("span.kind"),
                    "attributes": {k: v for k, v in tags.items() if not isinstance(v, bytes)}})
    return out


# --- Zipkin v2 JSON -----------------------------------------------------------------------------
def zipkin_spans(body: bytes) -> list[dict]:
    doc = json.loads(body)
    if not isinstance(doc, list):
        raise ValueError("a Zipkin v2 POST body is a JSON list of spans")
    out = []
    for s in doc:
        for key in ("traceId", "id"):
            if not isinstance(s.get(key), str):
                raise ValueError(f"span without {key}")
        out.append({"via": "zipkin", "service": (s.get("localEndpoint") or {}).get("serviceName", ""),
                    "trace_id": s["traceId"].rjust(32, "0"), "span_id": s["id"],
                    "parent_id": s.get("parentId", ""), "name": s.get("name", ""),
                    "kind": s.get("kind"), "attributes": s.get("tags", {})})
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status: int, body: bytes, ctype: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/spans", "/errors"):
            with LOCK:
                doc = list(SPANS if path == "/spans" else ERRORS)
            self.reply(200, json.dumps(doc).encode())
        elif path == "/healthz":
            self.reply(200, b"ok\n", "text/plain")
        else:
            self.reply(404, b"not found\n", "text/plain")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        try:
            body = gzip.decompress(raw) if self.headers.get("Content-Encoding", "").lower() == "gzip" else raw
            if self.server.kind == "otlp" and path == "/v1/traces":
                req = ExportTraceServiceRequest()
                if ctype == "application/json":
                    json_format.Parse(body, req)
                else:
                    req.ParseFromString(body)
                record(otlp_spans(req))
                self.reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")
            elif self.server.kind == "zipkin" and path == "/api/v2/spans":
                record(zipkin_spans(body))
                self.reply(202, b"")
            else:
                self.reply(404, b"not found\n", "text/plain")
        except Exception as e:  # noqa: BLE001 - an undecodable body is the finding
            error(f"{self.server.kind} POST {path}: {type(e).__name__}: {e}")
            self.reply(400, str(e).encode(), "text/plain")


def serve_http(host: str, port: int, kind: str):
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.kind = kind  # type: ignore[attr-defined]
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def serve_udp(host: str, port: int):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))

    def loop():
        while True:
            data = sock.recv(65535)
            try:
                record(jaeger_spans(data))
            except Exception as e:  # noqa: BLE001
                error(f"jaeger UDP datagram of {len(data)} bytes: {type(e).__name__}: {e}")

    threading.Thread(target=loop, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--otlp", type=int)
    ap.add_argument("--jaeger-udp", type=int)
    ap.add_argument("--zipkin", type=int)
    ap.add_argument("--query", type=int, required=True)
    a = ap.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if a.otlp:
        serve_http(a.host, a.otlp, "otlp")
    if a.zipkin:
        serve_http(a.host, a.zipkin, "zipkin")
    if a.jaeger_udp:
        serve_udp(a.host, a.jaeger_udp)
    serve_http(a.host, a.query, "query")
    print(f"standin on {a.host}: otlp {a.otlp}, jaeger-udp {a.jaeger_udp}, zipkin {a.zipkin}, "
          f"query {a.query}", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
