import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// Real upstream faults: a closed port, resets before and inside a response, and a pooled
/// keep-alive connection the upstream closes as the next request arrives.
final class UpstreamFaultTests: XCTestCase {
    private var collector: HTTPCollector!

    override func setUpWithError() throws {
        collector = try HTTPCollector()
    }

    override func tearDown() {
        collector.stop()
    }

    /// Serves keep-alive requests by target: `/reset-before` resets after reading the head,
    /// `/close-before` closes (FIN) after it, `/reset-mid` sends a head promising 1000 bytes and
    /// 100 of them, then resets; anything else is 200 `ok`.
    private static func faultyOrigin() throws -> ScriptedUpstream {
        try ScriptedUpstream { conn in
            while let head = conn.readHead() {
                let target = String(head.split(separator: " ")[1])
                switch target {
                case "/reset-before":
                    conn.reset()
                    return
                case "/close-before":
                    return
                case "/reset-mid":
                    conn.send(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".utf8) + TestUpstream.payload(100))
                    usleep(50_000)
                    conn.reset()
                    return
                default:
                    guard conn.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") else { return }
                }
            }
        }
    }

    func test_refused_502ErrorSpanConnectMetric_proxyStillServes() throws {
        let proxy = try Hardening.start(upstreamPort: freeTCPPort(), collector: collector)
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/refused")).status, 502)
        let span = Hardening.span(path: "/refused", in: collector)
        XCTAssertEqual(Hardening.tags(span)["error"], "true")
        XCTAssertEqual(Hardening.tags(span)["http.status_code"], "502")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"connect\"}"), 1)
        // The bodiless request's connection stays usable, and a new one is served too.
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/refused-again")).status, 502)
        XCTAssertEqual(try proxy.client().roundTrip(httpRequest("GET", "/third")).status, 502)
        let health = try RawHTTPClient(port: try XCTUnwrap(proxy.adminPort)).roundTrip(httpRequest("GET", "/healthz"))
        XCTAssertEqual(health.status, 200)
    }

    func test_resetBeforeResponse_502ErrorSpanResetMetric_nextRequestServed() throws {
        let origin = try Self.faultyOrigin()
        defer { origin.stop() }
        let proxy = try Hardening.start(upstreamPort: origin.port, collector: collector)
        for target in ["/reset-before", "/close-before"] {
            let client = try proxy.client()
            XCTAssertEqual(try client.roundTrip(httpRequest("GET", target)).status, 502, target)
            let span = Hardening.span(path: target, in: collector)
            XCTAssertEqual(Hardening.tags(span)["error"], "true", target)
            XCTAssertEqual(Hardening.tags(span)["http.status_code"], "502", target)
            XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/same-connection")).status, 200, target)
        }
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"reset\"}"), 2)
        Hardening.assertServesGoodRequest(proxy)
    }

    func test_resetMidBody_clientConnectionClosedTruncated_spanError() throws {
        let origin = try Self.faultyOrigin()
        defer { origin.stop() }
        let proxy = try Hardening.start(upstreamPort: origin.port, collector: collector)
        let client = try proxy.client()
        try client.send(httpRequest("GET", "/reset-mid"))
        let head = try client.reader.readHead(deadline: Date().addingTimeInterval(5))
        let headText = String(decoding: head, as: UTF8.self)
        XCTAssertTrue(headText.hasPrefix("HTTP/1.1 200"), headText)
        XCTAssertTrue(client.waitForClose(timeout: 5), "client left waiting for the rest of the body")
        XCTAssertLessThan(client.reader.buffer.count, 1000, "a truncated body must not look whole")
        let span = Hardening.span(path: "/reset-mid", in: collector)
        XCTAssertEqual(Hardening.tags(span)["error"], "true", "span of a cut response without error")
        XCTAssertTrue(Hardening.annotations(span).contains("error"))
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"reset\"}"), 1)
        Hardening.assertServesGoodRequest(proxy)
    }

    /// Connection 0 answers one request, then closes when the next request's head arrives (the
    /// upstream's keep-alive timeout racing the proxy's reuse). Later connections answer
    /// `fresh <body bytes>`.
    private static func staleAfterFirstOrigin(secondAlsoFails: Bool = false) throws -> ScriptedUpstream {
        try ScriptedUpstream { conn in
            if conn.index == 0 {
                guard conn.readHead() != nil else { return }
                conn.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
                _ = conn.readHead()
                return
            }
            if secondAlsoFails {
                _ = conn.readHead()
                return
            }
            while let head = conn.readHead() {
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                guard conn.readBody(count: length) != nil else { return }
                let text = "fresh \(length)"
                guard conn.send("HTTP/1.1 200 OK\r\nContent-Length: \(text.utf8.count)\r\n\r\n\(text)") else { return }
            }
        }
    }

    func test_stalePooledConnection_idempotentRetriedOnceOnFreshConnection() throws {
        let origin = try Self.staleAfterFirstOrigin()
        defer { origin.stop() }
        let proxy = try Hardening.start(upstreamPort: origin.port, collector: collector)
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/first")).text, "first")
        let retried = try client.roundTrip(httpRequest("GET", "/second"))
        XCTAssertEqual(retried.status, 200)
        XCTAssertEqual(retried.text, "fresh 0")
        XCTAssertEqual(origin.connectionCount, 2)
        let span = Hardening.span(path: "/second", in: collector)
        XCTAssertEqual(Hardening.tags(span)["http.status_code"], "200")
        XCTAssertNil(Hardening.tags(span)["error"], "a retried request that succeeded is not an error")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_requests_total{code=\"5xx\"}"), 0)
    }

    func test_stalePooledConnection_retryAlsoFails_502NoSecondRetry() throws {
        let origin = try Self.staleAfterFirstOrigin(secondAlsoFails: true)
        defer { origin.stop() }
        let proxy = try Hardening.start(upstreamPort: origin.port, collector: collector)
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/first")).text, "first")
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/second")).status, 502)
        usleep(200_000)
        XCTAssertEqual(origin.connectionCount, 2, "retried more than once")
    }

    func test_stalePooledConnection_postWithBodyNotRetried_502() throws {
        let origin = try Self.staleAfterFirstOrigin()
        defer { origin.stop() }
        let proxy = try Hardening.start(upstreamPort: origin.port, collector: collector)
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/first")).text, "first")
        let post = try client.roundTrip(httpRequest("POST", "/order", body: "hello"))
        XCTAssertEqual(post.status, 502, "a non-idempotent request whose body was sent must not be replayed")
        usleep(200_000)
        XCTAssertEqual(origin.connectionCount, 1, "the POST was replayed on a new connection")
        let span = Hardening.span(path: "/order", in: collector)
        XCTAssertEqual(Hardening.tags(span)["error"], "true")
        // The proxy still works for the next request (on a fresh upstream connection).
        let next = try proxy.client().roundTrip(httpRequest("POST", "/next", body: "abc"))
        XCTAssertEqual(next.text, "fresh 3")
    }
}
