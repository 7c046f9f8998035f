import HTTP1
import Spans
import TestSupport
import XCTest

@testable import Proxy

/// The connection shell with every seam in memory (`InMemoryProxy`): keep-alive, pipelining,
/// 100-continue, upgrades, every timeout, the stale-connection retry, the drain, and every status
/// the proxy sends, without a socket or a sleep. What only the kernel shows (resets, EMFILE, the
/// backlog, signals) stays in the real-socket suites.
final class ClientConnectionTests: XCTestCase {
    private let get = "GET /users/42?x=1 HTTP/1.1\r\nHost: svc\r\nUser-Agent: t\r\n\r\n"
    private let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    /// A proxy with one client connection that has sent `request`.
    private func sent(_ request: String, _ configure: (inout ProxyConfig) -> Void = { _ in }) throws -> (
        InMemoryProxy, MemoryTransport
    ) {
        let p = try InMemoryProxy(configure)
        let c = p.connect()
        p.send(c, request)
        return (p, c)
    }

    /// One GET served, so its upstream connection waits in the pool.
    private func servedOnce() throws -> (InMemoryProxy, MemoryTransport) {
        let (p, c) = try sent(get)
        p.answer(ok)
        _ = c.takeWritten()
        return (p, c)
    }

    // MARK: forwarding

    func test_request_forwardedWithProxyFields_responseRelayedWithTraceresponse() throws {
        let (p, c) = try sent(get)
        let forwarded = p.connector.last!.takeWritten()
        XCTAssertTrue(forwarded.hasPrefix("GET /users/42?x=1 HTTP/1.1\r\nHost: svc\r\nUser-Agent: t\r\n"), forwarded)
        XCTAssertTrue(forwarded.contains("X-Forwarded-For: 192.0.2.7\r\n"))
        XCTAssertTrue(forwarded.contains("traceparent: 00-"))
        XCTAssertTrue(forwarded.hasSuffix("\r\n\r\n"))
        p.answer(ok)
        let response = c.takeWritten()
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ntraceresponse: 00-"), response)
        XCTAssertTrue(response.hasSuffix("\r\n\r\nok"))
        let span = try XCTUnwrap(p.spans.first)
        XCTAssertEqual(span.operationName, "GET /users/{id}")
        XCTAssertEqual(span.tag("http.status_code"), .long(200))
        XCTAssertNil(span.tag("error"))
        XCTAssertEqual(p.metrics.requestsByClass[2].value, 1)
    }

    func test_keepAlive_secondRequestReusesPooledUpstream_spanTimesFromTheClock() throws {
        let (p, c) = try sent(get)
        p.time.advance(ms: 7)
        p.answer(ok)
        XCTAssertEqual(statusCode(c.takeWritten()), 200)
        p.send(c, get)
        p.answer(ok)
        XCTAssertEqual(statusCode(c.takeWritten()), 200)
        XCTAssertEqual(p.connector.opened.count, 1, "the idle upstream connection was reused")
        XCTAssertFalse(c.isClosed)
        let spans = p.spans
        XCTAssertEqual(spans.count, 2)
        XCTAssertEqual(spans[0].durationMicros, 7000)
        XCTAssertEqual(spans[0].startMicros, p.time.wallOriginMicros + 1_000_000)
    }

    func test_pipelinedRequests_forwardedOneAtATime_answeredInOrder() throws {
        let p = try InMemoryProxy()
        let c = p.connect()
        p.send(
            c,
            get.replacingOccurrences(of: "/users/42", with: "/a")
                + get.replacingOccurrences(of: "/users/42", with: "/b"))
        let up = p.connector.last!
        let first = up.takeWritten()
        XCTAssertTrue(first.hasPrefix("GET /a?x=1 "))
        XCTAssertFalse(first.contains("GET /b"), "the second request waits for the first response")
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
        XCTAssertTrue(up.takeWritten().hasPrefix("GET /b?x=1 "))
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB")
        let out = c.takeWritten()
        let a = try XCTUnwrap(out.range(of: "\r\n\r\nA"))
        let b = try XCTUnwrap(out.range(of: "\r\n\r\nB"))
        XCTAssertLessThan(a.lowerBound, b.lowerBound)
        XCTAssertEqual(p.spans.count, 2)
    }

