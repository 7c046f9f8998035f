import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// The admin listener answers /healthz and /metrics itself, never via the upstream.
final class AdminEndpointTests: XCTestCase {
    private var upstream: TestUpstream!
    private var proxy: RunningProxy!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        proxy = try ProxyHarness.start(upstreamPort: upstream.port) {
            $0.admin = HostPort(host: "127.0.0.1", port: 0)
        }
    }

    override func tearDown() {
        upstream.stop()
    }

    private func admin(_ target: String) throws -> RawHTTPClient.Response {
        let client = try RawHTTPClient(port: try XCTUnwrap(proxy.adminPort))
        return try client.roundTrip(httpRequest("GET", target))
    }

    func test_healthz_200() throws {
        let response = try admin("/healthz")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "ok\n")
        XCTAssertTrue(upstream.requests.isEmpty)
    }

    func test_healthzHead_200WithoutBody() throws {
        let client = try RawHTTPClient(port: try XCTUnwrap(proxy.adminPort))
        let response = try client.roundTrip(httpRequest("HEAD", "/healthz"), toHEAD: true)
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        XCTAssertTrue(client.reader.buffer.isEmpty, "HEAD answered with a body")
    }

    func test_unknownPath_404() throws {
        XCTAssertEqual(try admin("/nope").status, 404)
    }

    func test_metrics_prometheusTextCountsProxiedRequests() throws {
        let client = try proxy.client()
        for target in ["/a", "/b", "/status/404"] { _ = try client.roundTrip(httpRequest("GET", target)) }
        let response = try admin("/metrics")
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.header("content-type")?.hasPrefix("text/plain") ?? false)
        let samples = try parsePrometheus(response.text)
        XCTAssertEqual(samples["traceproxy_requests_total{code=\"2xx\"}"], 2)
        XCTAssertEqual(samples["traceproxy_requests_total{code=\"4xx\"}"], 1)
        XCTAssertEqual(samples["traceproxy_accepted_connections_total"], 1)
        XCTAssertEqual(samples["traceproxy_open_connections"], 1)
        XCTAssertNotNil(samples["traceproxy_upstream_errors_total{kind=\"connect\"}"])
    }

    /// Series -> value, checking every line against the text format 0.0.4 grammar on the way.
    private func parsePrometheus(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        var typed = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                XCTAssertEqual(parts.count, 4, "bad TYPE line \(line)")
                XCTAssertTrue(["counter", "gauge"].contains(parts.last ?? ""), "bad type \(line)")
                typed.insert(String(parts[2]))
                continue
            }
            if line.hasPrefix("#") { continue }
            let space = try XCTUnwrap(line.lastIndex(of: " "), "sample without value: \(line)")
            let series = String(line[..<space])
            let value = try XCTUnwrap(Double(line[line.index(after: space)...]), "bad value: \(line)")
            let name = series.split(separator: "{").first.map(String.init) ?? series
            XCTAssertTrue(typed.contains(name), "sample \(name) before its TYPE line")
            samples[series] = value
        }
        return samples
    }
}
