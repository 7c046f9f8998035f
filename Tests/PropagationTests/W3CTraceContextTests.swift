import Propagation
import XCTest

/// Examples from the W3C Trace Context recommendation (https://www.w3.org/TR/trace-context/) and
/// its processing model.
final class W3CTraceContextTests: XCTestCase {
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    let parent = "00f067aa0ba902b7"

    func parse(_ v: String) -> W3CTraceContext.Traceparent? {
        withBytes(v) { W3CTraceContext.parseTraceparent($0) }
    }

    func test_parseTraceparent_specSampledExample_readsAllFields() throws {
        let tp = try XCTUnwrap(parse("00-\(trace)-\(parent)-01"))
        XCTAssertEqual(tp.traceID, TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736))
        XCTAssertEqual(tp.parentID, SpanID(0x00f0_67aa_0ba9_02b7))
        XCTAssertTrue(tp.sampled)
    }

    func test_parseTraceparent_specNotSampledExample_sampledFalse() throws {
        XCTAssertEqual(try XCTUnwrap(parse("00-\(trace)-\(parent)-00")).sampled, false)
    }

    func test_parseTraceparent_flagsAreABitField_sampledFromBitZeroOnly() throws {
        // §3.2.2.5: "both 01 and 03 represent that the trace has been sampled"; 02 does not.
        XCTAssertEqual(try XCTUnwrap(parse("00-\(trace)-\(parent)-03")).sampled, true)
        XCTAssertEqual(try XCTUnwrap(parse("00-\(trace)-\(parent)-02")).sampled, false)
        XCTAssertEqual(try XCTUnwrap(parse("00-\(trace)-\(parent)-ff")).sampled, true)
    }

    func test_parseTraceparent_invalidValues_rejected() {
        let invalid = [
            "00-\(trace.uppercased())-\(parent)-01",  // HEXDIGLC only
            "00-\(trace)-\(parent.uppercased())-01",
            "00-\(trace)-\(parent)-0A",
            "ff-\(trace)-\(parent)-01",  // version ff is forbidden
            "00-\(String(repeating: "0", count: 32))-\(parent)-01",  // all-zero trace id
            "00-\(trace)-\(String(repeating: "0", count: 16))-01",  // all-zero parent id
            "00-\(trace)-\(parent)-01-extra",  // version 00 is exactly 55 characters
            "00-\(trace)-\(parent)-01 ",
            "00-\(trace)-\(parent)-1",
            "00-\(trace)-\(parent)",
            "0-\(trace)-\(parent)-01",
            "0g-\(trace)-\(parent)-01",
            "00_\(trace)-\(parent)-01",
            "00-\(trace)_\(parent)-01",
            "00-\(trace)-\(parent)_01",
            "00-\(trace.dropLast())-\(parent)0-01",
            "00-\(trace)-\(parent)-0g",
            "",
        ]
        for v in invalid {
            XCTAssertNil(parse(v), v)
        }
    }

    func test_parseTraceparent_higherVersion_readAtVersion00Offsets() throws {
        let tp = try XCTUnwrap(parse("cc-\(trace)-\(parent)-01-what-the-future-will-be-like"))
        XCTAssertEqual(tp.traceID.hex32, trace)
        XCTAssertEqual(tp.parentID.hex16, parent)
        XCTAssertTrue(tp.sampled)
        XCTAssertNotNil(parse("01-\(trace)-\(parent)-00"), "exactly 55 characters")
    }

    func test_parseTraceparent_higherVersionWithoutDashAfterFlags_rejected() {
        // §3.2.4: the flags must be at the end of the string or followed by a dash.
        XCTAssertNil(parse("cc-\(trace)-\(parent)-01x"))
        XCTAssertNil(parse("cc-\(trace)-\(parent)-0"), "shorter than 55")
    }

    func test_extract_validTraceparentWithTracestate_keepsBoth() throws {
        let h = TestHeaders([
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("tracestate", "congo=t61rcWkgMzE"),
        ])
        let ctx = try XCTUnwrap(W3CTraceContext.extract(from: h))
        XCTAssertEqual(ctx.traceID?.hex32, "0af7651916cd43dd8448eb211c80319c")
        XCTAssertEqual(ctx.spanID.hex16, "b7ad6b7169203331")
        XCTAssertEqual(ctx.sampled, true)
        XCTAssertFalse(ctx.debug)
        XCTAssertEqual(ctx.traceState, "congo=t61rcWkgMzE")
        XCTAssertEqual(ctx.format, .w3c)
    }

    func test_extract_headerNameCaseInsensitive_found() {
        let h = TestHeaders([("TraceParent", "00-\(trace)-\(parent)-01")])
        XCTAssertEqual(W3CTraceContext.extract(from: h)?.traceID?.hex32, trace)
    }

    func test_extract_twoTraceparentHeaders_invalidEvenWhenEqual() {
        let v = "00-\(trace)-\(parent)-01"
        XCTAssertNil(
            W3CTraceContext.extract(from: TestHeaders([("traceparent", v), ("traceparent", v)])))
        let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        XCTAssertNil(
            W3CTraceContext.extract(
                from: TestHeaders([("traceparent", v), ("traceparent", other)])))
    }

    func test_extract_tracestateWithoutTraceparent_noContext() {
        XCTAssertNil(W3CTraceContext.extract(from: TestHeaders([("tracestate", "foo=1,bar=2")])))
    }

    func test_extract_tracestateWithInvalidTraceparent_noContext() {
        let h = TestHeaders([("traceparent", "ff-\(trace)-\(parent)-01"), ("tracestate", "foo=1")])
        XCTAssertNil(W3CTraceContext.extract(from: h))
    }

    func test_extract_repeatedTracestate_combinedInOrder() {
        let h = TestHeaders([
            ("traceparent", "00-\(trace)-\(parent)-01"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("tracestate", "congo=t61rcWkgMzE"),
        ])
        XCTAssertEqual(
            W3CTraceContext.extract(from: h)?.traceState, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    }

    func test_extract_invalidTracestate_contextKeptStateDropped() throws {
        // §3.3: failure to parse tracestate MUST NOT affect the parsing of traceparent.
        let h = TestHeaders([("traceparent", "00-\(trace)-\(parent)-01"), ("tracestate", "Foo=1")])
        let ctx = try XCTUnwrap(W3CTraceContext.extract(from: h))
        XCTAssertEqual(ctx.traceID?.hex32, trace)
        XCTAssertNil(ctx.traceState)
    }

    func test_inject_sampledWithState_strictlyParsable() throws {
        let ctx = OutgoingContext(
            traceID: TraceID(high: 0, low: 0x1234), spanID: SpanID(0xabcdef),
            parentSpanID: SpanID(7), sampled: true, debug: false, traceState: "congo=t61rcWkgMzE")
        var out: [UInt8] = []
        W3CTraceContext.inject(ctx, into: &out)
        let lines = try XCTUnwrap(headerLines(out))
        XCTAssertEqual(lines.map(\.name), ["traceparent", "tracestate"])
        let tp = try XCTUnwrap(single(lines, "traceparent"))
        XCTAssertEqual(tp, "00-00000000000000000000000000001234-0000000000abcdef-01")
        let parsed = try XCTUnwrap(Strict.traceparent(tp))
        XCTAssertEqual(parsed.traceLow, 0x1234)
        XCTAssertEqual(parsed.span, 0xabcdef)
        XCTAssertEqual(single(lines, "tracestate"), "congo=t61rcWkgMzE")
    }

    func test_inject_debugNotSampledBits_flagsOnlySampledBit() throws {
        // Jaeger's debug bit (0x02) means "random trace id" in W3C level 2: never copied.
        let ctx = OutgoingContext(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentSpanID: .zero,
            sampled: true, debug: true, traceState: nil)
        var out: [UInt8] = []
        W3CTraceContext.inject(ctx, into: &out)
        let lines = try XCTUnwrap(headerLines(out))
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(lines[0].value.suffix(3), "-01")
        var unsampled = ctx
        unsampled.sampled = false
        unsampled.debug = false
        out = []
        W3CTraceContext.inject(unsampled, into: &out)
        XCTAssertEqual(Strict.traceparent(try XCTUnwrap(headerLines(out))[0].value)?.sampled, false)
    }
}
