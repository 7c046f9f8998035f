import HTTP1
import XCTest

final class ForwardingTests: XCTestCase {
    private func head(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> HTTPHead {
        var parser = HTTPParser(kind: .request)
        let bytes = ascii(s)
        do {
            let r = try parser.step(bytes)
            if case .head(let h)? = r.event { return h }
        } catch {
            XCTFail("parse error \(error)", file: file, line: line)
        }
        XCTFail("no head", file: file, line: line)
        return HTTPHead()
    }

    private func forwarded(_ h: HTTPHead, excluding: Set<String> = [], keepUpgrade: Bool = false)
        -> String
    {
        var out: [UInt8] = []
        h.appendForwardableFields(to: &out, excluding: excluding, keepUpgrade: keepUpgrade)
        return String(decoding: out, as: UTF8.self)
    }

    func test_hopByHopAndConnectionNamed_removed() {
        let h = head(
            "GET / HTTP/1.1\r\nHost: up\r\nConnection: close, X-Custom-Hop\r\nKeep-Alive: timeout=5\r\n"
                + "TE: trailers\r\nProxy-Connection: keep-alive\r\nx-custom-hop: secret\r\n"
                + "X-Custom-Hop: again\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nX-End:  kept \r\n"
                + "Accept: */*\r\n\r\n")
        XCTAssertEqual(forwarded(h), "Host: up\r\nX-End: kept\r\nAccept: */*\r\n")
    }

    func test_framingFields_removed() {
        let h = head(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nCONTENT-TYPE: text/plain\r\n\r\n")
        XCTAssertEqual(forwarded(h), "CONTENT-TYPE: text/plain\r\n")
        let chunked = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n")
        XCTAssertEqual(forwarded(chunked), "X-A: 1\r\n")
    }

    func test_connectionNamedTokens_caseInsensitiveAcrossFields() {
        let h = head(
            "GET / HTTP/1.1\r\nconnection: X-ONE\r\nX-One: 1\r\nX-Two: 2\r\nCONNECTION: x-two ,\r\n"
                + "X-Three: 3\r\n\r\n")
        XCTAssertEqual(forwarded(h), "X-Three: 3\r\n")
    }

    func test_keepUpgrade_keepsUpgradeEvenWhenConnectionNamesIt() {
        let h = head(
            "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n"
        )
        XCTAssertEqual(
            forwarded(h, keepUpgrade: true), "Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n")
        XCTAssertEqual(forwarded(h, keepUpgrade: false), "Sec-WebSocket-Key: k\r\n")
    }

    func test_excluding_lowercasedNamesMatchAnyCase() {
        let h = head(
            "GET / HTTP/1.1\r\nTraceParent: 00-x\r\nX-B3-TraceId: abc\r\nBaggage: k=v\r\n\r\n")
        XCTAssertEqual(
            forwarded(h, excluding: ["traceparent", "x-b3-traceid"]), "Baggage: k=v\r\n")
    }

    func test_forEachValue_allMatchesInOrder() {
        let h = head("GET / HTTP/1.1\r\ntracestate: a=1\r\nX: y\r\nTraceState:  b=2 \r\n\r\n")
        var values: [String] = []
        h.forEachValue(lowercasedName: "tracestate") {
            values.append(String(decoding: $0, as: UTF8.self))
        }
        XCTAssertEqual(values, ["a=1", "b=2"])
        var none = 0
        h.forEachValue(lowercasedName: "traceparent") { _ in none += 1 }
        XCTAssertEqual(none, 0)
    }

    func test_accessors_returnReceivedText() {
        let h = head("PATCH /p%2Fq;x=1?a=b&c HTTP/1.1\r\nHost: Example.COM\r\nHost: second\r\n\r\n")
        XCTAssertEqual(h.firstValue(lowercasedName: "host"), "Example.COM")
        XCTAssertNil(h.firstValue(lowercasedName: "user-agent"))
        XCTAssertEqual(h.target, "/p%2Fq;x=1?a=b&c")
        XCTAssertEqual(h.path, "/p%2Fq;x=1")
        XCTAssertEqual(h.methodString, "PATCH")
        XCTAssertEqual(h.method, .patch)
    }

    func test_simpleResponse_selfFramedAndParsable() throws {
        let bytes = SimpleResponse.make(
            status: 502, body: "upstream refused\n", close: true,
            extraHeaders: [("Retry-After", "1")])
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertEqual(
            text,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n"
                + "Connection: close\r\nRetry-After: 1\r\n\r\nupstream refused\n")
        let out = ParserDriver.run(.response, bytes, pieces: [])
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.keepAlive, false)
        XCTAssertEqual(out.messages.first?.body, ascii("upstream refused\n"))
        let open = String(
            decoding: SimpleResponse.make(status: 404, body: "", close: false), as: UTF8.self)
        XCTAssertEqual(
            open, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n")
    }

    func test_simpleResponse_givenContentType_replacesDefault() {
        let text = String(
            decoding: SimpleResponse.make(
                status: 200, body: "{}", close: false, extraHeaders: [("content-type", "application/json")]),
            as: UTF8.self)
        XCTAssertEqual(text, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    }

    func test_statusText_proxyStatuses_named() {
        let expected = [
            400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
            414: "URI Too Long",
            431: "Request Header Fields Too Large", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout", 505: "HTTP Version Not Supported",
        ]
        for (status, reason) in expected { XCTAssertEqual(StatusText.reason(status), reason) }
        XCTAssertFalse(StatusText.reason(599).isEmpty)
    }

    func test_parseErrorStatus_mapsLimitErrors() {
        XCTAssertEqual(HTTPParseError.headerTooLarge.status, 431)
        XCTAssertEqual(HTTPParseError.tooManyHeaders.status, 431)
        XCTAssertEqual(HTTPParseError.targetTooLong.status, 414)
        XCTAssertEqual(HTTPParseError.unsupportedVersion.status, 505)
        XCTAssertEqual(HTTPParseError.invalidChunk.status, 400)
    }
}
