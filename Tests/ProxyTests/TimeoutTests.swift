import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// Every timeout flag, with short configured values: what the client gets, whether the connection
/// closes, what the span and /metrics say, and that the proxy serves the next request.
final class TimeoutTests: XCTestCase {
    private var upstream: TestUpstream!
    private var collector: HTTPCollector!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        collector = try HTTPCollector()
    }

    override func tearDown() {
        upstream.stop()
        collector.stop()
    }

    /// Slowloris: a head trickling in a byte at a time is still cut at --header-timeout-ms, since
    /// the limit is on the whole head, not on the pause between bytes.
    func test_headerTimeout_trickledHead_408AndClosedAtDeadline() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector) {
            $0.headerTimeoutMs = 400
        }
        let client = try proxy.client()
        let started = Date()
        let head = Array(
            httpRequest("GET", "/slowloris", headers: [("X-Pad", String(repeating: "p", count: 200))]).utf8)
        var sent = 0
        var closedEarly = false
        // One byte every 20 ms would take over 4 s for the whole head.
        while sent < head.count - 2 && Date().timeIntervalSince(started) < 3 {
            do { try client.send([head[sent]]) } catch {
                closedEarly = true
                break
            }
            sent += 1
            if !client.staysQuiet(for: 0.02) { break }
        }
        let response = try client.readFinalResponse(timeout: 5)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertFalse(closedEarly && response.status != 408)
        XCTAssertEqual(response.status, 408)
        XCTAssertTrue(response.connectionTokens.contains("close"))
        XCTAssertGreaterThanOrEqual(elapsed, 0.35, "408 before the deadline")
        XCTAssertLessThan(elapsed, 2.5, "the trickle kept the connection alive past the deadline")
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(upstream.requests.isEmpty)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_requests_total{code=\"4xx\"}"), 1)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_client_protocol_errors_total"), 1)
        Hardening.assertServesGoodRequest(proxy)
    }

    /// An idle keep-alive connection is closed silently (no 408: no request was started).
    func test_idleTimeout_keepAliveConnectionClosedWithoutResponse() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector) {
            $0.idleTimeoutMs = 300
            $0.headerTimeoutMs = 5000
        }
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/first")).status, 200)
        let idleSince = Date()
        XCTAssertTrue(client.waitForClose(timeout: 5), "idle connection not closed")
        let elapsed = Date().timeIntervalSince(idleSince)
        XCTAssertGreaterThanOrEqual(elapsed, 0.25)
        XCTAssertLessThan(elapsed, 3)
        XCTAssertTrue(client.reader.buffer.isEmpty, "bytes sent on an idle close: \(client.reader.buffer.count)")
        // A connection that never sent anything is idle too.
        let silent = try proxy.client()
        XCTAssertTrue(silent.waitForClose(timeout: 5), "silent connection not closed")
        XCTAssertTrue(silent.reader.buffer.isEmpty)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_open_connections"), 0)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_requests_total{code=\"4xx\"}"), 0)
        Hardening.assertServesGoodRequest(proxy)
    }

    /// A connection that keeps sending requests before the idle deadline stays open.
    func test_idleTimeout_activeConnectionKeptOpen() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.idleTimeoutMs = 300 }
        let client = try proxy.client()
        for i in 0..<6 {
            XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/n/\(i)")).status, 200)
            usleep(150_000)
        }
        XCTAssertTrue(client.staysQuiet(for: 0.1), "the active connection was closed")
    }

    func test_bodyTimeout_stalledBody_408ClosedSpanAndMetrics() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector) {
            $0.bodyTimeoutMs = 300
        }
        let client = try proxy.client()
        let started = Date()
        try client.send("POST /stalled HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly ten b")
        let response = try client.readFinalResponse(timeout: 5)
        XCTAssertEqual(response.status, 408)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.25)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(upstream.requests.isEmpty, "a request with a partial body was completed upstream")
        let span = Hardening.span(path: "/stalled", in: collector)
        XCTAssertNotNil(span, "no span for the stalled request")
        XCTAssertTrue(Hardening.annotations(span).contains("error"), "no error log on the span")
        XCTAssertEqual(Hardening.tags(span)["http.status_code"], "408", "the span should carry the status sent")
        XCTAssertEqual(
            try Hardening.metric(proxy, "traceproxy_requests_total{code=\"4xx\"}"), 1, "one response counted twice")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_client_protocol_errors_total"), 1)
        Hardening.assertServesGoodRequest(proxy)
    }

    /// Bytes arriving more often than the body timeout keep the request alive.
    func test_bodyTimeout_slowButSteadyBody_forwarded() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.bodyTimeoutMs = 300 }
        let client = try proxy.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
        for b in "0123456789".utf8 {
            usleep(100_000)
            try client.send([b])
        }
        let response = try client.readFinalResponse(timeout: 5)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "0123456789")
    }

    func test_upstreamConnectTimeout_502ErrorSpanAndTimeoutMetric() throws {
        guard let unreachable = FullBacklogListener() else {
            throw XCTSkip("could not fill a listen backlog on this kernel; connect does not hang")
        }
        let proxy = try Hardening.start(upstreamPort: unreachable.port, collector: collector) {
            $0.upstreamConnectTimeoutMs = 300
        }
        let client = try proxy.client()
        let started = Date()
        let response = try client.roundTrip(httpRequest("GET", "/unreachable"), timeout: 10)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(response.status, 502)
        XCTAssertGreaterThanOrEqual(elapsed, 0.25, "502 before the connect timeout: connect did not hang")
        XCTAssertLessThan(elapsed, 3)
        let span = Hardening.span(path: "/unreachable", in: collector)
        XCTAssertEqual(Hardening.tags(span)["error"], "true")
        XCTAssertEqual(Hardening.tags(span)["http.status_code"], "502")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"timeout\"}"), 1)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_requests_total{code=\"5xx\"}"), 1)
        // The client connection survives a 502 for a bodiless request.
        XCTAssertTrue(client.staysQuiet(for: 0.1))
        _ = unreachable
    }

    func test_upstreamTimeout_504ErrorSpanTimeoutMetric_nextRequestServed() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector) {
            $0.upstreamTimeoutMs = 300
        }
        let client = try proxy.client()
        let started = Date()
        let response = try client.roundTrip(httpRequest("GET", "/hang"), timeout: 10)
        XCTAssertEqual(response.status, 504)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.25)
        let span = Hardening.span(path: "/hang", in: collector)
        XCTAssertEqual(Hardening.tags(span)["error"], "true")
        XCTAssertEqual(Hardening.tags(span)["http.status_code"], "504")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"timeout\"}"), 1)
        // Same connection, then a new one: both served.
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/after")).status, 200)
        Hardening.assertServesGoodRequest(proxy)
    }

    /// A pause longer than the upstream timeout after the response head was relayed cuts the
    /// client connection: a partial body must not look complete.
    func test_upstreamTimeout_pauseAfterHead_clientConnectionCut() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector) {
            $0.upstreamTimeoutMs = 300
        }
        let client = try proxy.client()
        try client.send(httpRequest("GET", "/drip/3/1500"))
        let head = String(decoding: try client.reader.readHead(deadline: Date().addingTimeInterval(5)), as: UTF8.self)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), head)
        XCTAssertTrue(client.waitForClose(timeout: 5), "connection not cut after the upstream stalled")
        let body = String(decoding: client.reader.buffer, as: UTF8.self)
        XCTAssertFalse(body.hasSuffix("0\r\n\r\n"), "the cut body ends like a complete chunked body")
        let span = Hardening.span(path: "/drip/3/1500", in: collector)
        XCTAssertEqual(Hardening.tags(span)["error"], "true")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"timeout\"}"), 1)
        Hardening.assertServesGoodRequest(proxy)
    }

    /// The upstream timeout is between bytes, not on the whole response: a slow drip that keeps
    /// sending is not cut.
    func test_upstreamTimeout_dripFasterThanTimeout_notCut() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.upstreamTimeoutMs = 300 }
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/drip/6/100"), timeout: 10)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, String(repeating: "tick\n", count: 6))
    }
}
