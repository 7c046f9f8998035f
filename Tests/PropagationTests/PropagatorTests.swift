import Propagation
import XCTest

final class PropagatorTests: XCTestCase {
    let all = Propagator(formats: [.w3c, .b3, .jaeger])
    let t1 = "4bf92f3577b34da6a3ce929d0e0e4736"
    let t2 = "80f198ee56343ba864fe8b2a57d3eff7"
    let t3 = "463ac35c9f6413ad48485a3953bb6124"
    let s1 = "00f067aa0ba902b7"
    let s2 = "e457b5a2e4d86bd1"
    let s3 = "a2fb4a1d1a96d312"

    func test_extract_validTraceparent_winsOverB3AndJaeger() {
        let h = TestHeaders([
            ("uber-trace-id", "\(t3):\(s3):0:1"), ("X-B3-TraceId", t2), ("X-B3-SpanId", s2),
            ("traceparent", "00-\(t1)-\(s1)-01"),
        ])
        XCTAssertEqual(all.extract(from: h)?.format, .w3c)
        XCTAssertEqual(all.extract(from: h)?.traceID?.hex32, t1)
    }

    func test_extract_invalidTraceparent_fallsBackToB3() {
        let h = TestHeaders([
            ("traceparent", "00-\(t1.uppercased())-\(s1)-01"), ("X-B3-TraceId", t2),
            ("X-B3-SpanId", s2),
            ("X-B3-Sampled", "1"),
        ])
        let ctx = all.extract(from: h)
        XCTAssertEqual(ctx?.format, .b3)
        XCTAssertEqual(ctx?.traceID?.hex32, t2)
        XCTAssertNil(ctx?.traceState)
    }

    func test_extract_b3WinsOverJaeger() {
        let h = TestHeaders([("uber-trace-id", "\(t3):\(s3):0:1"), ("b3", "\(t2)-\(s2)-1")])
        XCTAssertEqual(all.extract(from: h)?.traceID?.hex32, t2)
    }

    func test_extract_orderFollowsFormats() {
        let h = TestHeaders([
            ("traceparent", "00-\(t1)-\(s1)-01"), ("uber-trace-id", "\(t3):\(s3):0:1"),
        ])
        XCTAssertEqual(Propagator(formats: [.jaeger, .w3c]).extract(from: h)?.traceID?.hex32, t3)
    }

    func test_extract_unconfiguredFormat_ignored() {
        let h = TestHeaders([("X-B3-TraceId", t2), ("X-B3-SpanId", s2)])
        XCTAssertNil(Propagator(formats: [.w3c]).extract(from: h))
        XCTAssertNil(
            Propagator(formats: [.b3]).extract(
                from: TestHeaders([("traceparent", "00-\(t1)-\(s1)-01")])))
    }

    func test_extract_noHeaders_nil() {
        XCTAssertNil(all.extract(from: TestHeaders([])))
        XCTAssertNil(all.extract(from: TestHeaders([("tracestate", "a=1")])))
    }

    func test_ownedHeaderNames_perConfiguredFormat() {
        XCTAssertEqual(
            all.ownedHeaderNames,
            [
                "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
                "x-b3-parentspanid",
                "x-b3-sampled", "x-b3-flags", "uber-trace-id", "jaeger-debug-id",
            ])
        XCTAssertEqual(Propagator(formats: [.w3c]).ownedHeaderNames, ["traceparent", "tracestate"])
        XCTAssertFalse(all.ownedHeaderNames.contains("baggage"))
    }

    func test_ownsHeaderName_caseInsensitiveAndMatchesSet() {
        for name in [
            "TraceParent", "X-B3-Sampled", "B3", "Uber-Trace-Id", "baggage", "uberctx-user", "b3x",
        ] {
            let owned = withBytes(name) { all.owns(headerName: $0) }
            XCTAssertEqual(owned, all.ownedHeaderNames.contains(name.lowercased()), name)
        }
        XCTAssertFalse(withBytes("traceparent") { Propagator(formats: [.b3]).owns(headerName: $0) })
    }

    func test_init_duplicateFormats_deduplicated() {
        XCTAssertEqual(Propagator(formats: [.b3, .w3c, .b3]).formats, [.b3, .w3c])
    }

