import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// Hop-by-hop fields stop at the proxy in both directions (RFC 9110 section 7.6.1); X-Forwarded-*
/// are added or extended.
final class HeaderRewritingTests: XCTestCase {
    private var upstream: TestUpstream!
    private var proxy: RunningProxy!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        proxy = try ProxyHarness.start(upstreamPort: upstream.port)
    }

    override func tearDown() {
        upstream.stop()
    }

    func test_request_hopByHopFieldsRemoved_endToEndFieldsKept() throws {
        let client = try proxy.client()
        let response = try client.roundTrip(
            httpRequest(
                "GET", "/x",
                headers: [
                    ("Connection", "X-Custom-Hop, keep-alive"), ("X-Custom-Hop", "drop me"),
                    ("Keep-Alive", "timeout=5"),
                    ("TE", "trailers"), ("Proxy-Connection", "keep-alive"), ("Upgrade-Insecure-Requests", "1"),
                    ("X-End-To-End", "kept"), ("Accept", "text/plain"),
                ]))
        XCTAssertEqual(response.status, 200)
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        for name in ["x-custom-hop", "keep-alive", "te", "proxy-connection"] {
            XCTAssertNil(request.header(name), "\(name) reached the upstream")
        }
        XCTAssertFalse(
            request.values("connection").joined().lowercased().contains("x-custom-hop"),
            "the client's Connection field was forwarded")
        XCTAssertEqual(request.header("x-end-to-end"), "kept")
        XCTAssertEqual(request.header("accept"), "text/plain")
        XCTAssertEqual(request.header("upgrade-insecure-requests"), "1")
    }

    func test_request_xForwardedFieldsAdded() throws {
        let client = try proxy.client()
        _ = try client.roundTrip(httpRequest("GET", "/x"))
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.values("x-forwarded-for"), ["127.0.0.1"])
        XCTAssertEqual(request.values("x-forwarded-proto"), ["http"])
        XCTAssertEqual(request.values("x-forwarded-host"), ["test.example"])
    }

    func test_request_existingXForwardedFor_isExtendedNotReplaced() throws {
        let client = try proxy.client()
        _ = try client.roundTrip(
            httpRequest("GET", "/x", headers: [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https")]))
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.values("x-forwarded-for"), ["203.0.113.7, 127.0.0.1"])
        XCTAssertEqual(request.values("x-forwarded-proto"), ["https, http"])
    }

    func test_request_withoutHost_getsUpstreamHost() throws {
        let client = try proxy.client()
        _ = try client.roundTrip("GET /nohost HTTP/1.0\r\n\r\n")
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.header("host"), "127.0.0.1:\(upstream.port)")
    }

    func test_response_hopByHopFieldsRemoved() throws {
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/hop"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "hop")
        XCTAssertNil(response.header("x-hop-resp"), "a field named by the upstream's Connection was forwarded")
        XCTAssertNil(response.header("keep-alive"))
        XCTAssertFalse(response.connectionTokens.contains("x-hop-resp"))
        XCTAssertEqual(response.header("x-end"), "kept")
    }

    func test_response_traceresponseHeader_matchesInjectedContext() throws {
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/x"))
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        let injected = try XCTUnwrap(Traceparent(request.header("traceparent")))
        let returned = try XCTUnwrap(Traceparent(response.header("traceresponse")))
        XCTAssertEqual(returned, injected)
    }
}
