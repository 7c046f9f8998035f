import Foundation
import TestSupport
import XCTest

@testable import Proxy

#if canImport(Glibc)
    import Glibc
#endif

/// One span per sampled request reaches the configured reporters, with the ids injected upstream.
final class SpanReportingTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    /// Sends `targets` on one connection; returns the traceparent the upstream got for each.
    private func send(_ targets: [String], through proxy: RunningProxy) throws -> [Traceparent] {
        let client = try proxy.client()
        for target in targets { _ = try client.roundTrip(httpRequest("GET", target)) }
        let requests = upstream.waitForRequests(count: targets.count)
        XCTAssertEqual(requests.count, targets.count)
        return try requests.map { try XCTUnwrap(Traceparent($0.header("traceparent"))) }
    }

    func test_jaegerUDP_everySpanIDArrivesInADatagram() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let url = agent.url
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) { $0.reporters = [reporterTarget(url)] }
        let contexts = try send((0..<5).map { "/items/\($0)" }, through: proxy)
        // Thrift compact writes spanId (an i64) as a zigzag varint: look for each one's encoding.
        let needles = contexts.map { compactVarint(Int64(bitPattern: UInt64($0.spanID, radix: 16)!)) }
        var datagrams: [[UInt8]] = []
        let allArrived = waitUntil(timeout: 10) {
            datagrams = agent.received
            return needles.allSatisfy { needle in datagrams.contains { ByteStreamReader.find(needle, in: $0) != nil } }
        }
        XCTAssertTrue(allArrived, "missing span ids; got \(datagrams.count) datagrams")
        XCTAssertFalse(datagrams.isEmpty)
        XCTAssertTrue(datagrams.allSatisfy { $0.count <= 65000 })
    }

    func test_zipkin_oneSpanPerRequestWithInjectedIDsAndHTTPTags() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let url = collector.url()
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) {
            $0.reporters = [reporterTarget(url)]
            $0.serviceName = "span-test"
        }
        let contexts = try send(["/a", "/status/404", "/status/503"], through: proxy)
        var spans: [[String: Any]] = []
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                spans = collector.requests.flatMap { spanObjects($0.body) }
                return spans.count >= 3
            }, "spans missing: \(spans.count)")
        usleep(200_000)
        spans = collector.requests.flatMap { spanObjects($0.body) }
        XCTAssertEqual(spans.count, 3, "one span per request")
        for (context, status) in zip(contexts, [200, 404, 503]) {
            guard let span = spans.first(where: { $0["id"] as? String == context.spanID }) else {
                XCTFail("no span with the injected id \(context.spanID)")
                continue
            }
            XCTAssertEqual(span["traceId"] as? String, context.traceID)
            XCTAssertNil(span["parentId"], "a root span has no parent")
            XCTAssertEqual(span["kind"] as? String, "SERVER")
            XCTAssertEqual((span["localEndpoint"] as? [String: Any])?["serviceName"] as? String, "span-test")
            let tags = span["tags"] as? [String: String] ?? [:]
            XCTAssertEqual(tags["http.method"], "GET")
            XCTAssertEqual(tags["http.status_code"], String(status))
            XCTAssertEqual(tags["error"] != nil, status >= 500, "error tag for \(status)")
            XCTAssertGreaterThan(span["duration"] as? Int ?? 0, 0)
        }
    }

    func test_zipkin_incomingB3_spanHasIncomingTraceAndParent() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let url = collector.url()
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) { $0.reporters = [reporterTarget(url)] }
        let trace = randomHex(32)
        let parent = randomHex(16)
        let client = try proxy.client()
        _ = try client.roundTrip(httpRequest("GET", "/x", headers: [("b3", "\(trace)-\(parent)-1")]))
        let injected = try XCTUnwrap(Traceparent(upstream.waitForRequests(count: 1).first?.header("traceparent")))
        var span: [String: Any]?
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                span = collector.requests.flatMap { spanObjects($0.body) }.first
                return span != nil
            })
        XCTAssertEqual(span?["traceId"] as? String, trace)
        XCTAssertEqual(span?["parentId"] as? String, parent)
        XCTAssertEqual(span?["id"] as? String, injected.spanID)
    }

    func test_upstreamRefused_spanMarkedError() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let url = collector.url()
        let proxy = try ProxyHarness.start(upstreamPort: freeTCPPort()) { $0.reporters = [reporterTarget(url)] }
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/x")).status, 502)
        var span: [String: Any]?
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                span = collector.requests.flatMap { spanObjects($0.body) }.first
                return span != nil
            })
        let tags = span?["tags"] as? [String: String] ?? [:]
        XCTAssertEqual(tags["http.status_code"], "502")
        XCTAssertEqual(tags["error"], "true")
    }

    /// Sends `target`, reads `bytesBeforeReset` response bytes (none: reads nothing), then resets
    /// the connection (SO_LINGER 0); returns the one span the Zipkin collector receives for it.
    private func spanOfRequestResetByClient(_ target: String, bytesBeforeReset: Int) throws -> [String: Any]? {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let url = collector.url()
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) {
            $0.reporters = [reporterTarget(url)]
            $0.flushIntervalMs = 50
        }
        try {
            let client = try proxy.client()
            try client.send(httpRequest("GET", target))
            if bytesBeforeReset > 0 {
                _ = try client.reader.read(count: bytesBeforeReset, deadline: Date().addingTimeInterval(10))
            } else {
                _ = upstream.waitForRequests(count: 1)
            }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }()  // the client's deinit closes the socket: with SO_LINGER 0 that sends a RST
        var span: [String: Any]?
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                span = collector.requests.flatMap { spanObjects($0.body) }.first
                return span != nil
            }, "no span for the aborted request")
        return span
    }

    /// OpenTelemetry's HTTP conventions: a request the client cancelled is not an error of the
    /// server hop. The span keeps the upstream's status, says the client aborted (tag and
    /// annotation) and carries no `error` tag.
    func test_clientResetMidResponse_spanMarkedAbortedNotError() throws {
        let span = try spanOfRequestResetByClient("/drip/50/100", bytesBeforeReset: 1)
        let tags = span?["tags"] as? [String: String] ?? [:]
        XCTAssertEqual(tags["http.status_code"], "200")
        XCTAssertNil(tags["error"], "a client abort marked the span failed")
        XCTAssertEqual(tags["client.aborted"], "true")
        let annotations = (span?["annotations"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }
        XCTAssertTrue(annotations.contains("client_aborted"), "annotations: \(annotations)")
        XCTAssertFalse(annotations.contains("error"), "annotations: \(annotations)")
    }

    /// Reset before any response byte: 499 as before, still no error.
    func test_clientResetBeforeResponse_span499AbortedNotError() throws {
        let span = try spanOfRequestResetByClient("/slow/3000", bytesBeforeReset: 0)
        let tags = span?["tags"] as? [String: String] ?? [:]
        XCTAssertEqual(tags["http.status_code"], "499")
        XCTAssertNil(tags["error"])
        XCTAssertEqual(tags["client.aborted"], "true")
    }
}

/// Thrift compact i64: zigzag, then little-endian base-128 varint (thrift-compact-protocol.md,
/// "Integer encoding"); written here from the spec, independently of SpanEncoding.
func compactVarint(_ value: Int64) -> [UInt8] {
    var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    var out: [UInt8] = []
    while zigzag >= 0x80 {
        out.append(UInt8(zigzag & 0x7f) | 0x80)
        zigzag >>= 7
    }
    out.append(UInt8(zigzag))
    return out
}
