import HTTP1
import Spans
import TestSupport
import XCTest

@testable import Proxy

/// Untraced paths, request ids and response-header capture as the connection applies them.
final class SpanOptionsInMemoryTests: XCTestCase {
    private let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    func test_untracedPath_noSpan_clientContextPassedOnUnchanged() throws {
        let p = try InMemoryProxy { $0.untracedPaths = ["/healthz", "/metrics*"] }
        let c = p.connect()
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        p.send(c, "GET /metrics/x HTTP/1.1\r\nHost: h\r\ntraceparent: \(traceparent)\r\n\r\n")
        let forwarded = p.connector.last!.takeWritten()
        XCTAssertTrue(forwarded.contains("traceparent: \(traceparent)\r\n"), forwarded)
        XCTAssertEqual(forwarded.components(separatedBy: "traceparent").count, 2, "exactly one traceparent")
        XCTAssertFalse(forwarded.lowercased().contains("x-b3-"), "nothing injected")
        p.answer(ok)
        XCTAssertFalse(c.takeWritten().contains("traceresponse"))
        XCTAssertTrue(p.spans.isEmpty)
        p.send(c, "GET /healthzz HTTP/1.1\r\nHost: h\r\n\r\n")
        p.answer(ok)
        XCTAssertEqual(p.spans.count, 1, "an exact path is not a prefix")
    }

    func test_requestID_generatedWhenAbsent_passedWhenPresent() throws {
        let p = try InMemoryProxy()
        let c = p.connect()
        p.send(c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let forwarded = p.connector.last!.takeWritten()
        let line = try XCTUnwrap(forwarded.components(separatedBy: "\r\n").first { $0.hasPrefix("X-Request-Id: ") })
        let id = String(line.dropFirst("X-Request-Id: ".count))
        XCTAssertEqual(id.count, 32)
        p.answer(ok)
        XCTAssertEqual(p.spans.first?.tag("http.request.header.x-request-id"), .string(id))
        p.send(c, "GET /b HTTP/1.1\r\nHost: h\r\nX-Request-Id: abc-1\r\n\r\n")
        let second = p.connector.last!.takeWritten()
        XCTAssertEqual(second.components(separatedBy: "X-Request-Id").count, 2, "the client's, not a second one")
        p.answer(ok)
        XCTAssertEqual(p.spans.last?.tag("http.request.header.x-request-id"), .string("abc-1"))
    }

    func test_requestIDOff_nothingMade() throws {
        let p = try InMemoryProxy { $0.requestID = .off }
        let c = p.connect()
        p.send(c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertFalse(p.connector.last!.takeWritten().contains("X-Request-Id"))
    }

    func test_responseHeaderCaptured() throws {
        let p = try InMemoryProxy { $0.captureResponseHeaders = ["content-type"] }
        let c = p.connect()
        p.send(c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        p.answer(ok)
        XCTAssertEqual(p.spans.first?.tag("http.response.header.content-type"), .string("text/plain"))
    }
}
