import HTTP1
import XCTest

final class HTTPParserRequestTests: XCTestCase {
    private func parse(
        _ s: String, limits: HTTPParser.Limits = .init(), file: StaticString = #filePath,
        line: UInt = #line
    ) -> ParseOutcome {
        ParserDriver.parseEverySplit(.request, ascii(s), limits: limits, file: file, line: line)
    }

    private func assertError(
        _ s: String, _ expected: HTTPParseError, limits: HTTPParser.Limits = .init(),
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let outcome = parse(s, limits: limits, file: file, line: line)
        XCTAssertEqual(outcome.error, expected, "for \(s.debugDescription)", file: file, line: line)
    }

    func test_get_noBody_headThenEnd() {
        let out = parse("GET /a/b?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */* \t\r\n\r\n")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.count, 1)
        let m = out.messages[0]
        XCTAssertEqual(m.method, "GET")
        XCTAssertEqual(m.target, "/a/b?q=1")
        XCTAssertEqual(m.versionMinor, 1)
        XCTAssertEqual(m.framing, BodyFraming.none)
        XCTAssertTrue(m.keepAlive)
        XCTAssertFalse(m.expectsContinue)
        XCTAssertFalse(m.isUpgrade)
        XCTAssertEqual(m.fields, ["Host: example.com", "Accept: */*"])
        XCTAssertEqual(m.body, [])
        XCTAssertTrue(m.ended)
        XCTAssertEqual(out.leftover, [])
    }

    func test_post_contentLength_bodyDelivered() {
        let out = parse("POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.count, 1)
        XCTAssertEqual(out.messages[0].framing, .length(11))
        XCTAssertEqual(out.messages[0].contentLength, 11)
        XCTAssertEqual(out.messages[0].body, ascii("hello world"))
        XCTAssertTrue(out.messages[0].ended)
    }

    func test_pipelined_threeRequests_allParsedInOrder() {
        let out = parse(
            "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                + "HEAD /3 HTTP/1.1\r\n\r\n"
                + "PUT /4 HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.target), ["/1", "/2", "/3", "/4"])
        XCTAssertEqual(out.messages.map(\.method), ["GET", "POST", "HEAD", "PUT"])
        XCTAssertEqual(out.messages.map(\.body), [[], ascii("abc"), [], []])
        XCTAssertEqual(out.messages.map(\.framing), [.none, .length(3), .none, .length(0)])
        XCTAssertTrue(out.messages.allSatisfy(\.ended))
    }

    func test_leadingEmptyLines_ignored() {
        let out = parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.target), ["/"])
    }

    func test_bareLFLineEnds_accepted() {
        let out = parse("GET / HTTP/1.1\nHost: a\nX: b\n\n")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.fields, ["Host: a", "X: b"])
    }

    func test_keepAlive_versionAndConnection_decide() {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nConnection: X-Hop, CLOSE\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true),
        ]
        for (message, keepAlive) in cases {
            let out = parse(message)
            XCTAssertNil(out.error, message)
            XCTAssertEqual(out.messages.first?.keepAlive, keepAlive, message)
        }
    }

    func test_expectContinue_caseInsensitive_flagged() {
        let out = parse("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nz")
        XCTAssertEqual(out.messages.first?.expectsContinue, true)
        XCTAssertEqual(parse("PUT /x HTTP/1.1\r\n\r\n").messages.first?.expectsContinue, false)
    }

    func test_upgrade_needsConnectionTokenAndField() {
        let both = parse(
            "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(both.messages.first?.isUpgrade, true)
        let fieldOnly = parse("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(fieldOnly.messages.first?.isUpgrade, false)
        let tokenOnly = parse("GET /ws HTTP/1.1\r\nConnection: upgrade\r\n\r\n")
        XCTAssertEqual(tokenOnly.messages.first?.isUpgrade, false)
    }

    func test_method_caseSensitiveMapping() {
        let expected: [(String, HTTPMethod)] = [
            ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
            ("PATCH", .patch), ("OPTIONS", .options), ("TRACE", .trace), ("get", .other),
            ("PROPFIND", .other), ("Post", .other),
        ]
        for (token, method) in expected {
            var parser = HTTPParser(kind: .request)
            let bytes = ascii("\(token) / HTTP/1.1\r\n\r\n")
            let result = bytes.withUnsafeBytes { try? parser.next($0) }
            guard case .head(let head)? = result?.event else {
                XCTFail("no head for \(token)")
                continue
            }
            XCTAssertEqual(head.method, method, token)
            XCTAssertEqual(head.methodString, token)
        }
    }

    func test_connectMethod_mapsToConnect() {
        var parser = HTTPParser(kind: .request)
        let bytes = ascii("CONNECT example.com:443 HTTP/1.1\r\n\r\n")
        let result = bytes.withUnsafeBytes { try? parser.next($0) }
        guard case .head(let head)? = result?.event else { return XCTFail("no head") }
        XCTAssertEqual(head.method, .connect)
        XCTAssertEqual(head.target, "example.com:443")
    }

    func test_contentLength_repeatedIdentical_acceptedAsOne() {
        let out = parse("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.framing, .length(2))
        XCTAssertEqual(out.messages.first?.body, ascii("ok"))
    }

    func test_malformedRequestLines_rejected() {
        assertError("GET  / HTTP/1.1\r\n\r\n", .invalidRequestLine)
        assertError("GET /\u{1} HTTP/1.1\r\n\r\n", .invalidRequestLine)
        assertError("G@T / HTTP/1.1\r\n\r\n", .invalidRequestLine)
        assertError("GET / HTTX/1.1\r\n\r\n", .invalidRequestLine)
        assertError("GET / http/1.1\r\n\r\n", .invalidRequestLine)
        assertError("GET / HTTP/1.1 \r\n\r\n", .invalidRequestLine)
        assertError("GET /\r\n\r\n", .invalidRequestLine)
        assertError("GET / HTTP/1.1\rX\n\r\n", .invalidRequestLine)
        assertError("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion)
        assertError("GET / HTTP/1.2\r\n\r\n", .unsupportedVersion)
        assertError("GET / HTTP/0.9\r\n\r\n", .unsupportedVersion)
    }

    func test_malformedFields_rejected() {
        assertError("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .invalidHeaderField)
        assertError("GET / HTTP/1.1\r\nHost\r\n\r\n", .invalidHeaderField)
        assertError("GET / HTTP/1.1\r\n: a\r\n\r\n", .invalidHeaderField)
        assertError("GET / HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n", .invalidHeaderField)
        assertError("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", .invalidHeaderField)
        assertError("GET / HTTP/1.1\r\nX-A: a\u{7f}\r\n\r\n", .invalidHeaderField)
        assertError("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", .obsoleteLineFolding)
        assertError("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", .obsoleteLineFolding)
    }

    func test_ambiguousFraming_rejected() {
        assertError(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            .ambiguousFraming)
        assertError(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .ambiguousFraming)
        assertError("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", .ambiguousFraming)
        assertError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .ambiguousFraming)
    }

    func test_invalidContentLength_rejected() {
        for value in ["abc", "-1", "+5", "0x10", "1 2", "99999999999999999999", ""] {
            assertError(
                "POST / HTTP/1.1\r\nContent-Length: \(value)\r\n\r\n", .invalidContentLength)
        }
    }

    func test_transferCodingOtherThanChunked_rejected() {
        for value in ["gzip", "chunked, gzip", "gzip, chunked", "chunked, chunked", "identity"] {
            assertError(
                "POST / HTTP/1.1\r\nTransfer-Encoding: \(value)\r\n\r\n",
                .unsupportedTransferEncoding)
        }
        assertError(
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            .unsupportedTransferEncoding)
    }

    func test_limits_enforced() {
        let fields = (0..<5).map { "X-\($0): v\r\n" }.joined()
        assertError(
            "GET / HTTP/1.1\r\n\(fields)\r\n", .tooManyHeaders, limits: .init(maxHeaders: 4))
        XCTAssertNil(parse("GET / HTTP/1.1\r\n\(fields)\r\n", limits: .init(maxHeaders: 5)).error)

        let big = "GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 200))\r\n\r\n"
        assertError(big, .headerTooLarge, limits: .init(maxHeaderBytes: 200))
        XCTAssertNil(parse(big, limits: .init(maxHeaderBytes: big.utf8.count)).error)
        assertError(big, .headerTooLarge, limits: .init(maxHeaderBytes: big.utf8.count - 1))

        let target = "/" + String(repeating: "t", count: 99)
        assertError(
            "GET \(target) HTTP/1.1\r\n\r\n", .targetTooLong, limits: .init(maxTargetLength: 99))
        XCTAssertNil(
            parse("GET \(target) HTTP/1.1\r\n\r\n", limits: .init(maxTargetLength: 100)).error)
    }

    func test_overlongStartLine_targetTooLongBeforeLineEnds() {
        // The line never ends: the parser must give up on the target, not buffer on.
        let start = ascii("GET /" + String(repeating: "a", count: 500))
        let out = ParserDriver.run(.request, start, pieces: [], limits: .init(maxTargetLength: 100))
        XCTAssertEqual(out.error, .targetTooLong)
    }

    /// A start line over the limit is refused however its bytes arrive: the fuzzer found a long
    /// method accepted when the line came in one piece and refused when it came byte by byte.
    func test_overlongStartLine_longMethod_sameAnswerWholeOrPiecewise() {
        let method = String(repeating: "A", count: 200)
        assertError("\(method) / HTTP/1.1\r\nHost: h\r\n\r\n", .targetTooLong, limits: .init(maxTargetLength: 100))
    }

    func test_finish_idleMidHeadMidBody() throws {
        var parser = HTTPParser(kind: .request)
        XCTAssertTrue(parser.isIdle)
        XCTAssertNil(try parser.finish())

        let partialHead = ascii("GET / HT")
        _ = try parser.step(partialHead)
        XCTAssertFalse(parser.isIdle)
        XCTAssertThrowsError(try parser.finish()) {
            XCTAssertEqual($0 as? HTTPParseError, .truncated)
        }

        let head = ascii("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab")
        let out = ParserDriver.run(.request, head, pieces: [], finish: true)
        XCTAssertEqual(out.error, .truncated)
        XCTAssertEqual(out.messages.first?.body, ascii("ab"))
    }

    func test_isIdle_falseDuringBody_trueAfterEnd() throws {
        var parser = HTTPParser(kind: .request)
        let bytes = ascii("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab")
        var idleStates: [Bool] = []
        var rest = bytes
        while true {
            let r = try parser.step(rest)
            rest.removeFirst(r.consumed)
            guard r.event != nil else { break }
            idleStates.append(parser.isIdle)
        }
        // After .head, after .body, after .end.
        XCTAssertEqual(idleStates, [false, false, true])
    }

    func test_bodyRange_pointsIntoCallersBuffer() throws {
        var parser = HTTPParser(kind: .request)
        let bytes = ascii("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nwxyz")
        try bytes.withUnsafeBytes { p in
            let first = try parser.next(p)
            XCTAssertEqual(first.consumed, bytes.count - 4)
            let rest = UnsafeRawBufferPointer(rebasing: p[first.consumed...])
            let second = try parser.next(rest)
            guard case .body(let range)? = second.event else { return XCTFail("expected body") }
            XCTAssertEqual(range, 0..<4)
            XCTAssertEqual(Array(rest[range]), ascii("wxyz"))
            XCTAssertEqual(second.consumed, 4)
        }
    }
}

/// A response parser reuses its head storage for the next head once the proxy let the last one
/// go; each head still reads back exactly as it arrived.
final class HTTPParserHeadStorageTests: XCTestCase {
    func test_droppedResponseHeads_reuseStorage_sameBytes() throws {
        var parser = HTTPParser(kind: .response)
        for i in 0..<50 {
            let response = ascii(
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: \(String(repeating: "b", count: i))\r\n\r\n")
            let r = try parser.step(response)
            guard case .head(let h)? = r.event else { return XCTFail("no head") }
            XCTAssertEqual(h.bytes, response)
            XCTAssertEqual(h.fields.count, 2)
            XCTAssertEqual(h.firstValue(lowercasedName: "x-a")?.count, i)
            _ = try parser.step([])
        }
    }
}
