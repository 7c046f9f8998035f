import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// What the client gets when its request, the upstream or the clock fails.
final class ErrorStatusTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    private func proxy(_ configure: (inout ProxyConfig) -> Void = { _ in }) throws -> RunningProxy {
        try ProxyHarness.start(upstreamPort: upstream.port, configure)
    }

    func test_malformedRequestLine_400AndClosed() throws {
        let client = try proxy().client()
        let response = try client.roundTrip("GARBAGE\r\n\r\n")
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(client.waitForClose(timeout: 5), "connection left open after a 400")
        XCTAssertTrue(upstream.requests.isEmpty)
    }

    func test_headerLineWithoutColon_400AndClosed() throws {
        let client = try proxy().client()
        let response = try client.roundTrip("GET / HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n")
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(upstream.requests.isEmpty)
    }

    func test_contentLengthAndTransferEncoding_400AndClosed() throws {
        let client = try proxy().client()
        let response = try client.roundTrip(
            "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\n\r\n")
        XCTAssertEqual(response.status, 400, "CL with TE is a smuggling vector (RFC 9112 section 6.3)")
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(upstream.requests.isEmpty, "the ambiguous request reached the upstream")
    }

    func test_oversizedHeader_431AndClosed() throws {
        let client = try proxy { $0.maxHeaderBytes = 1024 }.client()
        let response = try client.roundTrip(
            httpRequest("GET", "/x", headers: [("X-Big", String(repeating: "a", count: 4000))]))
        XCTAssertEqual(response.status, 431)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(upstream.requests.isEmpty)
    }

    func test_tooManyHeaderFields_431AndClosed() throws {
        let client = try proxy { $0.maxHeaders = 10 }.client()
        let response = try client.roundTrip(httpRequest("GET", "/x", headers: (0..<20).map { ("X-H\($0)", "v") }))
        XCTAssertEqual(response.status, 431)
        XCTAssertTrue(client.waitForClose(timeout: 5))
    }

    func test_bodyNotCompleted_408AfterBodyTimeout() throws {
        let client = try proxy { $0.bodyTimeoutMs = 300 }.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly ten b")
        let response = try client.readFinalResponse(timeout: 15)
        XCTAssertEqual(response.status, 408)
        XCTAssertTrue(client.waitForClose(timeout: 5))
    }

    func test_headerUnderLimit_forwarded() throws {
        let client = try proxy { $0.maxHeaderBytes = 1024 }.client()
        let response = try client.roundTrip(
            httpRequest("GET", "/x", headers: [("X-Small", String(repeating: "a", count: 200))]))
        XCTAssertEqual(response.status, 200)
    }

    func test_upstreamRefused_502ForGetAndForPostWithBody() throws {
        let closedPort = freeTCPPort()
        let running = try ProxyHarness.start(upstreamPort: closedPort)
        let client = try running.client()
        let get = try client.roundTrip(httpRequest("GET", "/x"))
        XCTAssertEqual(get.status, 502)
        let postClient = try running.client()
        let post = try postClient.roundTrip(httpRequest("POST", "/x", body: String(repeating: "b", count: 10_000)))
        XCTAssertEqual(post.status, 502)
    }

    func test_upstreamSilent_504AfterUpstreamTimeout() throws {
        let client = try proxy { $0.upstreamTimeoutMs = 300 }.client()
        let started = Date()
        let response = try client.roundTrip(httpRequest("GET", "/hang"), timeout: 15)
        XCTAssertEqual(response.status, 504)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.25, "answered before the timeout")
    }

    func test_headNotCompleted_408AfterHeaderTimeout() throws {
        let client = try proxy { $0.headerTimeoutMs = 300 }.client()
        try client.send("GET /x HTTP/1.1\r\nHost: h\r\nX-Slow: ")
        let started = Date()
        let response = try client.readFinalResponse(timeout: 15)
        XCTAssertEqual(response.status, 408)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.2)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(upstream.requests.isEmpty)
    }

    func test_upstreamClosesMidBody_clientConnectionClosedWithoutWholeBody() throws {
        let client = try proxy().client()
        try client.send(httpRequest("GET", "/close-mid-body"))
        let deadline = Date().addingTimeInterval(10)
        let head = try client.reader.readHead(deadline: deadline)
        XCTAssertTrue(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        XCTAssertTrue(client.waitForClose(timeout: 10), "the client was left waiting for the rest of the body")
        XCTAssertLessThan(client.reader.buffer.count, 1000, "a truncated body must not look whole")
    }

    func test_upstreamSendsGarbage_502() throws {
        let client = try proxy().client()
        let response = try client.roundTrip(httpRequest("GET", "/garbage"))
        XCTAssertEqual(response.status, 502)
    }

    func test_afterUpstreamError_sameClientConnectionStillServes() throws {
        let client = try proxy().client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/garbage")).status, 502)
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/x")).text, "ok")
    }
}
