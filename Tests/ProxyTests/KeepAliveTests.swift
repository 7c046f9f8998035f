import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// Persistent client connections, pipelining, upstream connection reuse, bodiless responses.
final class KeepAliveTests: XCTestCase {
    private var upstream: TestUpstream!
    private var proxy: RunningProxy!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        proxy = try ProxyHarness.start(upstreamPort: upstream.port)
    }

    override func tearDown() {
        upstream.stop()
    }

    func test_tenSequentialRequests_oneClientConnection_allAnsweredOverFewUpstreamConnections() throws {
        let client = try proxy.client()
        for i in 0..<10 {
            let response = try client.roundTrip(httpRequest("GET", "/bytes/\(i * 100)"))
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.body == TestUpstream.payload(i * 100), "request \(i)")
            XCTAssertFalse(response.connectionTokens.contains("close"))
        }
        let requests = upstream.waitForRequests(count: 10)
        XCTAssertEqual(requests.map(\.target), (0..<10).map { "/bytes/\($0 * 100)" })
        XCTAssertLessThanOrEqual(
            Set(requests.map(\.connectionIndex)).count, 2, "upstream connections are not reused")
    }

    func test_requestsFromTwoClientConnections_shareAPooledUpstreamConnection() throws {
        let first = try proxy.client()
        XCTAssertEqual(try first.roundTrip(httpRequest("GET", "/a")).status, 200)
        let second = try proxy.client()
        XCTAssertEqual(try second.roundTrip(httpRequest("GET", "/b")).status, 200)
        let requests = upstream.waitForRequests(count: 2)
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests.first?.connectionIndex, requests.last?.connectionIndex)
    }

    func test_pooledUpstreamConnectionClosedByUpstream_nextRequestStillServed() throws {
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/then-drop")).text, "ok")
        usleep(200_000)  // the upstream has closed the idle connection by now
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/after")).text, "ok")
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/then-drop")).text, "ok")
        // No pause this time: the request may race the upstream's close; a retry must cover it.
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/raced")).text, "ok")
        XCTAssertEqual(
            upstream.waitForRequests(count: 4).map(\.target), ["/then-drop", "/after", "/then-drop", "/raced"])
    }

    func test_pipelinedRequests_slowFirst_answeredInOrder() throws {
        let client = try proxy.client()
        let batch =
            httpRequest("GET", "/slow/300") + httpRequest("HEAD", "/bytes/50")
            + httpRequest("POST", "/echo", body: "pipelined body") + httpRequest("GET", "/status/201")
            + httpRequest("GET", "/chunked/70")
        try client.send(batch)
        let slow = try client.readFinalResponse()
        XCTAssertEqual(slow.text, "slow")
        let head = try client.readFinalResponse(toHEAD: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("content-length"), "50")
        let post = try client.readFinalResponse()
        XCTAssertEqual(post.text, "pipelined body")
        let created = try client.readFinalResponse()
        XCTAssertEqual(created.status, 201)
        let chunked = try client.readFinalResponse()
        XCTAssertTrue(chunked.body == TestUpstream.payload(70))
        XCTAssertTrue(client.staysQuiet(for: 0.2), "bytes after the last response: a HEAD body leaked?")
        XCTAssertEqual(
            upstream.waitForRequests(count: 5).map(\.target),
            ["/slow/300", "/bytes/50", "/echo", "/status/201", "/chunked/70"])
    }

    func test_head_noBodyAndConnectionStaysUsable() throws {
        let client = try proxy.client()
        let head = try client.roundTrip(httpRequest("HEAD", "/bytes/1234"), toHEAD: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("content-length"), "1234", "HEAD keeps the GET's Content-Length")
        XCTAssertTrue(client.staysQuiet(for: 0.2), "HEAD response carried a body")
        let next = try client.roundTrip(httpRequest("GET", "/bytes/3"))
        XCTAssertEqual(next.body, TestUpstream.payload(3))
    }

    func test_headOfChunkedResource_noBodyAndConnectionStaysUsable() throws {
        let client = try proxy.client()
        let head = try client.roundTrip(httpRequest("HEAD", "/chunked/500"), toHEAD: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(client.staysQuiet(for: 0.2), "HEAD response carried a body")
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/x")).text, "ok")
    }

    func test_204And304_noBodyAndConnectionStaysUsable() throws {
        let client = try proxy.client()
        for status in [204, 304] {
            let response = try client.roundTrip(httpRequest("GET", "/status/\(status)"))
            XCTAssertEqual(response.status, status)
            XCTAssertNil(response.header("transfer-encoding"), "\(status) must not be chunked")
            XCTAssertTrue(client.staysQuiet(for: 0.2), "\(status) response carried a body")
        }
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/x")).text, "ok")
    }

    func test_clientConnectionClose_answeredThenClosed() throws {
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/x", headers: [("Connection", "close")]))
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.connectionTokens.contains("close"))
        XCTAssertTrue(client.waitForClose(timeout: 5))
    }

    func test_clientHalfCloseAfterRequest_stillAnswered() throws {
        let client = try proxy.client()
        try client.send(httpRequest("GET", "/slow/100"))
        client.shutdownWrite()
        let response = try client.readFinalResponse()
        XCTAssertEqual(response.text, "slow")
        XCTAssertTrue(client.waitForClose(timeout: 5))
    }
}