    func test_chunkedRequestBody_reframed_chunkedResponseToHTTP10_closeDelimited() throws {
        let p = try InMemoryProxy()
        let c = p.connect()
        p.send(
            c, "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nT: x\r\n\r\n")
        let forwarded = p.connector.last!.takeWritten()
        XCTAssertTrue(forwarded.hasSuffix("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "own chunks, no extension or trailer")
        p.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        XCTAssertTrue(
            c.takeWritten().hasSuffix(
                "Transfer-Encoding: chunked\r\ntraceresponse: \(try traceresponse(p))\r\n\r\n2\r\nhi\r\n0\r\n\r\n"))
        let c10 = p.connect()
        p.send(c10, "GET /old HTTP/1.0\r\n\r\n")
        p.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        let out = c10.takeWritten()
        XCTAssertTrue(out.contains("Connection: close\r\n"))
        XCTAssertFalse(out.contains("Transfer-Encoding"))
        XCTAssertTrue(out.hasSuffix("\r\n\r\nhi"))
        XCTAssertTrue(c10.writeShut || c10.isClosed, "the close ends the body")
    }

    private func traceresponse(_ p: InMemoryProxy) throws -> String {
        let s = try XCTUnwrap(p.spans.last)
        return "00-\(s.traceID.hex32)-\(s.spanID.hex16)-01"
    }

    func test_expectContinue_100Relayed_thenBody() throws {
        let (p, c) = try sent("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        p.answer("HTTP/1.1 100 Continue\r\n\r\n")
        XCTAssertEqual(c.takeWritten(), "HTTP/1.1 100 Continue\r\n\r\n")
        p.send(c, "abc")
        XCTAssertTrue(p.connector.last!.takeWritten().hasSuffix("\r\n\r\nabc"))
        p.answer("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(statusCode(c.takeWritten()), 201)
        XCTAssertEqual(p.spans.first?.tag("http.request.body.size"), .long(3))
    }

    func test_upgrade_101Relayed_thenBytesTunnelBothWays_halfClosePassedOn() throws {
        let (p, c) = try sent("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let up = p.connector.last!
        let forwarded = up.takeWritten()
        XCTAssertTrue(forwarded.contains("\r\nUpgrade: websocket\r\n"), forwarded)
        XCTAssertTrue(forwarded.contains("\r\nConnection: upgrade\r\n"), forwarded)
        p.answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nserver-hello")
        let out = c.takeWritten()
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        XCTAssertTrue(out.contains("Connection: upgrade\r\n"))
        XCTAssertTrue(out.hasSuffix("\r\n\r\nserver-hello"))
        XCTAssertEqual(p.spans.count, 0, "the span covers the tunnel: it is still open")
        p.send(c, "\u{1}\u{2}not http\r\n\r\n")
        XCTAssertEqual(up.takeWritten(), "\u{1}\u{2}not http\r\n\r\n")
        p.answer("GET / HTTP/1.1\r\n")
        XCTAssertEqual(c.takeWritten(), "GET / HTTP/1.1\r\n")
        p.advance(ms: 3_600_000)
        XCTAssertFalse(c.isClosed, "a tunnel has no timeout")
        c.receiveEOF()
        p.run()
        XCTAssertTrue(up.writeShut)
        up.receiveEOF()
        p.run()
        XCTAssertTrue(c.isClosed)
        XCTAssertEqual(p.spans.count, 1, "recorded once, when the tunnel closed")
        XCTAssertEqual(p.spans.first?.tag("http.status_code"), .long(101))
        XCTAssertEqual(p.spans.first?.tag("http.request.body.size"), .long(14), "tunnel bytes from the client")
        XCTAssertEqual(p.spans.first?.tag("http.response.body.size"), .long(28), "tunnel bytes from the upstream")
    }

    // MARK: the proxy's own statuses

    private func rejected(_ request: String, _ configure: (inout ProxyConfig) -> Void = { _ in }) throws -> (
        Int?, MemoryTransport, InMemoryProxy
    ) {
        let p = try InMemoryProxy(configure)
        let c = p.connect()
        p.send(c, request)
        let out = c.takeWritten()
        XCTAssertTrue(out.contains("Connection: close\r\n"), out)
        XCTAssertTrue(c.writeShut, "lingering after the answer")
        XCTAssertTrue(p.connector.opened.isEmpty, "nothing reached the upstream")
        XCTAssertTrue(p.spans.isEmpty, "no span for a request without a usable head")
        return (statusCode(out), c, p)
    }

    func test_malformedRequests_400_414_431_505_closed() throws {
        XCTAssertEqual(try rejected("GARBAGE\r\n\r\n").0, 400)
        XCTAssertEqual(try rejected("GET / HTTP/1.1\r\n\r\n").0, 400, "HTTP/1.1 without Host")
        XCTAssertEqual(try rejected("GET /\(String(repeating: "a", count: 17_000)) HTTP/1.1\r\n").0, 414)
        XCTAssertEqual(
            try rejected("GET / HTTP/1.1\r\nHost: h\r\nX: \(String(repeating: "a", count: 600))\r\n\r\n") {
                $0.maxHeaderBytes = 512
            }.0, 431)
        let (status, _, p) = try rejected("GET / HTTP/2.0\r\nHost: h\r\n\r\n")
        XCTAssertEqual(status, 505)
        XCTAssertEqual(p.metrics.clientErrors.value, 1)
        XCTAssertEqual(p.metrics.requestsByClass[5].value, 1)
    }

    func test_lingeringConnection_discardsInput_closedAtPeerEOFOrDeadline() throws {
        let (_, c, p) = try rejected("GARBAGE\r\n\r\n")
        p.send(c, "more garbage")
        XCTAssertEqual(c.takeWritten(), "", "nothing answered while lingering")
        XCTAssertFalse(c.isClosed)
        p.advance(ms: 2_000)
        XCTAssertTrue(c.isClosed)
        let (_, c2, p2) = try rejected("GARBAGE\r\n\r\n")
        c2.receiveEOF()
        p2.run()
        XCTAssertTrue(c2.isClosed)
    }

    func test_headTimeout_408_idleTimeout_quietClose() throws {
        let p = try InMemoryProxy()
        let slow = p.connect()
        p.send(slow, "GET / HTTP/1.1\r\nHo")
        let idle = p.connect()
        p.advance(ms: 9_999)
        XCTAssertEqual(slow.takeWritten(), "")
        p.advance(ms: 1)
        XCTAssertEqual(statusCode(slow.takeWritten()), 408)
        XCTAssertEqual(p.metrics.clientErrors.value, 1)
        p.advance(ms: 49_999)
        XCTAssertFalse(idle.isClosed)
        XCTAssertTrue(slow.isClosed)
        p.advance(ms: 1)
        XCTAssertTrue(idle.isClosed)
        XCTAssertEqual(idle.takeWritten(), "", "an idle connection is closed without an answer")
    }

    func test_bodyTimeout_408_spanRecordsIt_upstreamClosed() throws {
        let (p, c) = try sent("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        p.advance(ms: 19_000)
        p.send(c, "de")
        p.advance(ms: 19_999)
        XCTAssertEqual(c.takeWritten(), "", "each body byte restarts the body timeout")
        p.advance(ms: 1)
        let out = c.takeWritten()
        XCTAssertEqual(statusCode(out), 408)
        XCTAssertTrue(out.contains("traceresponse: "))
        XCTAssertTrue(p.connector.last!.isClosed, "the partial request is never completed upstream")
        let span = try XCTUnwrap(p.spans.first)
        XCTAssertEqual(span.tag("http.status_code"), .long(408))
        XCTAssertEqual(span.errorKind, "client_timeout")
    }

    func test_connectTimeout_502_connectRefused_502_keepAliveKept() throws {
        let p = try InMemoryProxy()
        p.connector.mode = .pending
        let c = p.connect()
        p.send(c, get)
        p.advance(ms: 4_999)
        XCTAssertEqual(c.takeWritten(), "")
        p.advance(ms: 1)
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        XCTAssertEqual(p.metrics.upstreamTimeouts.value, 1)
        p.connector.mode = .refuse(errno: 111)
        p.send(c, get)
        let out = c.takeWritten()
        XCTAssertEqual(statusCode(out), 502)
        XCTAssertFalse(out.contains("Connection: close"), "a bodiless request keeps its connection")
        XCTAssertEqual(p.metrics.upstreamConnectErrors.value, 1)
        let spans = p.spans
        XCTAssertEqual(spans.map(\.errorKind), ["upstream_connect_timeout", "upstream_connect"])
        XCTAssertEqual(spans.map { $0.tag("error") }, [.bool(true), .bool(true)])
    }

    func test_asyncConnectFailure_502() throws {
        let p = try InMemoryProxy()
        p.connector.mode = .pending
        let c = p.connect()
        p.send(c, get)
        p.connector.last!.finishConnect(errno: 113)
        p.run()
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        XCTAssertEqual(p.spans.first?.errorKind, "upstream_connect")
    }

    func test_upstreamTimeout_504_beforeHead_cutAfter() throws {
        let (p, c) = try sent(get)
        p.advance(ms: 30_000)
        XCTAssertEqual(statusCode(c.takeWritten()), 504)
        p.send(c, get)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        p.advance(ms: 29_999)
        XCTAssertFalse(c.isClosed)
        p.advance(ms: 1)
        XCTAssertTrue(c.isClosed, "a truncated body is never passed off as whole")
        XCTAssertEqual(p.spans.map(\.errorKind), ["upstream_timeout", "upstream_timeout"])
        XCTAssertEqual(p.metrics.upstreamTimeouts.value, 2)
    }

    func test_invalidResponse_502_unrequested101_502_resetBeforeHead_502() throws {
        let (p, c) = try sent(get)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        p.send(c, get)
        p.answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        p.send(c, get)
        p.connector.last!.reset(errno: 104)
        p.run()
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        p.send(c, get)
        p.connector.last!.receiveEOF()
        p.run()
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        XCTAssertEqual(
            p.spans.map(\.errorKind), ["upstream_protocol", "upstream_protocol", "upstream_reset", "upstream_reset"])
        XCTAssertEqual(p.metrics.upstreamProtocolErrors.value, 2)
        XCTAssertEqual(p.metrics.upstreamResets.value, 2)
        XCTAssertFalse(c.isClosed)
    }

    func test_upstreamClosesMidBody_clientCut_closeDelimitedBodyCompletes() throws {
        let (p, c) = try sent(get)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        p.connector.last!.receiveEOF()
        p.run()
        XCTAssertTrue(c.isClosed)
        XCTAssertEqual(p.spans.last?.errorKind, "upstream_reset")
        let c2 = p.connect()
        p.send(c2, get)
        p.answer("HTTP/1.1 200 OK\r\n\r\nuntil close")
        p.connector.last!.receiveEOF()
        p.run()
        let out = c2.takeWritten()
        XCTAssertTrue(out.hasSuffix("b\r\nuntil close\r\n0\r\n\r\n"), "re-framed as chunked for an HTTP/1.1 client")
        XCTAssertFalse(c2.isClosed)
        XCTAssertNil(p.spans.last?.errorKind)
    }

    // MARK: retry

    func test_stalePooledConnection_getRetriedOnFreshConnection() throws {
        let (p, c) = try servedOnce()
        p.send(c, get)
        let stale = p.connector.opened[0]
        stale.receiveEOF()
        p.run()
        XCTAssertEqual(p.connector.opened.count, 2, "retried on a fresh connection")
        XCTAssertTrue(p.connector.opened[1].takeWritten().hasPrefix("GET /users/42?x=1 HTTP/1.1\r\n"))
        p.answer(ok, on: 1)
        XCTAssertEqual(statusCode(c.takeWritten()), 200)
        XCTAssertNil(p.spans.last?.errorKind, "a successful retry is not an error")
    }

    func test_stalePooledConnection_postNotReplayed_502() throws {
        let (p, c) = try servedOnce()
        p.send(c, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
        p.connector.opened[0].receiveEOF()
        p.run()
        XCTAssertEqual(p.connector.opened.count, 1)
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
    }

    // MARK: the client going away

    func test_clientClosesMidRequest_spanWith499_upstreamClosed() throws {
        let (p, c) = try sent("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        c.receiveEOF()
        p.run()
        XCTAssertTrue(c.isClosed)
        XCTAssertTrue(p.connector.last!.isClosed)
        let span = try XCTUnwrap(p.spans.first)
        XCTAssertEqual(span.tag("http.status_code"), .long(499))
        XCTAssertEqual(span.errorKind, "client_closed")
        XCTAssertEqual(p.metrics.openConnections.value, 0)
    }

    func test_clientHalfClose_afterWholeRequest_stillAnswered() throws {
        let (p, c) = try sent(get)
        c.receiveEOF()
        p.run()
        p.answer(ok)
        XCTAssertTrue(c.takeWritten().hasSuffix("ok"))
        XCTAssertTrue(c.isClosed)
    }

    func test_slowClient_upstreamReadingPausedUntilClientDrains() throws {
        let p = try InMemoryProxy()
        let c = p.connect()
        c.writeCapacity = 0
        p.send(c, get)
        let big = String(repeating: "x", count: 600_000)
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: \(big.count)\r\n\r\n" + big)
        let up = p.connector.last!
        XCTAssertFalse(up.wantsRead, "the response is not read faster than the client takes it")
        c.writeCapacity = 10_000_000
        p.run()
        XCTAssertTrue(c.takeWritten().hasSuffix(big))
        XCTAssertEqual(p.spans.first?.tag("http.response.body.size"), .long(Int64(big.count)))
    }

    // MARK: drain

    func test_drain_idleClosedNow_inFlightAnsweredWithClose_newConnectionsRefused() throws {
        let p = try InMemoryProxy()
        let idle = p.connect()
        let busy = p.connect()
        p.send(busy, get)
        p.beginDrain()
        XCTAssertTrue(idle.isClosed)
        XCTAssertFalse(busy.isClosed)
        p.answer(ok)
        let out = busy.takeWritten()
        XCTAssertTrue(out.contains("Connection: close\r\n"))
        XCTAssertTrue(p.connector.last!.isClosed, "nothing goes back to the pool during a drain")
        let late = p.connect()
        XCTAssertTrue(late.isClosed)
    }

    func test_drainTimeout_inFlightRequestAnswered503_recordedInSpanAndAccessLog() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tp-drain-\(getpid()).log").path
        try? FileManager.default.removeItem(atPath: log)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let p = try InMemoryProxy(accessLog: log)
        let waiting = p.connect()
        p.send(waiting, get)
        let streaming = p.connect()
        p.send(streaming, get.replacingOccurrences(of: "/users/42", with: "/stream"))
        p.answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        p.beginDrain()
        p.drainTimedOut()
        XCTAssertEqual(statusCode(waiting.takeWritten()), 503)
        XCTAssertTrue(waiting.isClosed)
        XCTAssertTrue(streaming.isClosed)
        let spans = p.spans.sorted { $0.operationName < $1.operationName }
        XCTAssertEqual(spans.map(\.operationName), ["GET /stream", "GET /users/{id}"])
        XCTAssertEqual(spans.map(\.errorKind), ["drain_timeout", "drain_timeout"])
        XCTAssertEqual(spans.map { $0.tag("http.status_code") }, [.long(200), .long(503)])
        XCTAssertEqual(spans.first?.tag("http.response.body.size"), .long(10), "the bytes sent are recorded")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines.contains { $0.contains("\" 503 0 ") && $0.contains("error=drain_timeout") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("\" 200 10 ") && $0.contains("error=drain_timeout") }, "\(lines)")
    }
}
