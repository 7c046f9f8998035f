import Foundation
import TestSupport
import TraceView
import XCTest

@testable import Proxy

/// The trace view through the real admin listener: spans of proxied requests reach the API via
/// the pipeline, the page carries its security headers, and with the view off nothing of it answers.
final class TraceViewEndpointTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws { upstream = try TestUpstream() }
    override func tearDown() { upstream.stop() }

    private func admin(_ proxy: RunningProxy, _ target: String, method: String = "GET") throws
        -> RawHTTPClient.Response
    {
        let client = try RawHTTPClient(port: try XCTUnwrap(proxy.adminPort))
        return try client.roundTrip(httpRequest(method, target), toHEAD: method == "HEAD")
    }

    func test_viewOn_apiShowsProxiedRequests_andPageHasSecurityHeaders() throws {
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) {
            $0.admin = HostPort(host: "127.0.0.1", port: 0)
            $0.traceView = true
        }
        let client = try proxy.client()
        for target in ["/users/1", "/users/2", "/status/503"] { _ = try client.roundTrip(httpRequest("GET", target)) }
        // The pipeline flushes every 50 ms here: wait (bounded) for the three spans.
        var spans: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(10)
        while spans.count < 3 && Date() < deadline {
            let body = try admin(proxy, "/api/spans").body
            spans =
                (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["spans"] as? [[String: Any]]
                ?? []
            if spans.count < 3 { usleep(20_000) }
        }
        XCTAssertEqual(spans.map { $0["status"] as? Int }, [503, 200, 200])
        XCTAssertEqual(spans.first?["error"] as? Bool, true)
        let failed = try admin(proxy, "/api/spans?status=5xx")
        XCTAssertEqual(
            ((try JSONSerialization.jsonObject(with: Data(failed.body)) as? [String: Any])?["spans"] as? [Any])?.count,
            1)
        let trace = try XCTUnwrap(spans.first?["trace_id"] as? String)
        let one = try admin(proxy, "/api/traces/" + trace)
        XCTAssertEqual(one.status, 200)
        let page = try admin(proxy, "/traces")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("x-content-type-options"), "nosniff")
        XCTAssertTrue(page.header("content-security-policy")?.contains("script-src 'self'") ?? false)
        XCTAssertTrue(page.text.contains("/traces.js"))
        let head = try admin(proxy, "/traces.js", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("content-length"), "\(TraceViewAssets.script.utf8.count)")
        let root = try admin(proxy, "/")
        XCTAssertEqual(root.status, 302)
        XCTAssertEqual(root.header("location"), "/traces")
        let metrics = try admin(proxy, "/metrics").text
        XCTAssertTrue(metrics.contains("traceproxy_trace_view_spans 3\n"), metrics)
        XCTAssertTrue(metrics.contains("# TYPE traceproxy_request_duration_seconds histogram"))
        XCTAssertTrue(
            metrics.contains("traceproxy_request_duration_seconds_count{route=\"GET /status/{id}\",code=\"5xx\"} 1"))
        XCTAssertEqual(try admin(proxy, "/healthz").status, 200)
    }

    func test_viewOff_pageAndAPIAre404() throws {
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port) {
            $0.admin = HostPort(host: "127.0.0.1", port: 0)
        }
        for target in ["/", "/traces", "/api/spans", "/api/routes"] {
            XCTAssertEqual(try admin(proxy, target).status, 404, target)
        }
        XCTAssertFalse(try admin(proxy, "/metrics").text.contains("trace_view"))
    }
}
