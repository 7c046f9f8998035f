import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// The context the upstream receives: the incoming trace continued with a new span id, in every
/// configured format, whatever format it arrived in.
final class PropagationInjectionTests: XCTestCase {
    private var upstream: TestUpstream!
    private var collector: HTTPCollector!
    private var proxy: RunningProxy!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        collector = try HTTPCollector()
        let url = collector.url()
        proxy = try ProxyHarness.start(upstreamPort: upstream.port) { $0.reporters = [reporterTarget(url)] }
    }

    override func tearDown() {
        upstream.stop()
        collector.stop()
    }

    private func forward(_ headers: [(String, String)]) throws -> TestUpstream.Request {
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/x", headers: headers))
        XCTAssertEqual(response.status, 200)
        return try XCTUnwrap(upstream.waitForRequests(count: 1).last)
    }

    /// `uber-trace-id: {trace}:{span}:{parent}:{flags}` (Jaeger client propagation format).
    private func uber(_ request: TestUpstream.Request) -> [String]? {
        guard let v = request.header("uber-trace-id") else { return nil }
        let parts = v.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        return parts.count == 4 ? parts : nil
    }

    /// Lower-case hex left-padded to `width`, for comparing ids that may be written unpadded.
    private func padded(_ hex: String, _ width: Int) -> String {
        String(repeating: "0", count: max(0, width - hex.count)) + hex.lowercased()
    }

    func test_traceparent_continuedWithNewSpanInEveryFormat() throws {
        let trace = randomHex(32)
        let parent = randomHex(16)
        let request = try forward([("traceparent", "00-\(trace)-\(parent)-01"), ("tracestate", "vendor=abc")])
        let injected = try XCTUnwrap(Traceparent(request.header("traceparent")))
        XCTAssertEqual(injected.traceID, trace)
        XCTAssertNotEqual(injected.spanID, parent, "the proxy must inject its own span id")
        XCTAssertEqual(injected.flags, "01")
        XCTAssertEqual(request.values("traceparent").count, 1, "stale traceparent kept")
        XCTAssertEqual(request.header("tracestate"), "vendor=abc")
        XCTAssertEqual(request.header("x-b3-traceid"), trace)
        XCTAssertEqual(request.header("x-b3-spanid"), injected.spanID)
        XCTAssertEqual(request.header("x-b3-parentspanid"), parent)
        XCTAssertEqual(request.header("x-b3-sampled"), "1")
        let u = try XCTUnwrap(uber(request))
        XCTAssertEqual(padded(u[0], 32), trace)
        XCTAssertEqual(padded(u[1], 16), injected.spanID)
        XCTAssertEqual(padded(u[2], 16), parent)
        XCTAssertEqual(Int(u[3], radix: 16).map { $0 & 1 }, 1)
    }

    func test_b3Multi_bridgedToUberTraceIDAndTraceparent() throws {
        let trace = randomHex(16)
        let span = randomHex(16)
        let request = try forward([("X-B3-TraceId", trace), ("X-B3-SpanId", span), ("X-B3-Sampled", "1")])
        let u = try XCTUnwrap(uber(request), "no uber-trace-id injected")
        XCTAssertEqual(padded(u[0], 32), padded(trace, 32))
        XCTAssertEqual(padded(u[2], 16), span, "uber parent is the incoming span")
        XCTAssertNotEqual(padded(u[1], 16), span)
        let injected = try XCTUnwrap(Traceparent(request.header("traceparent")))
        XCTAssertEqual(injected.traceID, padded(trace, 32), "64-bit B3 trace ids are left-padded in W3C")
        XCTAssertEqual(injected.spanID, padded(u[1], 16))
        XCTAssertEqual(request.header("x-b3-spanid"), injected.spanID)
    }

    func test_uberTraceID_bridgedToB3() throws {
        let trace = randomHex(32)
        let span = randomHex(16)
        let request = try forward([("uber-trace-id", "\(trace):\(span):0:1")])
        XCTAssertEqual(request.header("x-b3-traceid"), trace)
        XCTAssertEqual(request.header("x-b3-parentspanid"), span)
        XCTAssertEqual(Traceparent(request.header("traceparent"))?.traceID, trace)
    }

    func test_sampledZero_propagatedAsUnsampled_andNoSpanReported() throws {
        let trace = randomHex(32)
        let request = try forward([("traceparent", "00-\(trace)-\(randomHex(16))-00")])
        let injected = try XCTUnwrap(Traceparent(request.header("traceparent")))
        XCTAssertEqual(injected.traceID, trace)
        XCTAssertEqual(injected.flags, "00")
        XCTAssertEqual(request.header("x-b3-sampled"), "0")
        XCTAssertEqual(uber(request).flatMap { Int($0[3], radix: 16) }.map { $0 & 1 }, 0)
        // A sampled request afterwards is reported: once its span arrives, the unsampled one
        // would have been in the same or an earlier batch.
        let sampled = randomHex(32)
        _ = try forward([("traceparent", "00-\(sampled)-\(randomHex(16))-01")])
        var traceIDs: [String] = []
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                traceIDs = collector.requests.flatMap { spanObjects($0.body) }.compactMap { $0["traceId"] as? String }
                return traceIDs.contains(sampled)
            }, "the sampled span never arrived")
        XCTAssertFalse(traceIDs.contains(trace), "an unsampled request was reported")
    }

    func test_noIncomingContext_newRootTraceInjected() throws {
        let request = try forward([])
        let injected = try XCTUnwrap(Traceparent(request.header("traceparent")))
        XCTAssertNotEqual(injected.traceID, String(repeating: "0", count: 32))
        XCTAssertEqual(injected.flags, "01", "const:1 is the default sampler")
        XCTAssertNil(request.header("x-b3-parentspanid"), "a root span has no parent")
    }

    func test_invalidTraceparent_fallsBackToB3() throws {
        let trace = randomHex(32)
        let span = randomHex(16)
        let request = try forward([
            ("traceparent", "00-\(String(repeating: "0", count: 32))-\(randomHex(16))-01"),
            ("X-B3-TraceId", trace), ("X-B3-SpanId", span),
        ])
        XCTAssertEqual(Traceparent(request.header("traceparent"))?.traceID, trace)
        XCTAssertEqual(request.header("x-b3-parentspanid"), span)
    }
}

/// The spans in a Zipkin v2 JSON body, parsed with Foundation independently of our encoder.
func spanObjects(_ body: [UInt8]?) -> [[String: Any]] {
    guard let body, let json = try? JSONSerialization.jsonObject(with: Data(body)) else { return [] }
    return json as? [[String: Any]] ?? []
}
