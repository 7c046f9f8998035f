#!/usr/bin/env python3
"""Check SpanEncoding's output with independent decoders.

Reads the fixtures that `EncoderFixtureExportTests` writes when TRACEPROXY_FIXTURE_DIR is set:
  * jaeger-*.bin: each must decode with jaeger-client's generated Thrift code
    (jaeger_client.thrift_gen.agent.Agent, TCompactProtocol over TMemoryBuffer) as one ONEWAY
    `emitBatch` message with no trailing bytes, at most maxPacketSize bytes, with consecutive
    seqNo values and exactly the spans, tags, logs and references listed in manifest.json;
  * zipkin.json: must be valid `ListOfSpans` under zipkin2-span.schema.json (zipkin_schema.py),
    have non-zero ids and no `error=false` tag, and equal the expected spans in manifest.json.

Usage: check_encoder_fixtures.py FIXTURE_DIR [--spec PATH_TO/schema.json]
Prints one PASS/FAIL line per case and finally `N passed, M failed`; exits 1 on any failure.
Needs: jaeger-client==4.8.0, thrift, six, jsonschema (see run_encoder_interop.sh).
"""
import argparse
import json
import os
import re
import sys

try:
    import zipkin_schema
    from jaeger_client.thrift_gen.agent import Agent
    from thrift.Thrift import TType
    from thrift.protocol import TCompactProtocol
    from thrift.transport import TTransport
except ImportError as e:  # pragma: no cover - environment problem, not a test result
    sys.exit(f"missing dependency ({e}); install: pip install 'jaeger-client==4.8.0' "
             "'thrift>=0.13,<0.30' six jsonschema")

U64 = (1 << 64) - 1
TAG_TYPES = {0: "string", 1: "double", 2: "bool", 3: "long", 4: "binary"}
ONEWAY = 4


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def case(self, name, problems):
        if problems:
            self.failed.append(name)
            print(f"FAIL {name} | " + "; ".join(problems[:8]))
        else:
            self.passed += 1
            print(f"PASS {name}")


# ----------------------------------------------------------------------------------------------
# Jaeger
# ----------------------------------------------------------------------------------------------
def hex16(v):
    return "%016x" % ((v or 0) & U64)


def decode_datagram(data):
    """One datagram -> (message type, Batch). Raises on anything a jaeger-agent would reject."""
    trans = TTransport.TMemoryBuffer(data)
    proto = TCompactProtocol.TCompactProtocol(trans)
    name, mtype, _seqid = proto.readMessageBegin()
    if name != "emitBatch":
        raise ValueError(f"method {name!r}")
    args = Agent.emitBatch_args()
    args.read(proto)
    proto.readMessageEnd()
    rest = trans._buffer.read()
    if rest:
        raise ValueError(f"{len(rest)} trailing bytes")
    if args.batch is None:
        raise ValueError("no batch")
    return mtype, args.batch


def read_seqno_and_stats(data):
    """Batch.seqNo (3) and Batch.stats (4) per jaeger.thrift. jaeger-client 4.8.0's vendored
    Batch predates these fields (its reader skips them), so this walks the same message with the
    thrift library's TCompactProtocol, using the generated Process/Span readers for fields 1-2."""
    from jaeger_client.thrift_gen.jaeger import ttypes

    proto = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(data))
    seqno, stats = None, None

    def read_fields(handle):
        proto.readStructBegin()
        while True:
            _, ftype, fid = proto.readFieldBegin()
            if ftype == TType.STOP:
                break
            handle(fid, ftype)
            proto.readFieldEnd()
        proto.readStructEnd()

    def client_stats(values):
        def handle(fid, ftype):
            if ftype != TType.I64:
                raise ValueError(f"ClientStats.{fid} has type {ftype}, expected i64")
            values[fid] = proto.readI64()
        return handle

    def batch_field(fid, ftype):
        nonlocal seqno, stats
        if fid == 3:
            if ftype != TType.I64:
                raise ValueError(f"Batch.seqNo has type {ftype}, expected i64")
            seqno = proto.readI64()
        elif fid == 4:
            if ftype != TType.STRUCT:
                raise ValueError(f"Batch.stats has type {ftype}, expected struct")
            values = {}
            read_fields(client_stats(values))
            stats = [values.get(1), values.get(2), values.get(3)]
        elif fid == 1 and ftype == TType.STRUCT:
            ttypes.Process().read(proto)
        else:
            proto.skip(ftype)

    def args_field(fid, ftype):
        if fid == 1 and ftype == TType.STRUCT:
            read_fields(batch_field)
        else:
            proto.skip(ftype)

    proto.readMessageBegin()
    read_fields(args_field)
    proto.readMessageEnd()
    return seqno, stats


