import Propagation
import XCTest

/// Examples from the B3 propagation spec (https://github.com/openzipkin/b3-propagation).
final class B3Tests: XCTestCase {
    let trace128 = "80f198ee56343ba864fe8b2a57d3eff7"
    let span = "e457b5a2e4d86bd1"
    let parent = "05e3ac9a4f6e3b90"

    func extractSingle(_ v: String) -> IncomingContext? {
        B3.extract(from: TestHeaders([("b3", v)]))
    }

    func test_single_specFullExample_readsIdsAndAccept() throws {
        let ctx = try XCTUnwrap(extractSingle("\(trace128)-\(span)-1-\(parent)"))
        XCTAssertEqual(ctx.traceID?.hex32, trace128)
        XCTAssertEqual(ctx.spanID.hex16, span)
        XCTAssertEqual(ctx.sampled, true)
        XCTAssertFalse(ctx.debug)
        XCTAssertEqual(ctx.format, .b3)
    }

    func test_single_debugState_debugAndSampled() throws {
        let ctx = try XCTUnwrap(extractSingle("\(trace128)-\(span)-d"))
        XCTAssertEqual(ctx.sampled, true)
        XCTAssertTrue(ctx.debug)
    }

    func test_single_denyState_notSampled() {
        XCTAssertEqual(extractSingle("\(trace128)-\(span)-0")?.sampled, false)
    }

    func test_single_noSamplingState_defers() throws {
        let ctx = try XCTUnwrap(extractSingle("463ac35c9f6413ad-\(span)"))
        XCTAssertEqual(ctx.traceID, TraceID(high: 0, low: 0x463a_c35c_9f64_13ad))
        XCTAssertNil(ctx.sampled)
    }

    func test_single_decisionOnly_noIds() {
        XCTAssertEqual(
            extractSingle("0"),
            IncomingContext(traceID: nil, spanID: .zero, sampled: false, format: .b3))
        XCTAssertEqual(
            extractSingle("1"),
            IncomingContext(traceID: nil, spanID: .zero, sampled: true, format: .b3))
        XCTAssertEqual(
            extractSingle("d"),
            IncomingContext(traceID: nil, spanID: .zero, sampled: true, debug: true, format: .b3))
    }

    func test_single_malformed_rejected() {
        let bad = [
            "", "2", "x", "\(trace128.uppercased())-\(span)-1",
            "\(trace128)-\(span.uppercased())", "\(trace128.dropLast())-\(span)",
            "\(trace128)-\(span.dropLast())", "\(trace128)-\(span)-", "\(trace128)-\(span)-2",
            "\(trace128)-\(span)-11", "\(trace128)-\(span)-1-", "\(trace128)-\(span)-1-\(parent)0",
            "\(trace128)-\(span)-1-\(parent)-x", "\(trace128)",
            "\(String(repeating: "0", count: 32))-\(span)",
            "\(trace128)-0000000000000000-1", "\(trace128)-\(span)-1--",
        ]
        for v in bad {
            XCTAssertNil(B3.withSingleOnly(v), v)
        }
    }

    func test_single_takesPrecedenceOverMulti() {
        let h = TestHeaders([
            ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-Sampled", "1"), ("b3", "\(trace128)-\(span)-0"),
        ])
        let ctx = B3.extract(from: h)
        XCTAssertEqual(ctx?.traceID?.hex32, trace128)
        XCTAssertEqual(ctx?.sampled, false)
    }

    func test_single_malformed_fallsBackToMulti() {
        let h = TestHeaders([
            ("b3", "garbage"), ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ])
        XCTAssertEqual(B3.extract(from: h)?.traceID?.hex32, "463ac35c9f6413ad48485a3953bb6124")
    }

    func test_multi_specExample_readsIds() throws {
        let h = TestHeaders([
            ("X-B3-TraceId", trace128), ("X-B3-ParentSpanId", parent), ("X-B3-SpanId", span),
            ("X-B3-Sampled", "1"),
        ])
        let ctx = try XCTUnwrap(B3.extract(from: h))
        XCTAssertEqual(ctx.traceID?.hex32, trace128)
        XCTAssertEqual(ctx.spanID.hex16, span)
        XCTAssertEqual(ctx.sampled, true)
    }

