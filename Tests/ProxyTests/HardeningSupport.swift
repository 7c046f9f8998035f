import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// Helpers the hardening tests share: /metrics as numbers, Zipkin spans as JSON, and the "a good
/// request on a fresh connection still works" check every fault test ends with.
enum Hardening {
    /// Starts a proxy with an admin listener and a Zipkin reporter to `collector`.
    static func start(
        upstreamPort: UInt16, collector: HTTPCollector?, _ configure: (inout ProxyConfig) -> Void = { _ in }
    ) throws -> RunningProxy {
        try ProxyHarness.start(upstreamPort: upstreamPort) {
            $0.admin = HostPort(host: "127.0.0.1", port: 0)
            if let collector { $0.reporters = [reporterTarget(collector.url())] }
            configure(&$0)
        }
    }

    /// The admin /metrics samples, series text (with labels) -> value.
    static func metrics(_ proxy: RunningProxy) throws -> [String: Double] {
        let client = try RawHTTPClient(port: try XCTUnwrap(proxy.adminPort))
        let response = try client.roundTrip(httpRequest("GET", "/metrics"))
        XCTAssertEqual(response.status, 200)
        var samples: [String: Double] = [:]
        for line in response.text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    static func metric(_ proxy: RunningProxy, _ series: String) throws -> Double {
        try metrics(proxy)[series] ?? 0
    }

    /// Every span the collector received so far.
    static func spans(_ collector: HTTPCollector) -> [[String: Any]] {
        collector.requests.flatMap { spanObjects($0.body) }
    }

    /// Waits for the span whose `http.path` tag is `path`.
    static func span(path: String, in collector: HTTPCollector, timeout: TimeInterval = 10) -> [String: Any]? {
        var found: [String: Any]?
        _ = waitUntil(timeout: timeout) {
            found = spans(collector).first { ($0["tags"] as? [String: String])?["http.path"] == path }
            return found != nil
        }
        return found
    }

    static func tags(_ span: [String: Any]?) -> [String: String] {
        span?["tags"] as? [String: String] ?? [:]
    }

    /// The error.kind the proxy logged on the span (Zipkin annotations carry the log fields).
    static func annotations(_ span: [String: Any]?) -> [String] {
        (span?["annotations"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }
    }

    /// A fresh connection still gets a 200 from the upstream behind `proxy`.
    static func assertServesGoodRequest(
        _ proxy: RunningProxy, target: String = "/good", file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let client = try proxy.client()
            let response = try client.roundTrip(httpRequest("GET", target), timeout: 10)
            XCTAssertEqual(response.status, 200, "next good request", file: file, line: line)
        } catch {
            XCTFail("next good request failed: \(error)", file: file, line: line)
        }
    }

    /// Median of `values` (sorted copy).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
