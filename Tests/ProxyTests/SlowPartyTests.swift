import HTTP1
import Spans
import TestSupport
import XCTest

@testable import Proxy

/// Each timeout blames the party the connection is waiting for: a client that stops reading the
/// response is cut by the send timeout (not taken for an upstream timeout), an upstream that stops
/// taking the body gets the 504 (not the client a 408). In memory, on a manual clock.
final class SlowPartyTests: XCTestCase {
    private let get = "GET /big HTTP/1.1\r\nHost: svc\r\n\r\n"

    func test_clientStopsReading_noUpstreamTimeout_sendTimeoutCutsAndRecords() throws {
        let p = try InMemoryProxy { $0.sendTimeoutMs = 45_000 }
        let c = p.connect()
        c.writeCapacity = 0
        p.send(c, get)
        let big = String(repeating: "x", count: 600_000)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: \(big.count)\r\n\r\n" + big)
        p.advance(ms: 40_000)
        XCTAssertFalse(c.isClosed, "past the upstream timeout (30 s), but the upstream is not the slow one")
        XCTAssertTrue(p.spans.isEmpty)
        c.writeCapacity = 1000
        p.run()
        p.advance(ms: 40_000)
        XCTAssertFalse(c.isClosed, "a write went out 40 s ago: the send deadline moved")
        p.advance(ms: 5_000)
        XCTAssertTrue(c.isClosed)
        let span = try XCTUnwrap(p.spans.first)
        XCTAssertEqual(span.errorKind, "client_timeout")
        XCTAssertEqual(span.tag("http.status_code"), .long(200), "the status the client was getting")
        XCTAssertEqual(p.metrics.upstreamTimeouts.value, 0)
    }

    func test_upstreamStopsTakingTheBody_noBodyTimeout_504() throws {
        let p = try InMemoryProxy()
        let c = p.connect()
        let size = 1_000_000
        p.send(c, "POST /up HTTP/1.1\r\nHost: svc\r\nContent-Length: \(size)\r\n\r\n")
        let up = try XCTUnwrap(p.connector.last)
        up.writeCapacity = 0
        p.send(c, String(repeating: "b", count: 400_000))
        p.advance(ms: 25_000)
        XCTAssertNil(statusCode(c.takeWritten()), "past the body timeout (20 s), but the client is not the slow one")
        p.advance(ms: 5_000)
        XCTAssertEqual(statusCode(c.takeWritten()), 504)
        XCTAssertEqual(p.spans.first?.errorKind, "upstream_timeout")
    }

    /// The finished response still being written keeps an idle connection open; the idle timeout
    /// counts from the moment it is all out.
    func test_idleTimeout_startsOnceTheResponseIsWritten() throws {
        let p = try InMemoryProxy()
        let c = p.connect()
        c.writeCapacity = 0
        p.send(c, get)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        p.advance(ms: 59_000)
        c.writeCapacity = 10_000
        p.run()
        XCTAssertTrue(c.takeWritten().hasSuffix("hello"))
        p.advance(ms: 59_000)
        XCTAssertFalse(c.isClosed, "idle for 59 s only")
        p.advance(ms: 1_001)
        XCTAssertTrue(c.isClosed)
    }
}
