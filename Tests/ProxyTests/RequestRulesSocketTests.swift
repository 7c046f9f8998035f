import Foundation
import Stats
import TestSupport
import XCTest

@testable import Proxy

/// The request rules on real sockets, against a raw upstream that records every head it
/// receives byte for byte: what a rewrite sends, what a CONNECT tunnel carries, and that a slow
/// but steady upload is not taken for a slow upstream.
final class RequestRulesSocketTests: XCTestCase {
    private var upstream: ScriptedUpstream!
    private let heads = Locked<[String]>([])

    override func setUpWithError() throws {
        upstream = try ScriptedUpstream { [heads] conn in
            while let head = conn.readHead(timeout: 10) {
                heads.withLock { $0.append(head) }
                if head.hasPrefix("CONNECT ") {
                    conn.send("HTTP/1.1 200 Connection Established\r\n\r\n")
                    // Echo until the client side closes.
                    while let bytes = conn.readBody(count: 4, timeout: 10) { conn.send(bytes) }
                    return
                }
                let length = head.lowercased().components(separatedBy: "\r\n")
                    .first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
                if let length, length > 0, conn.readBody(count: length, timeout: 30) == nil { return }
                conn.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            }
        }
    }

    override func tearDown() {
        upstream.stop()
    }

    private func lastHead() -> String? {
        _ = waitUntil(timeout: 5) { !heads.withLock { $0.isEmpty } }
        return heads.withLock { $0.last }
    }

    private func fields(_ head: String, _ name: String) -> [String] {
        head.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
    }

    func test_absoluteForm_upstreamGetsOriginFormAndOneHost() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let response = try proxy.client().roundTrip(
            "GET http://a.example/x?y=1#top HTTP/1.1\r\nHost: b.example\r\n\r\n")
        XCTAssertEqual(response.status, 200)
        let head = try XCTUnwrap(lastHead())
        XCTAssertTrue(head.hasPrefix("GET /x?y=1 HTTP/1.1\r\n"), head)
        XCTAssertEqual(fields(head, "Host"), ["Host: a.example"])
        XCTAssertEqual(fields(head, "X-Forwarded-Host"), ["X-Forwarded-Host: a.example"])
        Hardening.assertServesGoodRequest(proxy)
    }

    func test_optionsAsteriskAndFragment_forwardedAsTheRulesSay() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        XCTAssertEqual(try proxy.client().roundTrip("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").status, 200)
        XCTAssertTrue(try XCTUnwrap(lastHead()).hasPrefix("OPTIONS * HTTP/1.1\r\n"))
        XCTAssertEqual(try proxy.client().roundTrip("GET /a?b=1#frag HTTP/1.1\r\nHost: h\r\n\r\n").status, 200)
        XCTAssertTrue(try XCTUnwrap(lastHead()).hasPrefix("GET /a?b=1 HTTP/1.1\r\n"))
    }

    func test_underscoreFields_droppedAndCounted_framingVariantNeverForwarded() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let response = try proxy.client().roundTrip(
            "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\nX_A: 1\r\n\r\nhello")
        XCTAssertEqual(response.status, 200)
        let head = try XCTUnwrap(lastHead())
        XCTAssertFalse(head.contains("_"), head)
        XCTAssertEqual(fields(head, "Content-Length"), ["Content-Length: 5"])
        XCTAssertEqual(
            try Hardening.metric(proxy, "traceproxy_request_fields_dropped_total{reason=\"underscore\"}"), 2)

        let allowing = try Hardening.start(upstreamPort: upstream.port, collector: nil) {
            $0.headersWithUnderscores = .allow
        }
        _ = try allowing.client().roundTrip(
            "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\nX_A: 1\r\n\r\nhello")
        let allowed = try XCTUnwrap(lastHead())
        XCTAssertEqual(fields(allowed, "X_A"), ["X_A: 1"])
        XCTAssertTrue(fields(allowed, "Transfer_Encoding").isEmpty, allowed)
    }

    func test_connectAllowed_tunnelBothWays_noFramingOnThe2xx() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.allowConnect = true }
        let client = try proxy.client()
        try client.send("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
        // The 2xx has no body: read its head only (the tunnel follows it).
        let (statusLine, headers) = parseHeaderLines(try client.reader.readHead(deadline: Date().addingTimeInterval(5)))
        XCTAssertTrue(statusLine.hasPrefix("HTTP/1.1 200 "), statusLine)
        let names = headers.map { $0.name.lowercased() }
        XCTAssertFalse(names.contains("content-length"), "\(headers)")
        XCTAssertFalse(names.contains("transfer-encoding"), "\(headers)")
        XCTAssertTrue(try XCTUnwrap(lastHead()).hasPrefix("CONNECT a.example:443 HTTP/1.1\r\n"))
        for word in ["ping", "pong", "\r\n\r\n"] {
            try client.send(word)
            let back = try client.reader.read(count: 4, deadline: Date().addingTimeInterval(5))
            XCTAssertEqual(String(decoding: back, as: UTF8.self), word)
        }
        Hardening.assertServesGoodRequest(proxy)
    }

    /// The body takes longer than the upstream timeout but never pauses longer than the body
    /// timeout: the upstream's clock starts once the request is sent, so it succeeds.
    func test_slowSteadyUpload_longerThanUpstreamTimeout_served() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) {
            $0.upstreamTimeoutMs = 600
            $0.bodyTimeoutMs = 2_000
        }
        let client = try proxy.client()
        try client.send("POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n")
        for _ in 0..<8 {
            Thread.sleep(forTimeInterval: 0.2)
            try client.send("x")
        }
        XCTAssertEqual(try client.readFinalResponse(timeout: 5).status, 200, "1.6 s of upload, 0.6 s upstream timeout")
    }
}
