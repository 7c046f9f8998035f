import HTTP1
import XCTest

final class HTTPParserResponseTests: XCTestCase {
    private func parse(
        _ s: String, toHEAD: Bool = false, finish: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) -> ParseOutcome {
        ParserDriver.parseEverySplit(
            .response, ascii(s), toHEAD: toHEAD, finish: finish, file: file, line: line)
    }

    func test_contentLength_bodyThenEnd() {
        let out = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: t\r\n\r\nhello")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.count, 1)
        let m = out.messages[0]
        XCTAssertEqual(m.status, 200)
        XCTAssertEqual(m.framing, .length(5))
        XCTAssertEqual(m.body, ascii("hello"))
        XCTAssertTrue(m.keepAlive)
        XCTAssertTrue(m.ended)
    }

    func test_reasonPhrase_keptAndOptional() throws {
        var parser = HTTPParser(kind: .response)
        let bytes = ascii("HTTP/1.1 404 Not  Found\r\nContent-Length: 0\r\n\r\n")
        let r = try parser.step(bytes)
        guard case .head(let head)? = r.event else { return XCTFail("no head") }
        XCTAssertEqual(head.reason, "Not  Found")
        let bare = parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        XCTAssertNil(bare.error)
        XCTAssertEqual(bare.messages.first?.status, 200)
        let empty = parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(empty.messages.first?.status, 200)
    }

    func test_noLength_untilClose_endsAtFinish() {
        let out = parse("HTTP/1.1 200 OK\r\n\r\nstreamed until close", finish: true)
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.framing, .untilClose)
        XCTAssertEqual(out.messages.first?.keepAlive, false)
        XCTAssertEqual(out.messages.first?.body, ascii("streamed until close"))
        XCTAssertEqual(out.messages.first?.ended, true)

        let notFinished = parse("HTTP/1.1 200 OK\r\n\r\nabc")
        XCTAssertEqual(notFinished.messages.first?.ended, false)
    }

    func test_http10_keepAliveOnlyWhenAsked() {
        let plain = parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(plain.messages.first?.keepAlive, false)
        XCTAssertEqual(plain.messages.first?.versionMinor, 0)
        let asked = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(asked.messages.first?.keepAlive, true)
    }

    func test_204And304_haveNoBody_evenWithContentLength() {
        let out = parse(
            "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
                + "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nETag: \"x\"\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.status), [204, 304, 200])
        XCTAssertEqual(out.messages.map(\.framing), [.none, .none, .length(2)])
        XCTAssertEqual(out.messages.map(\.contentLength), [10, 7, 2])
        XCTAssertEqual(out.messages.map(\.body), [[], [], ascii("ok")])
        XCTAssertTrue(out.messages.allSatisfy(\.ended))
    }

    func test_responseToHEAD_noBody_contentLengthKept() {
        let out = parse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", toHEAD: true)
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.framing, BodyFraming.none)
        XCTAssertEqual(out.messages.first?.contentLength, 1234)
        XCTAssertEqual(out.messages.first?.ended, true)
        XCTAssertEqual(out.messages.first?.keepAlive, true)
    }

    func test_responseToHEAD_chunkedHeader_noBody() {
        let out = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", toHEAD: true)
        // The HEAD setting covers one final response only; the next one has its body.
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.framing), [.none, .length(1)])
        XCTAssertEqual(out.messages.map(\.body), [[], ascii("x")])
    }

    func test_100Continue_thenFinalResponse_headSettingSurvives() {
        let out = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            toHEAD: true)
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.status), [100, 200])
        XCTAssertEqual(out.messages.map(\.framing), [.none, .none])
        XCTAssertTrue(out.messages.allSatisfy(\.ended))
    }

    func test_interimResponses_thenBody() {
        let out = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.status), [100, 103, 201])
        XCTAssertEqual(out.messages.map(\.body), [[], [], ascii("hi")])
    }

    func test_101_endsThenLeavesTunnelBytes() {
        let out = parse(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
                + "\u{81}\u{5}hello")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.count, 1)
        XCTAssertEqual(out.messages.first?.isUpgrade, true)
        XCTAssertEqual(out.messages.first?.ended, true)
        XCTAssertEqual(out.leftover, ascii("\u{81}\u{5}hello"))
    }

    func test_101_parserStopsAndIsNotIdle() throws {
        var parser = HTTPParser(kind: .response)
        let bytes = ascii("HTTP/1.1 101 Switching Protocols\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        try bytes.withUnsafeBytes { p in
            let head = try parser.next(p)
            let end = try parser.next(UnsafeRawBufferPointer(rebasing: p[head.consumed...]))
            guard case .end? = end.event else { return XCTFail("expected end") }
            let after = try parser.next(UnsafeRawBufferPointer(rebasing: p[head.consumed...]))
            XCTAssertEqual(after.consumed, 0)
            XCTAssertNil(after.event)
        }
        XCTAssertFalse(parser.isIdle)
        XCTAssertNil(try parser.finish())
    }

    func test_chunkedResponse_decoded() {
        let out = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.framing, .chunked)
        XCTAssertEqual(out.messages.first?.body, ascii("abc"))
        XCTAssertEqual(out.messages.first?.ended, true)
    }

    func test_malformedStatusLines_rejected() {
        let cases: [(String, HTTPParseError)] = [
            ("HTTP/1.1 20 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 2000 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 200OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 099 X\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1  200 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/1.1 200 O\u{1}K\r\n\r\n", .invalidStatusLine),
            ("ICY 200 OK\r\n\r\n", .invalidStatusLine),
            ("HTTP/2.0 200 OK\r\n\r\n", .unsupportedVersion),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                .ambiguousFraming
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                .ambiguousFraming
            ),
            ("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", .invalidHeaderField),
        ]
        for (message, error) in cases {
            XCTAssertEqual(parse(message).error, error, message.debugDescription)
        }
    }

    func test_finish_midBody_truncated() {
        let out = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", finish: true)
        XCTAssertEqual(out.error, .truncated)
        let chunked = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", finish: true)
        XCTAssertEqual(chunked.error, .truncated)
    }
}
