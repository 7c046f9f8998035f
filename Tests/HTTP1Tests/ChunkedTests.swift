import HTTP1
import XCTest

final class ChunkedTests: XCTestCase {
    private func request(_ body: String) -> String {
        "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    }

    private func parse(
        _ s: String, limits: HTTPParser.Limits = .init(), file: StaticString = #filePath,
        line: UInt = #line
    ) -> ParseOutcome {
        ParserDriver.parseEverySplit(.request, ascii(s), limits: limits, file: file, line: line)
    }

    func test_extensionsAndTrailers_dataOnly() {
        // The chunked example from Wikipedia's "Chunked transfer encoding", with extensions
        // (RFC 9112 section 7.1.1) and a trailer section (section 7.1.2) added.
        let out = parse(
            request(
                "4;ext=1\r\nWiki\r\n7 ; name=\"quo;ted\"\r\npedia i\r\nB\r\nn \r\nchunks.\r\n"
                    + "0;last\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.count, 1)
        XCTAssertEqual(out.messages[0].framing, .chunked)
        XCTAssertEqual(
            String(decoding: out.messages[0].body, as: UTF8.self), "Wikipedia in \r\nchunks.")
        XCTAssertTrue(out.messages[0].ended)
    }

    func test_hexSizes_upperAndLowerCase() {
        let data = String(repeating: "x", count: 26)
        let out = parse(request("1a\r\n\(data)\r\n1A\r\n\(data)\r\n0\r\n\r\n"))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.body.count, 52)
    }

    func test_pipelinedAfterChunked_nextRequestParsed() {
        let out = parse(request("2\r\nab\r\n0\r\n\r\n") + "GET /next HTTP/1.1\r\n\r\n")
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.map(\.target), ["/up", "/next"])
        XCTAssertEqual(out.messages.map(\.body), [ascii("ab"), []])
    }

    func test_roundTrip_encoderOutputDecodesToSameBytes() {
        var rng = SplitMix64(state: 42)
        var payload: [UInt8] = []
        var wire = ascii(request(""))
        for _ in 0..<30 {
            let size = Int.random(in: 1...700, using: &rng)
            let chunk = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            payload += chunk
            ChunkedFraming.appendChunkHeader(size: size, to: &wire)
            wire += chunk
            wire += ChunkedFraming.chunkTrailer
        }
        wire += ChunkedFraming.lastChunk
        let out = ParserDriver.parseEverySplit(.request, wire)
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.body, payload)
        XCTAssertEqual(out.messages.first?.ended, true)
    }

    func test_chunkHeader_matchesStdlibHex() {
        for size in [1, 9, 10, 15, 16, 255, 256, 4096, 65535, 1 << 20, 123_456_789, Int(Int32.max)] {
            var out: [UInt8] = []
            ChunkedFraming.appendChunkHeader(size: size, to: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), String(size, radix: 16) + "\r\n")
        }
        var zero: [UInt8] = []
        ChunkedFraming.appendChunkHeader(size: 0, to: &zero)
        XCTAssertEqual(zero, ascii("0\r\n"))
        XCTAssertEqual(ChunkedFraming.lastChunk, ascii("0\r\n\r\n"))
        XCTAssertEqual(ChunkedFraming.chunkTrailer, ascii("\r\n"))
    }

    func test_malformedChunks_rejected() {
        let cases: [(String, HTTPParseError)] = [
            ("x\r\n", .invalidChunk),
            ("\r\n", .invalidChunk),
            ("-1\r\n", .invalidChunk),
            ("3\r\nabcd\r\n", .invalidChunk),
            ("3\r\nabc\rX", .invalidChunk),
            ("3 x\r\n", .invalidChunk),
            ("3\rX", .invalidChunk),
            ("1000000000000000\r\n", .invalidChunk),
            ("3;a\u{0}b\r\n", .invalidChunk),
            ("1;" + String(repeating: "e", count: 5000) + "\r\n", .invalidChunk),
            ("0\r\nX: 1\rY\r\n\r\n", .invalidChunk),
            ("0\r\n\rX", .invalidChunk),
        ]
        for (body, error) in cases {
            XCTAssertEqual(parse(request(body)).error, error, body.debugDescription)
        }
    }

    func test_largestSizeDigits_acceptedUpToFifteen() {
        // 15 hex digits with leading zeros is still a small chunk.
        let out = parse(request("000000000000002\r\nok\r\n0\r\n\r\n"))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.messages.first?.body, ascii("ok"))
    }

    func test_trailerSection_boundedByHeaderLimit() {
        let trailer = "X-T: " + String(repeating: "t", count: 300) + "\r\n"
        let message = request("0\r\n" + trailer + "\r\n")
        XCTAssertEqual(parse(message, limits: .init(maxHeaderBytes: 200)).error, .headerTooLarge)
        XCTAssertNil(parse(message, limits: .init(maxHeaderBytes: 400)).error)
    }
}
