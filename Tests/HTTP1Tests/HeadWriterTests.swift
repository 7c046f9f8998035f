import HTTP1
import XCTest

/// The proxy's head syntax: what it writes parses back (with HTTP1's own parser, fed whole and
/// split at random points) to the message it meant, and the framing is always the proxy's own.
final class HeadWriterTests: XCTestCase {
    private func parsed(_ kind: HTTPParser.Kind, _ s: String, toHEAD: Bool = false) -> HTTPHead {
        var parser = HTTPParser(kind: kind)
        parser.expectResponse(toHEAD: toHEAD)
        do {
            if case .head(let h)? = try parser.step(ascii(s)).event { return h }
        } catch {
            XCTFail("parse error \(error) for \(s)")
        }
        XCTFail("no head in \(s)")
        return HTTPHead()
    }

    private func text(_ build: (inout [UInt8]) -> Void) -> String {
        var out: [UInt8] = []
        build(&out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: decimals

    func test_appendDecimal_matchesStringConversion() {
        var values = [0, 1, 9, 10, 99, 100, 101, 65_535, 1_000_000, Int(Int32.max), Int.max]
        var rng = SplitMix64(state: 7)
        for _ in 0..<1000 { values.append(Int(rng.next() >> 1)) }
        for v in values {
            XCTAssertEqual(text { HeadWriter.appendDecimal(v, to: &$0) }, String(v), "\(v)")
        }
    }

    // MARK: request heads

    func test_requestHead_ownFramingAndUpgrade_extraFieldsBeforeFraming() {
        let h = parsed(
            .request,
            "POST /a?b=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\nX-Y: z\r\n\r\n")
        let out = text {
            HeadWriter.appendRequestHead(h, excluding: ["x-y"], to: &$0) { HeadWriter.appendField("A", "b", to: &$0) }
        }
        XCTAssertEqual(out, "POST /a?b=1 HTTP/1.1\r\nHost: h\r\nA: b\r\nContent-Length: 5\r\n\r\n")
        let chunked = parsed(.request, "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertTrue(
            text { HeadWriter.appendRequestHead(chunked, excluding: [], to: &$0) { _ in } }
                .hasSuffix("\r\nTransfer-Encoding: chunked\r\n\r\n"))
        let upgrade = parsed(
            .request, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(
            text { HeadWriter.appendRequestHead(upgrade, excluding: [], to: &$0) { _ in } },
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
    }

    func test_requestHead_http10_forwardedAsHTTP11_parsesBack() {
        let h = parsed(.request, "GET /x HTTP/1.0\r\nAccept: */*\r\n\r\n")
        let out = text {
            HeadWriter.appendRequestHead(h, excluding: [], to: &$0) { HeadWriter.appendField("Host", "u:1", to: &$0) }
        }
        let back = ParserDriver.run(.request, ascii(out), pieces: [3, 7, 1])
        XCTAssertNil(back.error)
        XCTAssertEqual(back.messages.first?.target, "/x")
        XCTAssertEqual(back.messages.first?.versionMinor, 1)
        XCTAssertEqual(back.messages.first?.fields, ["Accept: */*", "Host: u:1"])
    }

    // MARK: relay framing

    func test_relayFraming_byMethodStatusAndClientVersion() {
        let length = parsed(.response, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")
        let chunked = parsed(.response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        let untilClose = parsed(.response, "HTTP/1.1 200 OK\r\n\r\n")
        let noContent = parsed(.response, "HTTP/1.1 204 No Content\r\n\r\n")
        let notModified = parsed(.response, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n")
        let switching = parsed(.response, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
        XCTAssertEqual(HeadWriter.relayFraming(for: length, requestMethod: .get, requestMinor: 1), .length)
        XCTAssertEqual(HeadWriter.relayFraming(for: length, requestMethod: .head, requestMinor: 1), .none)
        XCTAssertEqual(HeadWriter.relayFraming(for: chunked, requestMethod: .get, requestMinor: 1), .chunked)
        XCTAssertEqual(HeadWriter.relayFraming(for: chunked, requestMethod: .get, requestMinor: 0), .close)
        XCTAssertEqual(HeadWriter.relayFraming(for: untilClose, requestMethod: .get, requestMinor: 1), .chunked)
        XCTAssertEqual(HeadWriter.relayFraming(for: untilClose, requestMethod: .post, requestMinor: 0), .close)
        XCTAssertEqual(HeadWriter.relayFraming(for: noContent, requestMethod: .get, requestMinor: 1), .none)
        XCTAssertEqual(HeadWriter.relayFraming(for: notModified, requestMethod: .get, requestMinor: 1), .none)
        XCTAssertEqual(HeadWriter.relayFraming(for: switching, requestMethod: .get, requestMinor: 1), .none)
    }

    // MARK: response heads

    private func response(
        _ raw: String, method: HTTPMethod = .get, minor: Int = 1, connection: HeadWriter.ConnectionOption = .none
    ) -> String {
        let h = parsed(.response, raw, toHEAD: method == .head)
        let framing = HeadWriter.relayFraming(for: h, requestMethod: method, requestMinor: minor)
        return text {
            HeadWriter.appendResponseHead(
                h, framing: framing, requestMethod: method, connection: connection, excluding: ["traceresponse"],
                to: &$0
            ) { HeadWriter.appendField("traceresponse", "00-x", to: &$0) }
        }
    }

    func test_responseHead_keepsReason_fillsMissingOne_ownFraming_extraLast() {
        XCTAssertEqual(
            response("HTTP/1.1 200 Fine\r\nContent-Length: 2\r\nTraceresponse: old\r\nX: y\r\n\r\n"),
            "HTTP/1.1 200 Fine\r\nX: y\r\nContent-Length: 2\r\ntraceresponse: 00-x\r\n\r\n")
        XCTAssertEqual(
            response("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\ntraceresponse: 00-x\r\n\r\n")
    }

    func test_responseHead_headAnd304KeepContentLength_204None() {
        XCTAssertEqual(
            response("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method: .head),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\ntraceresponse: 00-x\r\n\r\n")
        XCTAssertEqual(
            response("HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\nContent-Length: 9\r\n\r\n"),
            "HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\nContent-Length: 9\r\ntraceresponse: 00-x\r\n\r\n")
        XCTAssertEqual(
            response("HTTP/1.1 204 No Content\r\n\r\n"), "HTTP/1.1 204 No Content\r\ntraceresponse: 00-x\r\n\r\n")
    }

    func test_responseHead_chunkedForHTTP11_closeDelimitedForHTTP10_connectionOptions() {
        XCTAssertEqual(
            response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", connection: .close),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\ntraceresponse: 00-x\r\n\r\n")
        XCTAssertEqual(
            response("HTTP/1.1 200 OK\r\n\r\n", minor: 0, connection: .close),
            "HTTP/1.1 200 OK\r\nConnection: close\r\ntraceresponse: 00-x\r\n\r\n")
        XCTAssertEqual(
            response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", minor: 0, connection: .keepAlive),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\ntraceresponse: 00-x\r\n\r\n")
        XCTAssertEqual(
            response(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                connection: .upgrade),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\ntraceresponse: 00-x\r\n\r\n"
        )
    }

    func test_responseHead_parsesBackWithTheSameFraming() {
        for raw in [
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
        ] {
            let out = response(raw)
            let back = ParserDriver.run(.response, ascii(out), pieces: [1, 5, 2])
            XCTAssertNil(back.error, out)
            XCTAssertEqual(back.messages.first?.status, parsed(.response, raw).status)
            XCTAssertEqual(back.messages.first?.framing, parsed(.response, raw).framing, out)
        }
    }

    // MARK: the proxy's own answers

    func test_simpleResponse_selfFramed_connectionAndExtraFields() {
        let out = text {
            HeadWriter.appendSimpleResponse(status: 503, body: "Service Unavailable\n", connection: .close, to: &$0) {
                HeadWriter.appendField("traceresponse", "00-x", to: &$0)
            }
        }
        XCTAssertEqual(
            out,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
                + "Connection: close\r\ntraceresponse: 00-x\r\n\r\nService Unavailable\n")
        let back = ParserDriver.run(.response, ascii(out), pieces: [])
        XCTAssertEqual(back.messages.first?.keepAlive, false)
        XCTAssertEqual(back.messages.first?.body, ascii("Service Unavailable\n"))
        XCTAssertEqual(
            String(decoding: HeadWriter.continueResponse, as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
    }
}