    func test_multi_64BitTraceId_highHalfZero() {
        let h = TestHeaders([("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", span)])
        let ctx = B3.extract(from: h)
        XCTAssertEqual(ctx?.traceID, TraceID(high: 0, low: 0x463a_c35c_9f64_13ad))
        XCTAssertNil(ctx?.sampled, "absent X-B3-Sampled defers the decision")
    }

    func test_multi_sampledSpellings_lenient() {
        for (v, want) in [("1", true), ("0", false), ("true", true), ("false", false)] {
            let h = TestHeaders([
                ("X-B3-TraceId", trace128), ("X-B3-SpanId", span), ("X-B3-Sampled", v),
            ])
            XCTAssertEqual(B3.extract(from: h)?.sampled, want, v)
        }
    }

    func test_multi_debugFlag_impliesSampled() throws {
        let h = TestHeaders([
            ("X-B3-TraceId", trace128), ("X-B3-SpanId", span), ("X-B3-Sampled", "0"),
            ("X-B3-Flags", "1"),
        ])
        let ctx = try XCTUnwrap(B3.extract(from: h))
        XCTAssertTrue(ctx.debug)
        XCTAssertEqual(ctx.sampled, true)
        let other = TestHeaders([
            ("X-B3-TraceId", trace128), ("X-B3-SpanId", span), ("X-B3-Flags", "2"),
        ])
        XCTAssertEqual(B3.extract(from: other)?.debug, false, "other values are ignored")
    }

    func test_multi_sampledAlone_decisionOnly() {
        XCTAssertEqual(
            B3.extract(from: TestHeaders([("X-B3-Sampled", "0")])),
            IncomingContext(traceID: nil, spanID: .zero, sampled: false, format: .b3))
        XCTAssertEqual(
            B3.extract(from: TestHeaders([("X-B3-Flags", "1")])),
            IncomingContext(traceID: nil, spanID: .zero, sampled: true, debug: true, format: .b3))
    }

    func test_multi_incompleteOrMalformed_rejected() {
        let cases: [[(String, String)]] = [
            [("X-B3-TraceId", trace128)],
            [("X-B3-SpanId", span), ("X-B3-Sampled", "1")],
            [("X-B3-TraceId", trace128.uppercased()), ("X-B3-SpanId", span)],
            [("X-B3-TraceId", trace128), ("X-B3-SpanId", "\(span)0")],
            [("X-B3-TraceId", "\(trace128.prefix(20))"), ("X-B3-SpanId", span)],
            [("X-B3-TraceId", String(repeating: "0", count: 16)), ("X-B3-SpanId", span)],
            [("X-B3-TraceId", trace128), ("X-B3-SpanId", span), ("X-B3-ParentSpanId", "-")],
            [],
        ]
        for h in cases {
            XCTAssertNil(B3.extract(from: TestHeaders(h)), "\(h)")
        }
    }

    func test_multi_firstValueWins() {
        let h = TestHeaders([
            ("X-B3-TraceId", trace128), ("X-B3-TraceId", "463ac35c9f6413ad"), ("X-B3-SpanId", span),
        ])
        XCTAssertEqual(B3.extract(from: h)?.traceID?.hex32, trace128)
    }

    func test_inject_childSpan_multiHeadersStrictlyParsable() throws {
        let ctx = OutgoingContext(
            traceID: TraceID(high: 0, low: 0x463a_c35c_9f64_13ad),
            spanID: SpanID(0xa2fb_4a1d_1a96_d312),
            parentSpanID: SpanID(0x0020_0000_0000_0001), sampled: true, debug: false,
            traceState: "x=1")
        var out: [UInt8] = []
        B3.inject(ctx, into: &out)
        let lines = try XCTUnwrap(headerLines(out))
        XCTAssertEqual(
            lines.map(\.name), ["X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId", "X-B3-Sampled"])
        XCTAssertEqual(lines[0].value, "0000000000000000463ac35c9f6413ad", "full width")
        XCTAssertEqual(
            Strict.b3Multi(lines),
            StrictContext(
                traceHigh: 0, traceLow: 0x463a_c35c_9f64_13ad, span: 0xa2fb_4a1d_1a96_d312,
                parent: 0x0020_0000_0000_0001, sampled: true, debug: false))
    }

