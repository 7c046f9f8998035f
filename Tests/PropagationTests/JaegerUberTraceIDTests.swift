import Propagation
import XCTest

/// uber-trace-id per the Jaeger client propagation format (jaegertracing.io, "Propagation Format").
final class JaegerUberTraceIDTests: XCTestCase {
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    let span = "00f067aa0ba902b7"

    func extract(_ fields: [(String, String)]) -> IncomingContext? {
        JaegerUberTraceID.extract(from: TestHeaders(fields))
    }

    func test_extract_128Bit_sampled() throws {
        let ctx = try XCTUnwrap(extract([("uber-trace-id", "\(trace):\(span):0:1")]))
        XCTAssertEqual(ctx.traceID?.hex32, trace)
        XCTAssertEqual(ctx.spanID.hex16, span)
        XCTAssertEqual(ctx.sampled, true)
        XCTAssertFalse(ctx.debug)
        XCTAssertEqual(ctx.format, .jaeger)
    }

    func test_extract_64BitWithParent_highHalfZero() {
        let ctx = extract([("uber-trace-id", "a3ce929d0e0e4736:\(span):b7ad6b7169203331:1")])
        XCTAssertEqual(ctx?.traceID, TraceID(high: 0, low: 0xa3ce_929d_0e0e_4736))
    }

    func test_extract_withoutZeroPadding_accepted() {
        let ctx = extract([("uber-trace-id", "1f2e3d:abc:0:1")])
        XCTAssertEqual(ctx?.traceID, TraceID(high: 0, low: 0x1f2e3d))
        XCTAssertEqual(ctx?.spanID, SpanID(0xabc))
        let long = extract([("uber-trace-id", "1a3ce929d0e0e4736:1:0:1")])
        XCTAssertEqual(long?.traceID, TraceID(high: 1, low: 0xa3ce_929d_0e0e_4736))
    }

    func test_extract_urlEncoded_decodedFirst() {
        let ctx = extract([("uber-trace-id", "\(trace)%3A\(span)%3a0%3A1")])
        XCTAssertEqual(ctx?.traceID?.hex32, trace)
        XCTAssertEqual(ctx?.sampled, true)
    }

    func test_extract_flags_sampledDebug() {
        XCTAssertEqual(extract([("uber-trace-id", "\(trace):\(span):0:0")])?.sampled, false)
        let debug = extract([("uber-trace-id", "\(trace):\(span):0:3")])
        XCTAssertEqual(debug?.sampled, true)
        XCTAssertEqual(debug?.debug, true)
        let debugOnly = extract([("uber-trace-id", "\(trace):\(span):0:2")])
        XCTAssertEqual(debugOnly?.sampled, true, "debug implies sampled")
        XCTAssertEqual(
            extract([("uber-trace-id", "\(trace):\(span):0:9")])?.sampled, true, "firehose+1")
    }

    func test_extract_malformed_rejected() {
        let bad = [
            "zz\(trace.dropFirst(2)):\(span):0:1", "\(trace):\(span):1", "\(trace):\(span):0:1:5",
            "0:\(span):0:1", "\(String(repeating: "0", count: 32)):\(span):0:1", "\(trace):0:0:1",
            "\(trace)0:\(span):0:1", "\(trace):\(span)0:0:1", "\(trace):\(span):0:100",
            ":\(span):0:1",
            "\(trace)::0:1", "\(trace):\(span)::1", "\(trace):\(span):0:", "\(trace)%3G\(span):0:1",
            "",
        ]
        for v in bad {
            XCTAssertNil(extract([("uber-trace-id", v)]), v)
        }
    }

    func test_extract_debugIdAlone_decisionOnlyDebug() {
        XCTAssertEqual(
            extract([("jaeger-debug-id", "some-correlation-id")]),
            IncomingContext(
                traceID: nil, spanID: .zero, sampled: true, debug: true, format: .jaeger))
        XCTAssertNil(extract([("jaeger-debug-id", "")]))
    }

    func test_extract_validTraceWithDebugId_traceWins() {
        let ctx = extract([("uber-trace-id", "\(trace):\(span):0:0"), ("jaeger-debug-id", "x")])
        XCTAssertEqual(ctx?.traceID?.hex32, trace)
        XCTAssertEqual(ctx?.sampled, false)
    }

    func test_extract_baggageOnly_noContext() {
        XCTAssertNil(extract([("uberctx-user", "alice"), ("baggage", "k=v")]))
    }

    func test_inject_flagsAndParent_strictlyParsable() throws {
        let cases: [(sampled: Bool, debug: Bool, parent: UInt64, flags: String)] = [
            (true, false, 0x1234, "1"), (false, false, 0, "0"), (true, true, 9, "3"),
        ]
        for c in cases {
            let ctx = OutgoingContext(
                traceID: TraceID(high: 0, low: 0xabc), spanID: SpanID(0xdef),
                parentSpanID: SpanID(c.parent), sampled: c.sampled, debug: c.debug, traceState: nil)
            var out: [UInt8] = []
            JaegerUberTraceID.inject(ctx, into: &out)
            let lines = try XCTUnwrap(headerLines(out))
            XCTAssertEqual(lines.map(\.name), ["uber-trace-id"])
            let v = lines[0].value
            XCTAssertTrue(v.hasPrefix("00000000000000000000000000000abc:0000000000000def:"), v)
            XCTAssertTrue(v.hasSuffix(":\(c.flags)"), v)
            let parsed = try XCTUnwrap(Strict.uber(v))
            XCTAssertEqual(parsed.parent, c.parent)
            XCTAssertEqual(parsed.sampled, c.sampled)
            XCTAssertEqual(parsed.debug, c.debug)
            if c.parent == 0 { XCTAssertTrue(v.contains(":0:"), v) }
        }
    }
}
