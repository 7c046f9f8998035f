import HTTP1
import Spans
import TestSupport
import XCTest

@testable import Proxy

/// The request rules as the connection applies them, in memory: what the client gets, what the
/// upstream gets (byte for byte), the counters, and when the answer comes (no clock moves unless
/// the test moves it).
final class RequestRulesTests: XCTestCase {
    private func proxy(_ configure: (inout ProxyConfig) -> Void = { _ in }) throws -> (InMemoryProxy, MemoryTransport) {
        let p = try InMemoryProxy(configure)
        return (p, p.connect())
    }

    // MARK: CONNECT

    func test_connect_refusedByDefault_405WithAllow_nothingUpstream() throws {
        let (p, c) = try proxy()
        p.send(c, "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
        let out = c.takeWritten()
        XCTAssertEqual(statusCode(out), 405)
        XCTAssertTrue(out.contains("\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE\r\n"), out)
        XCTAssertTrue(out.contains("Connection: close\r\n"))
        XCTAssertTrue(p.connector.opened.isEmpty, "nothing goes upstream")
        XCTAssertEqual(p.metrics.clientErrors.value, 1)
    }

    func test_connect_allowed_2xxRelayedWithoutFraming_thenTunnel_spanCoversIt() throws {
        let (p, c) = try proxy { $0.allowConnect = true }
        p.send(c, "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\nearly")
        let up = try XCTUnwrap(p.connector.last)
        let forwarded = up.takeWritten()
        XCTAssertTrue(forwarded.hasPrefix("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n"), forwarded)
        XCTAssertFalse(forwarded.contains("early"), "bytes after the head wait for the upstream's answer")
        p.answer("HTTP/1.1 200 Connection Established\r\nContent-Length: 0\r\n\r\nserver-bytes")
        let out = c.takeWritten()
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 200 Connection Established\r\n"), out)
        let head = out.components(separatedBy: "\r\n\r\n")[0].lowercased()
        XCTAssertFalse(head.contains("content-length"), out)
        XCTAssertFalse(head.contains("transfer-encoding"), out)
        XCTAssertFalse(head.contains("connection:"), out)
        XCTAssertTrue(out.hasSuffix("\r\n\r\nserver-bytes"), out)
        XCTAssertEqual(up.takeWritten(), "early", "the tunnel starts with what the client already sent")
        p.send(c, "GET /not-parsed HTTP/1.1\r\n\r\n")
        XCTAssertEqual(up.takeWritten(), "GET /not-parsed HTTP/1.1\r\n\r\n")
        XCTAssertTrue(p.spans.isEmpty, "the span is open while the tunnel is")
        up.receiveEOF()
        p.run()
        XCTAssertTrue(c.writeShut, "the upstream's EOF is passed on")
        let span = try XCTUnwrap(p.spans.first, "the tunnel ended with the upstream's close")
        XCTAssertEqual(span.tag("http.status_code"), .long(200))
        XCTAssertEqual(span.tag("http.request.body.size"), .long(5 + 28))
        XCTAssertEqual(span.tag("http.response.body.size"), .long(12))
    }

    func test_connect_refusedByUpstream_relayedAndClosed() throws {
        let (p, c) = try proxy { $0.allowConnect = true }
        p.send(c, "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
        p.answer("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
        let out = c.takeWritten()
        XCTAssertEqual(statusCode(out), 403)
        XCTAssertTrue(out.contains("Content-Length: 2\r\n"))
        XCTAssertTrue(out.contains("Connection: close\r\n"))
        XCTAssertTrue(out.hasSuffix("no"))
    }

    // MARK: targets and Host

    func test_absoluteForm_forwardedInOriginForm_withTheTargetsHost() throws {
        let (p, c) = try proxy()
        p.send(c, "GET http://a.example/x?y=1#f HTTP/1.1\r\nHost: b.example\r\nX-Forwarded-Host: c\r\n\r\n")
        let forwarded = p.connector.last!.takeWritten()
        XCTAssertTrue(forwarded.hasPrefix("GET /x?y=1 HTTP/1.1\r\nHost: a.example\r\n"), forwarded)
        XCTAssertFalse(forwarded.contains("b.example"), forwarded)
        XCTAssertTrue(forwarded.contains("X-Forwarded-Host: c, a.example\r\n"), forwarded)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(statusCode(c.takeWritten()), 200)
        let span = try XCTUnwrap(p.spans.first)
        XCTAssertEqual(span.tag("http.url"), .string("http://a.example/x?y=1"))
    }

    func test_badTargetOrHost_400_nothingUpstream() throws {
        for request in [
            "GET ! HTTP/1.1\r\nHost: a\r\n\r\n", "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /caf\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", "GET / HTTP/1.1\r\nHost:: x\r\n\r\n",
        ] {
            let (p, c) = try proxy()
            p.send(c, request)
            XCTAssertEqual(statusCode(c.takeWritten()), 400, request)
            XCTAssertTrue(p.connector.opened.isEmpty, request)
        }
    }

    /// A line that cannot start a request is answered at once, not at the header timeout.
    func test_tlsHandshakeOnThePlainPort_400AtOnce() throws {
        let (p, c) = try proxy()
        c.receive([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])
        p.run()
        XCTAssertEqual(statusCode(c.takeWritten()), 400, "no clock moved")
        XCTAssertEqual(p.metrics.clientErrors.value, 1)
    }

    // MARK: underscores

    private let underscored =
        "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\nX_Custom: 1\r\n"
        + "X-Forwarded_For: 6.6.6.6\r\nX-Ok: 2\r\n\r\nhello"

    func test_underscores_droppedByDefault_counted() throws {
        let (p, c) = try proxy()
        p.send(c, underscored)
        let forwarded = p.connector.last!.takeWritten()
        XCTAssertFalse(forwarded.contains("_"), forwarded)
        XCTAssertTrue(forwarded.contains("X-Ok: 2\r\n"))
        XCTAssertTrue(forwarded.contains("Content-Length: 5\r\n"))
        XCTAssertTrue(forwarded.hasSuffix("\r\n\r\nhello"))
        XCTAssertEqual(p.metrics.underscoreFieldsDropped.value, 3)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(statusCode(c.takeWritten()), 200)
    }

    func test_underscores_rejected_400() throws {
        let (p, c) = try proxy { $0.headersWithUnderscores = .reject }
        p.send(c, underscored)
        XCTAssertEqual(statusCode(c.takeWritten()), 400)
        XCTAssertTrue(p.connector.opened.isEmpty)
    }

    /// Allowed, except where a back end folding `_` into `-` would see a second framing or a
    /// field the proxy writes itself.
    func test_underscores_allowed_exceptFramingAndProxyFields() throws {
        let (p, _) = try proxy { $0.headersWithUnderscores = .allow }
        let c = p.connect()
        p.send(c, underscored)
        let forwarded = p.connector.last!.takeWritten()
        XCTAssertTrue(forwarded.contains("X_Custom: 1\r\n"), forwarded)
        XCTAssertFalse(forwarded.contains("Transfer_Encoding"), forwarded)
        XCTAssertFalse(forwarded.contains("6.6.6.6"), forwarded)
        XCTAssertEqual(p.metrics.underscoreFieldsDropped.value, 2)
    }
}
