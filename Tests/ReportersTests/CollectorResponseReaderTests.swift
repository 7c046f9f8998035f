import XCTest

@testable import Reporters

/// Collector responses written out per RFC 9112 (sections 6.3, 7.1, 9.3), through HTTP1's parser.
final class CollectorResponseReaderTests: XCTestCase {
    /// Feeds the response one byte at a time as well as whole: the reader must agree either way.
    private func scan(_ text: String, atEOF: Bool = false) throws -> CollectorResponseReader.Progress {
        let bytes = Array(text.utf8)
        var whole = CollectorResponseReader()
        let result = try whole.feed(bytes, atEOF: atEOF)
        var trickled = CollectorResponseReader()
        var trickleResult = CollectorResponseReader.Progress.incomplete
        for n in 0...bytes.count {
            trickleResult = try trickled.feed(Array(bytes[..<n]), atEOF: atEOF && n == bytes.count)
            if case .complete = trickleResult { break }
        }
        XCTAssertEqual(trickleResult, result, text)
        return result
    }

    func test_scan_contentLengthBody_completeAtItsEnd() throws {
        let response = "HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhello"
        XCTAssertEqual(
            try scan(response), .complete(status: 202, keepAlive: true, end: response.utf8.count))
        XCTAssertEqual(try scan(String(response.dropLast())), .incomplete)
        XCTAssertEqual(try scan("HTTP/1.1 202 Accepted\r\nContent-Len"), .incomplete)
    }

    func test_scan_chunkedWithExtensionsAndTrailer_complete() throws {
        let response =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\nA\r\n0123456789\r\n"
            + "0\r\nX-Trailer: 1\r\n\r\n"
        XCTAssertEqual(
            try scan(response), .complete(status: 200, keepAlive: true, end: response.utf8.count))
        XCTAssertEqual(try scan(String(response.dropLast(2))), .incomplete)
    }

    /// HTTP1's rule for both framings at once (RFC 9112 section 6.3 rule 3 allows treating it as
    /// an error; the proxy does): the connection is not trusted.
    func test_scan_chunkedWithContentLength_refused() {
        let response =
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        XCTAssertThrowsError(try scan(response))
    }

    func test_scan_interim100Continue_skipped() throws {
        let response = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
        XCTAssertEqual(
            try scan(response), .complete(status: 204, keepAlive: true, end: response.utf8.count))
    }

    func test_scan_connectionClose_notKeptAlive() throws {
        let response = "HTTP/1.1 500 Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(
            try scan(response), .complete(status: 500, keepAlive: false, end: response.utf8.count))
    }

    func test_scan_http10_keptAliveOnlyWhenAsked() throws {
        let plain = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(try scan(plain), .complete(status: 200, keepAlive: false, end: plain.utf8.count))
        let asked = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(try scan(asked), .complete(status: 200, keepAlive: true, end: asked.utf8.count))
    }

    func test_scan_noFraming_bodyRunsToClose() throws {
        let response = "HTTP/1.1 200 OK\r\n\r\npartial"
        XCTAssertEqual(try scan(response), .incomplete)
        XCTAssertEqual(
            try scan(response, atEOF: true),
            .complete(status: 200, keepAlive: false, end: response.utf8.count))
    }

    func test_scan_closedEarly_throws() {
        XCTAssertThrowsError(try scan("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", atEOF: true))
        XCTAssertThrowsError(try scan("", atEOF: true))
    }

    func test_scan_malformed_throws() {
        XCTAssertThrowsError(try scan("SMTP 220 hello\r\n\r\n"))
        XCTAssertThrowsError(try scan("HTTP/1.1 2x0 OK\r\n\r\n"))
        XCTAssertThrowsError(try scan("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"))
        XCTAssertThrowsError(
            try scan("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"))
        XCTAssertThrowsError(try scan("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
        XCTAssertThrowsError(try scan("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"))
    }
}
