import Foundation
import TestSupport
import XCTest

@testable import Proxy

#if canImport(Glibc)
    import Glibc
#endif

/// Secure defaults: loopback-only listeners unless told otherwise, and credentials never written
/// to the access log or to span tags (checked on what a real collector received and on the file).
final class SecretsTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    func test_defaults_adminAndListenerBindLoopback() throws {
        let config = ProxyConfig()
        XCTAssertEqual(config.admin?.host, "127.0.0.1")
        XCTAssertEqual(config.listen?.host, "127.0.0.1")
        // The binary resolves the same defaults from an empty command line.
        let process = Process()
        process.executableURL = try DrainTests.binaryURL()
        process.arguments = ["--upstream", "http://127.0.0.1:1", "--print-config"]
        process.environment = [:]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertTrue(output.contains("admin = 127.0.0.1:9901"), output)
        XCTAssertTrue(output.contains("listen = 127.0.0.1:8080"), output)
    }

    func test_adminListener_onlyOnLoopbackAddress() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) {
            $0.admin = ProxyConfig().admin.map { HostPort(host: $0.host, port: 0) }
        }
        let fd = try XCTUnwrap(proxy.server.adminListener?.fd)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        XCTAssertEqual(address.sin_addr.s_addr, inet_addr("127.0.0.1"), "admin bound beyond loopback")
    }

    func test_credentials_notInAccessLogOrSpans() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: logURL) }
        let logPath = logURL.path
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector) {
            $0.accessLog = logPath
        }
        let secrets = ["AUTHSECRET7f3a", "COOKIESECRET9b1c", "SETCOOKIESECRET4d2e", "PROXYAUTHSECRET5e6f"]
        let client = try proxy.client()
        let response = try client.roundTrip(
            httpRequest(
                "GET", "/set-cookie/\(secrets[2])",
                headers: [
                    ("Authorization", "Bearer \(secrets[0])"), ("Cookie", "sid=\(secrets[1])"),
                    ("Proxy-Authorization", "Basic \(secrets[3])"),
                ]))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("set-cookie"), "session=\(secrets[2]); HttpOnly", "Set-Cookie must pass through")
        // The upstream still gets the credentials it is meant to get.
        let forwarded = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(forwarded.header("authorization"), "Bearer \(secrets[0])")
        XCTAssertEqual(forwarded.header("cookie"), "sid=\(secrets[1])")
        // A second request whose target does not carry the Set-Cookie value, so the span and log
        // checks below are about header values only.
        XCTAssertEqual(
            try client.roundTrip(
                httpRequest("GET", "/plain", headers: [("Authorization", "Bearer \(secrets[0])")])
            ).status, 200)
        let span = Hardening.span(path: "/plain", in: collector)
        XCTAssertNotNil(span)
        let bodies = collector.requests.compactMap(\.body).map { String(decoding: $0, as: UTF8.self) }
        XCTAssertFalse(bodies.isEmpty)
        for secret in [secrets[0], secrets[1], secrets[3]] {
            XCTAssertFalse(bodies.contains { $0.contains(secret) }, "\(secret) in a Zipkin span")
        }
        let plainSpanText = String(
            decoding: try JSONSerialization.data(withJSONObject: span ?? [:]), as: UTF8.self)
        XCTAssertFalse(plainSpanText.contains(secrets[2]))
        var log = ""
        XCTAssertTrue(
            waitUntil(timeout: 5) {
                log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                return log.split(separator: "\n").count >= 2
            }, "access log lines missing: \(log)")
        for secret in [secrets[0], secrets[1], secrets[3]] {
            XCTAssertFalse(log.contains(secret), "\(secret) in the access log")
        }
        for line in log.split(separator: "\n") where line.contains("/plain") {
            XCTAssertFalse(line.contains(secrets[2]), "Set-Cookie value in the access log")
        }
    }
}
