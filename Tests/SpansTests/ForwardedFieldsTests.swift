import XCTest

@testable import Spans

/// RFC 7239 `Forwarded` and the X-Forwarded-* fields as `server.address` and `client.address` read
/// them (the first element is the one nearest the original client).
final class ForwardedFieldsTests: XCTestCase {
    private func bytes(_ s: String) -> ArraySlice<UInt8> { Array(s.utf8)[...] }
    private func text(_ b: ArraySlice<UInt8>?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

    func test_host_xForwardedHostFirst_thenForwardedHost() {
        XCTAssertEqual(
            text(ForwardedFields.host(bytes(" a.example:8443 , b"), forwarded: bytes("host=c"))), "a.example:8443")
        XCTAssertEqual(
            text(ForwardedFields.host(nil, forwarded: bytes(#"for=192.0.2.60;proto=http;Host="c.example", for=x"#))),
            "c.example")
        XCTAssertNil(ForwardedFields.host(nil, forwarded: bytes("for=1.2.3.4")))
    }

    func test_client_forwardedForFirst_portAndBracketsDropped() {
        XCTAssertEqual(
            text(ForwardedFields.client(bytes("9.9.9.9"), forwarded: bytes(#"for="[2001:db8:cafe::17]:4711""#))),
            "2001:db8:cafe::17")
        XCTAssertEqual(text(ForwardedFields.client(bytes("203.0.113.7, 10.0.0.1"), forwarded: nil)), "203.0.113.7")
        XCTAssertEqual(text(ForwardedFields.client(nil, forwarded: bytes("For=192.0.2.43:80"))), "192.0.2.43")
    }

    func test_splitHostPort() {
        XCTAssertEqual(text(ForwardedFields.splitHostPort(bytes("[::1]:8080"))?.host), "::1")
        XCTAssertEqual(ForwardedFields.splitHostPort(bytes("[::1]:8080"))?.port, 8080)
        XCTAssertEqual(text(ForwardedFields.splitHostPort(bytes("2001:db8::1"))?.host), "2001:db8::1")
        XCTAssertNil(ForwardedFields.splitHostPort(bytes("a:99999"))?.port)
        XCTAssertEqual(text(ForwardedFields.splitHostPort(bytes("a.example"))?.host), "a.example")
    }
}
