import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// `Upgrade: websocket`: the 101 is relayed with its Upgrade fields and the connection becomes a
/// byte tunnel in both directions (RFC 9110 section 7.8).
final class UpgradeTests: XCTestCase {
    func test_websocketUpgrade_101RelayedThenBytesTunnelledBothWays() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port)
        let client = try proxy.client()
        let response = try client.roundTrip(
            httpRequest(
                "GET", "/upgrade",
                headers: [
                    ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ]))
        XCTAssertEqual(response.status, 101)
        XCTAssertEqual(response.header("upgrade")?.lowercased(), "websocket")
        XCTAssertTrue(response.connectionTokens.contains("upgrade"))
        XCTAssertEqual(response.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.header("upgrade")?.lowercased(), "websocket")
        XCTAssertTrue(request.values("connection").joined().lowercased().contains("upgrade"))
        XCTAssertEqual(request.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==")

        // Binary frames, including bytes that look like HTTP, come back unchanged.
        let deadline = Date().addingTimeInterval(10)
        for message in [[0x81, 0x02, 0x68, 0x69] as [UInt8], Array("GET / HTTP/1.1\r\n\r\n".utf8), [0, 255, 13, 10]] {
            try client.send(message)
            let echoed = try client.reader.read(count: message.count, deadline: deadline)
            XCTAssertEqual(echoed, message)
        }
        // A half-close travels through: the upstream's echo loop ends and closes.
        client.shutdownWrite()
        XCTAssertTrue(client.waitForClose(timeout: 10), "the tunnel did not pass the EOF along")
    }

    /// A 101 the client never asked for leaves a stream the proxy cannot frame: 502, not a stall.
    func test_unrequested101_answered502() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port)
        let client = try proxy.client()
        let response = try client.roundTrip(httpRequest("GET", "/upgrade"))
        XCTAssertEqual(response.status, 502)
    }
}