def tag_entry(t):
    kind = TAG_TYPES.get(t.vType, f"?{t.vType}")
    value = {"string": t.vStr, "double": t.vDouble, "bool": t.vBool, "long": t.vLong,
             "binary": t.vBinary}.get(kind)
    return [t.key, kind, value]


def span_view(s):
    refs = [[r.refType, hex16(r.traceIdHigh) + hex16(r.traceIdLow), hex16(r.spanId)]
            for r in (s.references or [])]
    return {
        "traceIdHigh": hex16(s.traceIdHigh), "traceIdLow": hex16(s.traceIdLow), "spanId": hex16(s.spanId),
        "parentSpanId": hex16(s.parentSpanId), "operationName": s.operationName, "flags": s.flags,
        "startTime": s.startTime, "duration": s.duration, "references": refs,
        "tags": [tag_entry(t) for t in (s.tags or [])],
        "logs": [[lg.timestamp, [tag_entry(f) for f in (lg.fields or [])]] for lg in (s.logs or [])],
    }


def compare_span(expected, got, truncated_keys, where):
    problems = []
    for key in ("traceIdHigh", "traceIdLow", "spanId", "parentSpanId", "operationName", "flags",
                "startTime", "duration", "references", "logs"):
        if expected[key] != got[key]:
            problems.append(f"{where}.{key}: expected {expected[key]!r}, got {got[key]!r}")
    exp_tags, got_tags = expected["tags"], got["tags"]
    if [t[:2] for t in exp_tags] != [t[:2] for t in got_tags]:
        problems.append(f"{where}.tags keys/types: expected {[t[:2] for t in exp_tags]}, "
                        f"got {[t[:2] for t in got_tags]}")
    else:
        for e, g in zip(exp_tags, got_tags):
            if e[0] in truncated_keys:
                if not (isinstance(g[2], str) and e[2].startswith(g[2]) and len(g[2]) < len(e[2])):
                    problems.append(f"{where}.tag {e[0]} is not a truncated prefix of the original")
            elif e[2] != g[2]:
                problems.append(f"{where}.tag {e[0]}: expected {e[2]!r}, got {g[2]!r}")
    # references must agree with parentSpanId (what the acceptance checks call consistent)
    parent = int(got["parentSpanId"], 16)
    for ref_type, trace, span in got["references"]:
        if ref_type != 0 or span != got["parentSpanId"] or trace != got["traceIdHigh"] + got["traceIdLow"]:
            problems.append(f"{where}: reference {ref_type}/{trace}/{span} inconsistent with parent")
    if parent != 0 and not got["references"]:
        problems.append(f"{where}: no CHILD_OF reference for parent {got['parentSpanId']}")
    return problems


