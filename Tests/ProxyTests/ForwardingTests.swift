import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// Requests and responses pass through intact: targets, bodies in both framings, streaming.
final class ForwardingTests: XCTestCase {
    private var upstream: TestUpstream!
    private var proxy: RunningProxy!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        proxy = try ProxyHarness.start(upstreamPort: upstream.port)
    }

    override func tearDown() {
        upstream.stop()
    }

    /// Percent-encoding and sub-delimiters pass untouched; a fragment is never forwarded.
    func test_get_targetWithQueryAndEscapes_reachesUpstreamUnchanged_fragmentDropped() throws {
        let client = try proxy.client()
        let target = "/a%2Fb;x=1/c?q=1&r=%20two"
        let response = try client.roundTrip(httpRequest("GET", target + "#frag", headers: [("X-End", "e2e")]))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "ok")
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.target, target)
        XCTAssertEqual(request.version, "HTTP/1.1")
        XCTAssertEqual(request.header("host"), "test.example")
        XCTAssertEqual(request.header("x-end"), "e2e")
        XCTAssertTrue(request.body.isEmpty)
    }

    func test_post_contentLengthBody_reachesUpstreamIntactAndIsEchoed() throws {
        let client = try proxy.client()
        let body = TestUpstream.payload(200_000)
        try client.send(
            Array("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let response = try client.readFinalResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body.count, body.count)
        XCTAssertTrue(response.body == body, "echoed body differs")
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.header("content-length"), String(body.count))
        XCTAssertFalse(request.chunked)
        XCTAssertTrue(request.body == body, "upstream's copy differs")
    }

    func test_post_chunkedBodyWithExtensionsAndTrailer_reachesUpstreamIntact() throws {
        let client = try proxy.client()
        let body = TestUpstream.payload(5000)
        var wire = Array("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var offset = 0
        for size in [1, 16, 255, 4096, 632] {
            wire += Array("\(String(size, radix: 16));name=value\r\n".utf8) + body[offset..<(offset + size)] + [13, 10]
            offset += size
        }
        XCTAssertEqual(offset, body.count)
        wire += Array("0\r\nX-Checksum: abc\r\n\r\n".utf8)
        try client.send(wire)
        let response = try client.readFinalResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.body == body, "echoed body differs (\(response.body.count) bytes)")
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertTrue(request.chunked, "a chunked request of unknown length must stay chunked upstream")
        XCTAssertNil(request.header("content-length"))
        XCTAssertTrue(request.body == body, "upstream's copy differs (\(request.body.count) bytes)")
    }

    func test_post_chunkedBodySentInPieces_reachesUpstreamIntact() throws {
        let client = try proxy.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        usleep(50_000)
        try client.send("lo\r\n")
        usleep(50_000)
        try client.send("6\r\n world\r\n0\r\n\r\n")
        let response = try client.readFinalResponse()
        XCTAssertEqual(response.text, "hello world")
        XCTAssertEqual(upstream.waitForRequests(count: 1).first?.body, Array("hello world".utf8))
    }

    func test_post_bodyStreamed_upstreamSeesHeadBeforeBodyIsComplete() throws {
        let client = try proxy.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nfirst")
        XCTAssertTrue(
            waitUntil(timeout: 10) { upstream.headTargets == ["/echo"] }, "the proxy held the head back for the body")
        XCTAssertTrue(upstream.requests.isEmpty)
        try client.send("-last")
        XCTAssertEqual(try client.readFinalResponse().text, "first-last")
    }

    func test_post_8MiBUpload_reachesUpstreamIntact() throws {
        let client = try proxy.client()
        let body = TestUpstream.payload(8 << 20)
        try client.send(Array("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let response = try client.readFinalResponse(timeout: 60)
        XCTAssertEqual(response.body.count, body.count)
        XCTAssertTrue(response.body == body, "echoed body differs")
        XCTAssertTrue(upstream.waitForRequests(count: 1).first?.body == body, "upstream's copy differs")
    }

    func test_response_slowReader_largeBodyArrivesIntactAfterBackpressure() throws {
        let client = try proxy.client()
        let n = 8 << 20
        try client.send(httpRequest("GET", "/bytes/\(n)"))
        usleep(500_000)  // socket buffers fill; the proxy has to stop reading the upstream
        let response = try client.readFinalResponse(timeout: 60)
        XCTAssertEqual(response.body.count, n)
        XCTAssertTrue(response.body == TestUpstream.payload(n))
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/after")).text, "ok")
    }

    func test_response_chunked_reachesClientWithSameBytes() throws {
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/chunked/100000"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body.count, 100_000)
        XCTAssertTrue(response.body == TestUpstream.payload(100_000))
    }

    func test_response_contentLengthLarge_reachesClientWithSameBytesAndLength() throws {
        let client = try proxy.client()
        let n = 3_000_000
        let response = try client.roundTrip(httpRequest("GET", "/bytes/\(n)"), timeout: 30)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("content-length"), String(n))
        XCTAssertFalse(response.chunked)
        XCTAssertTrue(response.body == TestUpstream.payload(n))
    }

    func test_response_untilClose_reachesClientChunkedToHTTP11() throws {
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/until-close"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "body until close")
        XCTAssertTrue(response.chunked, "re-framed so the client connection can stay open")
    }

    func test_response_drip_firstChunkArrivesLongBeforeTheLast() throws {
        let client = try proxy.client()
        try client.send(httpRequest("GET", "/drip/3/500"))
        let deadline = Date().addingTimeInterval(15)
        let head = try client.reader.readHead(deadline: deadline)
        XCTAssertTrue(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        // The first tick arrives while the upstream still holds back the rest.
        while ByteStreamReader.find(Array("tick".utf8), in: client.reader.buffer) == nil {
            XCTAssertTrue(try client.reader.fill(deadline: deadline, what: "the first tick"))
        }
        let firstAt = Date()
        let body = try client.reader.readChunkedBody(deadline: deadline).body
        let lastAt = Date()
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "tick\ntick\ntick\n")
        XCTAssertGreaterThanOrEqual(
            lastAt.timeIntervalSince(firstAt), 0.5, "the response was buffered instead of streamed")
    }

    func test_http10Client_chunkedUpstream_getsCloseDelimitedBodyAndClose() throws {
        let client = try proxy.client()
        try client.send("GET /chunked/3000 HTTP/1.0\r\nHost: h\r\n\r\n")
        let response = try client.readFinalResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertFalse(response.chunked, "HTTP/1.0 clients do not understand chunked")
        XCTAssertTrue(response.body == TestUpstream.payload(3000))
        XCTAssertTrue(client.waitForClose(timeout: 5))
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.version, "HTTP/1.1")
    }

    func test_http10Client_keepAlive_connectionReused() throws {
        let client = try proxy.client()
        let first = try client.roundTrip("GET /bytes/10 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.body.count, 10)
        XCTAssertTrue(first.connectionTokens.contains("keep-alive"))
        let second = try client.roundTrip("GET /bytes/20 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(second.body.count, 20)
    }

    func test_expect100Continue_clientGetsContinueBeforeSendingBody() throws {
        let client = try proxy.client()
        try client.send(
            "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse(timeout: 10)
        XCTAssertEqual(interim.status, 100)
        try client.send("hello")
        let response = try client.readFinalResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "hello")
        XCTAssertEqual(upstream.waitForRequests(count: 1).first?.body, Array("hello".utf8))
    }

    func test_statusCodes_passThroughWithBodies() throws {
        let client = try proxy.client()
        for status in [200, 201, 301, 404, 500, 503] {
            let response = try client.roundTrip(httpRequest("GET", "/status/\(status)"))
            XCTAssertEqual(response.status, status)
            XCTAssertEqual(response.text, "status \(status)")
            XCTAssertEqual(response.header("x-status"), String(status))
        }
    }
}