    func test_inject_rootSpan_noParentHeader() throws {
        let ctx = OutgoingContext(
            traceID: TraceID(high: 5, low: 6), spanID: SpanID(7), parentSpanID: .zero,
            sampled: false,
            debug: false, traceState: nil)
        var out: [UInt8] = []
        B3.inject(ctx, into: &out)
        let lines = try XCTUnwrap(headerLines(out))
        XCTAssertNil(single(lines, "X-B3-ParentSpanId"))
        XCTAssertEqual(Strict.b3Multi(lines)?.sampled, false)
    }

    func test_inject_debug_flagsWithoutSampled() throws {
        let ctx = OutgoingContext(
            traceID: TraceID(high: 5, low: 6), spanID: SpanID(7), parentSpanID: SpanID(8),
            sampled: true,
            debug: true, traceState: nil)
        var out: [UInt8] = []
        B3.inject(ctx, into: &out)
        let lines = try XCTUnwrap(headerLines(out))
        XCTAssertEqual(single(lines, "X-B3-Flags"), "1")
        XCTAssertNil(single(lines, "X-B3-Sampled"), "debug implies accept: don't also send Sampled")
        XCTAssertEqual(Strict.b3Multi(lines)?.sampled, true)
    }

    /// The spec's context (its "Single Header" example) with the proxy as the child span.
    private var specContext: OutgoingContext {
        OutgoingContext(
            traceID: TraceID(high: 0x80f1_98ee_5634_3ba8, low: 0x64fe_8b2a_57d3_eff7),
            spanID: SpanID(0xe457_b5a2_e4d8_6bd1),
            parentSpanID: SpanID(0x05e3_ac9a_4f6e_3b90), sampled: true, debug: false, traceState: nil)
    }

    /// "Single Header": the multi-header example "becomes one b3 header"; both are the spec's
    /// strings, and each encoding writes its own.
    func test_injectSingle_vsMulti_specExample() throws {
        var single: [UInt8] = []
        B3.injectSingle(specContext, into: &single)
        XCTAssertEqual(
            String(decoding: single, as: UTF8.self),
            "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n")
        var multi: [UInt8] = []
        B3.inject(specContext, into: &multi)
        let written = try XCTUnwrap(headerLines(multi)).map { "\($0.name): \($0.value)" }
        XCTAssertEqual(
            Set(written),
            [
                "X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7", "X-B3-ParentSpanId: 05e3ac9a4f6e3b90",
                "X-B3-SpanId: e457b5a2e4d86bd1", "X-B3-Sampled: 1",
            ])
        XCTAssertEqual(written.count, 4)
        XCTAssertFalse(written.contains { $0.lowercased().hasPrefix("b3:") })
    }

    /// The spec's root-span and debug examples (`{TraceId}-{SpanId}-1`, `-d`), and a deny.
    func test_injectSingle_rootSpan_debugAndDeny() {
        var ctx = specContext
        ctx.parentSpanID = .zero
        let value = { (ctx: OutgoingContext) -> String in
            var out: [UInt8] = []
            B3.injectSingle(ctx, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        XCTAssertEqual(value(ctx), "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n")
        ctx.debug = true
        XCTAssertEqual(value(ctx), "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d\r\n")
        ctx.debug = false
        ctx.sampled = false
        XCTAssertEqual(value(ctx), "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0\r\n")
        ctx.traceID = TraceID(high: 0, low: 0x463a_c35c_9f64_13ad)
        XCTAssertEqual(
            value(ctx), "b3: 0000000000000000463ac35c9f6413ad-e457b5a2e4d86bd1-0\r\n", "trace id at full width")
    }

    func test_injectSingle_readsBack() throws {
        var out: [UInt8] = []
        B3.injectSingle(specContext, into: &out)
        let lines = try XCTUnwrap(headerLines(out))
        let ctx = try XCTUnwrap(B3.extract(from: TestHeaders(lines.map { ($0.name, $0.value) })))
        XCTAssertEqual(ctx.traceID, specContext.traceID)
        XCTAssertEqual(ctx.spanID, specContext.spanID)
        XCTAssertEqual(ctx.sampled, true)
    }
}

extension B3 {
    /// The single-header parser alone, so a malformed value cannot fall back to multi headers.
    static func withSingleOnly(_ v: String) -> IncomingContext? {
        withBytes(v) { parseSingle($0) }
    }
}
