import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// The span-shaping options: `--span-kind`, `--no-collapse-ids` and `--no-traceresponse`.
final class SpanOptionsTests: XCTestCase {
    private var upstream: TestUpstream!
    private var collector: HTTPCollector!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        collector = try HTTPCollector()
    }

    override func tearDown() {
        upstream.stop()
        collector.stop()
    }

    /// One request through a proxy configured by `configure`; the span the collector received.
    private func span(
        for target: String, _ configure: @escaping (inout ProxyConfig) -> Void
    ) throws -> (span: [String: Any], response: RawHTTPClient.Response) {
        let url = collector.url()
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) {
            $0.reporters = [reporterTarget(url)]
            configure(&$0)
        }
        let response = try proxy.client().roundTrip(httpRequest("GET", target))
        var spans: [[String: Any]] = []
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                spans = self.collector.requests.flatMap { spanObjects($0.body) }
                return !spans.isEmpty
            })
        return (try XCTUnwrap(spans.first), response)
    }

    func test_spanKindClient_reportsClientSpan() throws {
        let (span, _) = try span(for: "/out") { $0.spanKind = .client }
        XCTAssertEqual(span["kind"] as? String, "CLIENT")
    }

    func test_defaultNaming_collapsesIDSegments() throws {
        let (span, _) = try span(for: "/users/12345/orders/3f2b1c9e-8d7a-4b6c-9e1f-0a2b3c4d5e6f?x=1") { _ in }
        XCTAssertEqual(span["name"] as? String, "GET /users/{id}/orders/{id}")
    }

    func test_noCollapseIDs_keepsPathSegments() throws {
        let (span, _) = try span(for: "/users/12345?x=1") { $0.collapsePathIDs = false }
        XCTAssertEqual(span["name"] as? String, "GET /users/12345")
    }

    func test_noTraceresponse_omitsHeader() throws {
        let (_, response) = try span(for: "/quiet") { $0.traceResponse = false }
        XCTAssertEqual(response.status, 200)
        XCTAssertNil(response.header("traceresponse"))
    }
}