def check_group(fixture_dir, group, results):
    name = group["name"]
    decoded = []
    extras = []  # (seqNo, stats) per decoded datagram
    for f in group["files"]:
        with open(os.path.join(fixture_dir, f), "rb") as fh:
            data = fh.read()
        problems = []
        if len(data) > group["maxPacketSize"]:
            problems.append(f"{len(data)} bytes > maxPacketSize {group['maxPacketSize']}")
        try:
            mtype, batch = decode_datagram(data)
            if mtype != ONEWAY:
                problems.append(f"message type {mtype}, expected ONEWAY (4)")
            decoded.append(batch)
            extras.append(read_seqno_and_stats(data))
        except Exception as e:  # noqa: BLE001 - any decode failure is the finding
            problems.append(f"decode: {type(e).__name__}: {e}")
        results.case(f"jaeger {name}: {f} decodes ({len(data)} bytes)", problems)

    problems = []
    if len(decoded) != len(group["files"]):
        problems.append("some datagrams did not decode")
    if len(group["files"]) < group["minDatagrams"]:
        problems.append(f"{len(group['files'])} datagrams, expected at least {group['minDatagrams']}")
    seqnos = [seq for seq, _ in extras]
    expected_seqnos = list(range(group["firstSeqNo"], group["firstSeqNo"] + len(decoded)))
    if seqnos != expected_seqnos:
        problems.append(f"seqNo {seqnos}, expected {expected_seqnos}")
    for i, b in enumerate(decoded):
        if b.process is None or b.process.serviceName != group["service"]:
            problems.append(f"datagram {i}: serviceName {getattr(b.process, 'serviceName', None)!r}")
        elif [tag_entry(t) for t in (b.process.tags or [])] != group["processTags"]:
            problems.append(f"datagram {i}: process tags {[tag_entry(t) for t in b.process.tags or []]}")
        got_stats = extras[i][1]
        if got_stats != group["stats"]:
            problems.append(f"datagram {i}: stats {got_stats}, expected {group['stats']}")
        if not b.spans:
            problems.append(f"datagram {i}: no spans")
    got_spans = [span_view(s) for b in decoded for s in (b.spans or [])]
    if len(got_spans) != len(group["spans"]):
        problems.append(f"{len(got_spans)} spans, expected {len(group['spans'])}")
    for i, (e, g) in enumerate(zip(group["spans"], got_spans)):
        problems += compare_span(e, g, set(group.get("truncatedTags", [])), f"span[{i}]")
    results.case(f"jaeger {name}: {len(got_spans)} spans in {len(decoded)} datagrams match the manifest",
                 problems)


# ----------------------------------------------------------------------------------------------
# Zipkin
# ----------------------------------------------------------------------------------------------
HEX = re.compile(r"^[0-9a-f]+$")


def strict_problems(span, i):
    """What the schema cannot say: all-zero ids are invalid, and a span without an error carries no
    `error` tag at all."""
    p = []
    for key in ("traceId", "id", "parentId"):
        v = span.get(key)
        if isinstance(v, str) and HEX.match(v) and int(v, 16) == 0:
            p.append(f"[{i}] {key} {v!r} is zero")
    if (span.get("tags") or {}).get("error") == "false":
        p.append(f"[{i}] error=false tag")
    return p


def check_zipkin(fixture_dir, entry, spec_path, results):
    with open(os.path.join(fixture_dir, entry["file"]), "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        results.case("zipkin: body is UTF-8 JSON", [str(e)])
        return
    results.case("zipkin: body is UTF-8 JSON", [])

    validator = zipkin_schema.list_of_spans_validator(spec_path)
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
              for e in validator.iter_errors(doc)]
    results.case(f"zipkin: valid ListOfSpans per {os.path.basename(spec_path)}", errors)

    strict = [p for i, s in enumerate(doc if isinstance(doc, list) else []) for p in strict_problems(s, i)]
    results.case("zipkin: non-zero ids, no error=false tag", strict)

    problems = []
    expected = entry["spans"]
    if not isinstance(doc, list) or len(doc) != len(expected):
        problems.append(f"{len(doc) if isinstance(doc, list) else 'no'} spans, expected {len(expected)}")
    else:
        for i, (e, g) in enumerate(zip(expected, doc)):
            for key in sorted(set(e) | set(g)):
                if e.get(key) != g.get(key):
                    problems.append(f"[{i}].{key}: expected {e.get(key)!r}, got {g.get(key)!r}")
    results.case("zipkin: spans equal the manifest", problems)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fixture_dir")
    ap.add_argument("--spec", default=zipkin_schema.schema_path(),
                    help="JSON Schema draft 4 of ListOfSpans (default: %(default)s)")
    args = ap.parse_args()

    with open(os.path.join(args.fixture_dir, "manifest.json")) as f:
        manifest = json.load(f)
    results = Results()
    for group in manifest["groups"]:
        check_group(args.fixture_dir, group, results)
    check_zipkin(args.fixture_dir, manifest["zipkin"], os.path.abspath(args.spec), results)

    if results.failed:
        print("failures:")
        for name in results.failed:
            print(f"  {name}")
    print(f"{results.passed} passed, {len(results.failed)} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