    /// What the proxy does per request: extract, make its own span, strip owned headers, inject.
    /// The injected formats must each appear once, parse strictly and agree with each other.
    func test_proxyRoundTrip_allFormatsAgreeAndContinueTrace() throws {
        let incoming = [
            ("traceparent", "00-\(t1)-\(s1)-01"),
            ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            ("b3", "\(t2)-\(s2)-1"), ("X-B3-TraceId", t2), ("uber-trace-id", "\(t3):\(s3):0:1"),
            ("uberctx-user", "alice"), ("baggage", "k1=v1"),
        ]
        let ctx = try XCTUnwrap(all.extract(from: TestHeaders(incoming)))
        let out = OutgoingContext(
            traceID: try XCTUnwrap(ctx.traceID), spanID: SpanID(0x1122_3344_5566_7788),
            parentSpanID: ctx.spanID, sampled: ctx.sampled ?? true, debug: ctx.debug,
            traceState: ctx.traceState)
        var head: [UInt8] = []
        for (name, value) in incoming where !all.ownedHeaderNames.contains(name.lowercased()) {
            head.append(contentsOf: "\(name): \(value)\r\n".utf8)
        }
        all.inject(out, into: &head)
        let lines = try XCTUnwrap(headerLines(head))
        for name in ["traceparent", "tracestate", "X-B3-TraceId", "X-B3-SpanId", "uber-trace-id"] {
            XCTAssertNotNil(single(lines, name), "\(name) exactly once")
        }
        XCTAssertTrue(lines.allSatisfy { $0.name.lowercased() != "b3" }, "stale b3 single header")
        let w3c = try XCTUnwrap(Strict.traceparent(try XCTUnwrap(single(lines, "traceparent"))))
        let b3 = try XCTUnwrap(Strict.b3Multi(lines))
        let jaeger = try XCTUnwrap(Strict.uber(try XCTUnwrap(single(lines, "uber-trace-id"))))
        for c in [w3c, b3, jaeger] {
            XCTAssertEqual(String(format: "%016llx%016llx", c.traceHigh, c.traceLow), t1)
            XCTAssertEqual(c.span, 0x1122_3344_5566_7788)
            XCTAssertEqual(c.sampled, true)
        }
        XCTAssertEqual(b3.parent, UInt64(s1, radix: 16))
        XCTAssertEqual(jaeger.parent, UInt64(s1, radix: 16))
        XCTAssertEqual(single(lines, "tracestate"), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        XCTAssertEqual(single(lines, "uberctx-user"), "alice")
        XCTAssertEqual(single(lines, "baggage"), "k1=v1")
    }

    func test_injectThenExtract_roundTripsEveryFormat() throws {
        let out = OutgoingContext(
            traceID: TraceID(high: 0xdead_beef, low: 0x0123_4567_89ab_cdef), spanID: SpanID(42),
            parentSpanID: SpanID(41), sampled: false, debug: false, traceState: "a=1")
        for format in PropagationFormat.allCases {
            let p = Propagator(formats: [format])
            var head: [UInt8] = []
            p.inject(out, into: &head)
            let lines = try XCTUnwrap(headerLines(head))
            let ctx = try XCTUnwrap(p.extract(from: TestHeaders(lines.map { ($0.name, $0.value) })))
            XCTAssertEqual(ctx.traceID, out.traceID, "\(format)")
            XCTAssertEqual(ctx.spanID, out.spanID, "\(format)")
            XCTAssertEqual(ctx.sampled, false, "\(format)")
            XCTAssertEqual(ctx.traceState, format == .w3c ? "a=1" : nil)
        }
    }

    func test_inject_onlyConfiguredFormats() throws {
        let out = OutgoingContext(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentSpanID: .zero,
            sampled: true,
            debug: false, traceState: nil)
        var head: [UInt8] = []
        Propagator(formats: [.jaeger]).inject(out, into: &head)
        XCTAssertEqual(try XCTUnwrap(headerLines(head)).map(\.name), ["uber-trace-id"])
    }

    func test_parseFormats_validLists() throws {
        XCTAssertEqual(try Propagator.parseFormats("w3c,b3,jaeger"), [.w3c, .b3, .jaeger])
        XCTAssertEqual(try Propagator.parseFormats(" B3 , w3c,b3"), [.b3, .w3c])
        XCTAssertEqual(try Propagator.parseFormats("jaeger"), [.jaeger])
    }

    /// OpenTelemetry's names are aliases, except that the flag's `b3` stays the multi-header form
    /// it has always been; `b3single` names the single header.
    func test_parseFormats_openTelemetryVocabulary() throws {
        XCTAssertEqual(try Propagator.parseFormats("tracecontext,b3multi,b3single"), [.w3c, .b3, .b3Single])
        XCTAssertEqual(try Propagator.parseFormats("b3,b3multi"), [.b3])
        XCTAssertEqual(try Propagator.parseFormats("w3c,baggage"), [.w3c])
        XCTAssertEqual(try Propagator.parseFormats("baggage"), [])
        XCTAssertEqual(try Propagator.parseFormats("None"), [])
    }

    func test_parseFormats_invalid_throwsWithExpectedNames() {
        for bad in ["", "w3c,", "zipkin", "w3c,,b3", "w3c,zipkin", "none,w3c", "baggage,none", "none,none"] {
            XCTAssertThrowsError(try Propagator.parseFormats(bad), bad) { error in
                XCTAssertEqual("\(error)", Propagator.formatsExpectation)
            }
        }
    }

    /// The specification's meanings: `b3` is the single header, `b3multi` the `X-B3-*` headers.
    func test_parseOTelPropagators_specMeanings() throws {
        XCTAssertEqual(try Propagator.parseOTelPropagators("tracecontext,baggage"), [.w3c])
        XCTAssertEqual(
            try Propagator.parseOTelPropagators("b3multi, jaeger,b3,TraceContext"), [.b3, .jaeger, .b3Single, .w3c])
        XCTAssertEqual(try Propagator.parseOTelPropagators("b3"), [.b3Single])
        XCTAssertEqual(try Propagator.parseOTelPropagators("baggage"), [])
        XCTAssertEqual(try Propagator.parseOTelPropagators("none"), [])
    }

    /// An unknown name, an empty item, `none` beside anything, or an alias of the flag only is a
    /// mistake to report, not a silent fall-back to the default.
    func test_parseOTelPropagators_unknownOrNothing_throws() {
        for bad in ["xray", "ottrace", "b3,xray", "", "b3,,jaeger", "none,b3", "w3c", "b3single"] {
            XCTAssertThrowsError(try Propagator.parseOTelPropagators(bad), bad) { error in
                XCTAssertEqual("\(error)", Propagator.otelPropagatorsExpectation)
            }
        }
    }

    /// `b3` (multi) and `b3single` read both encodings and own both (so no stale client copy of
    /// either survives), and each writes only its own.
    func test_b3Encodings_readBoth_writeTheirOwn() throws {
        let multi = Propagator(formats: [.b3])
        let singleOnly = Propagator(formats: [.b3Single])
        XCTAssertEqual(multi.ownedHeaderNames, singleOnly.ownedHeaderNames)
        let out = OutgoingContext(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentSpanID: SpanID(4), sampled: true,
            debug: false, traceState: nil)
        var head: [UInt8] = []
        singleOnly.inject(out, into: &head)
        XCTAssertEqual(try XCTUnwrap(headerLines(head)).map(\.name), ["b3"])
        head = []
        multi.inject(out, into: &head)
        XCTAssertEqual(
            try XCTUnwrap(headerLines(head)).map(\.name),
            ["X-B3-TraceId", "X-B3-SpanId", "X-B3-ParentSpanId", "X-B3-Sampled"])
        let multiHeaders = TestHeaders([("X-B3-TraceId", t2), ("X-B3-SpanId", s2), ("X-B3-Sampled", "1")])
        let singleHeader = TestHeaders([("b3", "\(t3)-\(s3)-1")])
        XCTAssertEqual(singleOnly.extract(from: multiHeaders)?.traceID?.hex32, t2)
        XCTAssertEqual(singleOnly.extract(from: multiHeaders)?.format, .b3Single, "the configured format")
        XCTAssertEqual(multi.extract(from: singleHeader)?.traceID?.hex32, t3)
        XCTAssertEqual(multi.extract(from: singleHeader)?.format, .b3)
    }

    /// `none`: nothing is read, nothing is written, nothing is stripped.
    func test_noFormats_extractsAndInjectsNothing() {
        let none = Propagator(formats: [])
        XCTAssertNil(none.extract(from: TestHeaders([("traceparent", "00-\(t1)-\(s1)-01"), ("b3", "1")])))
        var head: [UInt8] = []
        none.inject(
            OutgoingContext(
                traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), parentSpanID: .zero, sampled: true, debug: false,
                traceState: nil), into: &head)
        XCTAssertTrue(head.isEmpty)
        XCTAssertTrue(none.ownedHeaderNames.isEmpty)
    }
}
