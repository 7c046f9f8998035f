import Propagation
import Spans
import TestSupport
import XCTest

@testable import Proxy

/// The sampling and propagation settings, seen from the upstream and the recorded span: the
/// parent rule of each sampler, the B3 encodings, baggage, `none`, the edge mode
/// (`--ignore-incoming-context`) and how tracestate is cleaned. All in memory.
final class TraceContextOptionsTests: XCTestCase {
    private let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    private let traceID = TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736)
    private let parent = "00f067aa0ba902b7"
    private let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    private struct Outcome {
        /// The forwarded head's fields, in order.
        var forwarded: [(name: String, value: String)]
        var response: String
        var spans: [TestSpan]

        func values(_ name: String) -> [String] {
            forwarded.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        func value(_ name: String) -> String? {
            let all = values(name)
            return all.count == 1 ? all[0] : nil
        }

        /// The forwarded traceparent's fields: version, trace id, span id, flags.
        var traceparent: [String] { value("traceparent")?.split(separator: "-").map(String.init) ?? [] }
    }

    /// One GET with `fields` through a proxy configured by `configure`, answered 200.
    private func exchange(
        _ fields: [(String, String)], _ configure: (inout ProxyConfig) -> Void = { _ in }
    ) throws -> Outcome {
        let p = try InMemoryProxy(configure)
        let c = p.connect()
        var request = "GET /x HTTP/1.1\r\nHost: svc\r\n"
        for (name, value) in fields { request += "\(name): \(value)\r\n" }
        p.send(c, request + "\r\n")
        let head = try XCTUnwrap(p.connector.last).takeWritten()
        p.answer(ok)
        var forwarded: [(name: String, value: String)] = []
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { break }
            forwarded.append(
                (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        return Outcome(forwarded: forwarded, response: c.takeWritten(), spans: p.spans)
    }

    private func traceparent(_ flags: String) -> (String, String) {
        ("traceparent", "00-\(trace)-\(parent)-\(flags)")
    }

    // MARK: samplers and the caller's decision

    /// parentbased_always_off (`const:0`) follows a sampled caller; always_off does not. Either
    /// way the trace is continued: the sampler decides recording, not the trace.
    func test_sampledCaller_parentBasedFollows_alwaysOffIgnores() throws {
        let followed = try exchange([traceparent("01")]) { $0.sampler = .const(false) }
        XCTAssertEqual(followed.traceparent[safe: 1], trace)
        XCTAssertEqual(followed.traceparent[safe: 3], "01")
        XCTAssertEqual(followed.spans.count, 1)
        XCTAssertNil(followed.spans.first?.record.link)

        let ignored = try exchange([traceparent("01")]) { $0.sampler = .alwaysOff }
        XCTAssertEqual(ignored.traceparent[safe: 1], trace, "the trace goes on, unsampled")
        XCTAssertEqual(ignored.traceparent[safe: 3], "00")
        XCTAssertEqual(ignored.value("x-b3-sampled"), "0")
        XCTAssertTrue(ignored.spans.isEmpty)
    }

    /// parentbased_always_on (`const:1`, the default) follows an unsampled caller; always_on
    /// records the request anyway, still as the caller's child.
    func test_unsampledCaller_parentBasedFollows_alwaysOnIgnores() throws {
        let followed = try exchange([traceparent("00")])
        XCTAssertEqual(followed.traceparent[safe: 3], "00")
        XCTAssertTrue(followed.spans.isEmpty)

        let ignored = try exchange([traceparent("00")]) { $0.sampler = .alwaysOn }
        XCTAssertEqual(ignored.traceparent[safe: 3], "01")
        let span = try XCTUnwrap(ignored.spans.first)
        XCTAssertEqual(span.traceID, traceID)
        XCTAssertEqual(span.record.parentSpanID.hex16, parent)
    }

    /// traceidratio decides from the trace id whatever the caller said; parentbased_traceidratio
    /// (`probabilistic`) follows the caller. This trace id's low 63 bits are above 0.5 * 2^63.
    func test_ratio_traceIDDecides_unlessParentBased() throws {
        let high = "4bf92f3577b34da67fffffffffffffff"
        let sampledCaller = [("traceparent", "00-\(high)-\(parent)-01")]
        let ratio = try exchange(sampledCaller) { $0.sampler = .traceIDRatio(0.5) }
        XCTAssertEqual(ratio.traceparent[safe: 3], "00")
        XCTAssertTrue(ratio.spans.isEmpty)
        let parentBased = try exchange(sampledCaller) { $0.sampler = .probabilistic(0.5) }
        XCTAssertEqual(parentBased.traceparent[safe: 3], "01")
        XCTAssertEqual(parentBased.spans.count, 1)
    }

    // MARK: B3 encodings

    /// `b3single` writes the single header only, and the client's B3 headers of either encoding
    /// are gone.
    func test_b3Single_injectsOnlyTheSingleHeader() throws {
        let out = try exchange(
            [("X-B3-TraceId", trace), ("X-B3-SpanId", parent), ("X-B3-Sampled", "1"), ("X-B3-Flags", "0")]
        ) { $0.propagation = [.b3Single] }
        let span = try XCTUnwrap(out.spans.first)
        XCTAssertEqual(out.values("b3"), ["\(trace)-\(span.spanID.hex16)-1-\(parent)"])
        XCTAssertTrue(out.forwarded.allSatisfy { !$0.name.lowercased().hasPrefix("x-b3-") }, "\(out.forwarded)")
        XCTAssertNil(out.value("traceparent"))
    }

    /// `b3` (multi) reads the single header and writes the `X-B3-*` headers only.
    func test_b3Multi_readsSingle_writesMulti() throws {
        let out = try exchange([("b3", "\(trace)-\(parent)-1")]) { $0.propagation = [.b3] }
        let span = try XCTUnwrap(out.spans.first)
        XCTAssertEqual(out.value("x-b3-traceid"), trace)
        XCTAssertEqual(out.value("x-b3-spanid"), span.spanID.hex16)
        XCTAssertEqual(out.value("x-b3-parentspanid"), parent)
        XCTAssertEqual(out.value("x-b3-sampled"), "1")
        XCTAssertTrue(out.values("b3").isEmpty, "the client's single header was forwarded")
    }

    // MARK: baggage and none

    /// W3C baggage (and Jaeger's) is end to end: forwarded unchanged whatever is configured.
    func test_baggage_forwardedUnchanged_inEveryMode() throws {
        let configs: [(String, (inout ProxyConfig) -> Void)] = [
            ("default", { _ in }), ("tracecontext only", { $0.propagation = [.w3c] }),
            ("none", { $0.propagation = [] }), ("edge", { $0.ignoreIncomingContext = true }),
        ]
        for (name, configure) in configs {
            let out = try exchange(
                [traceparent("01"), ("baggage", "k1=v1,k2=v2;prop"), ("baggage", "k3=v3"), ("uberctx-user", "alice")],
                configure)
            XCTAssertEqual(out.values("baggage"), ["k1=v1,k2=v2;prop", "k3=v3"], name)
            XCTAssertEqual(out.values("uberctx-user"), ["alice"], name)
        }
    }

    /// `none`: no context read (the span starts a new trace), none written, and the client's
    /// headers go on untouched, as those of any format the proxy does not speak.
    func test_none_noExtractNoInject_clientHeadersPassThrough() throws {
        let out = try exchange([traceparent("01"), ("tracestate", "congo=t61rcWkgMzE"), ("b3", "0")]) {
            $0.propagation = []
        }
        XCTAssertEqual(out.values("traceparent"), ["00-\(trace)-\(parent)-01"])
        XCTAssertEqual(out.values("tracestate"), ["congo=t61rcWkgMzE"])
        XCTAssertEqual(out.values("b3"), ["0"])
        XCTAssertNil(out.value("x-b3-traceid"))
        XCTAssertNil(out.value("uber-trace-id"))
        let span = try XCTUnwrap(out.spans.first, "b3: 0 was not read, the sampler decided")
        XCTAssertNotEqual(span.traceID, traceID)
        XCTAssertEqual(span.record.parentSpanID, .zero)
        XCTAssertNil(span.record.link)
    }

    // MARK: the edge

    /// `--ignore-incoming-context`: a new root trace decided by the sampler (the caller's `00` is
    /// ignored), no tracestate (a restart cleans it), the caller's context as the span's link,
    /// and the client told the new trace in traceresponse.
    func test_ignoreIncomingContext_newTrace_callerContextAsLink() throws {
        let out = try exchange([traceparent("00"), ("tracestate", "congo=t61rcWkgMzE")]) {
            $0.ignoreIncomingContext = true
        }
        let span = try XCTUnwrap(out.spans.first)
        XCTAssertNotEqual(span.traceID, traceID)
        XCTAssertEqual(span.record.parentSpanID, .zero)
        XCTAssertEqual(
            span.record.link, SpanLink(traceID: traceID, spanID: SpanID(0x00f0_67aa_0ba9_02b7), sampled: false))
        XCTAssertEqual(out.traceparent, ["00", span.traceID.hex32, span.spanID.hex16, "01"])
        XCTAssertTrue(out.values("tracestate").isEmpty)
        XCTAssertNil(out.value("x-b3-parentspanid"), "a root span has no parent")
        XCTAssertEqual(out.value("x-b3-traceid"), span.traceID.hex32)
        XCTAssertTrue(out.response.contains("traceresponse: 00-\(span.traceID.hex32)-\(span.spanID.hex16)-01\r\n"))
    }

    /// A context without ids (a decision only) or an invalid one makes no link; debug is ignored too.
    func test_ignoreIncomingContext_noIds_noLink() throws {
        for fields in [
            [("b3", "0")], [("X-B3-Flags", "1")], [("traceparent", "00-\(trace.uppercased())-\(parent)-01")], [],
        ] {
            let out = try exchange(fields) {
                $0.ignoreIncomingContext = true
                $0.sampler = .const(false)
            }
            XCTAssertEqual(out.traceparent[safe: 3], "00", "\(fields): the sampler decides")
            XCTAssertTrue(out.spans.isEmpty, "\(fields)")
        }
        let out = try exchange([("b3", "1")]) { $0.ignoreIncomingContext = true }
        XCTAssertNil(try XCTUnwrap(out.spans.first).record.link)
    }

    // MARK: tracestate

    /// A repeated key keeps its first member and an invalid member goes alone; the list is passed on.
    func test_tracestate_duplicatesAndInvalidMembers_cleanedNotDropped() throws {
        let out = try exchange([
            traceparent("01"), ("tracestate", "congo=1,rojo=2,congo=3"), ("tracestate", "Bad=1,vendor=x,rojo=4"),
        ])
        XCTAssertEqual(out.values("tracestate"), ["congo=1,rojo=2,vendor=x"])
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
