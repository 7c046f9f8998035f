import Foundation
import Propagation
import Reporters
import Spans
import Stats
import XCTest

@testable import TraceView

/// The API's routing, parameters and JSON, and the reporter that feeds the view, in memory.
final class TraceViewHTTPTests: XCTestCase {
    let now: Int64 = 1_800_000_000_000_000
    var view: TraceView!

    override func setUp() {
        let now = self.now
        view = TraceView(options: .init(spans: 100, uiURLTemplate: "http://jaeger:16686/trace/{trace_id}")) { now }
    }

    private func get(_ target: String, method: String = "GET") throws -> (TraceViewResponse, Any) {
        let r = try XCTUnwrap(TraceViewHTTP.respond(view: view, method: method, target: target))
        let json = r.contentType == "application/json" ? try JSONSerialization.jsonObject(with: Data(r.body)) : ""
        return (r, json)
    }

    func test_pagesAndSecurityHeaders() throws {
        for (path, type) in [
            ("/traces", "text/html"), ("/traces.js", "text/javascript"), ("/traces.css", "text/css"),
            ("/api/routes", "application/json"),
        ] {
            let r = try XCTUnwrap(TraceViewHTTP.respond(view: view, method: "GET", target: path))
            XCTAssertEqual(r.status, 200, path)
            XCTAssertTrue(r.contentType.hasPrefix(type), path)
            let headers = Dictionary(r.headers, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(headers["X-Content-Type-Options"], "nosniff")
            let csp = try XCTUnwrap(headers["Content-Security-Policy"])
            XCTAssertTrue(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"))
            XCTAssertFalse(csp.contains("unsafe-inline"))
        }
        let root = try XCTUnwrap(TraceViewHTTP.respond(view: view, method: "GET", target: "/"))
        XCTAssertEqual(root.status, 302)
        XCTAssertTrue(root.headers.contains { $0 == ("Location", "/traces") })
        XCTAssertNil(TraceViewHTTP.respond(view: view, method: "GET", target: "/metrics"))
        XCTAssertNil(TraceViewHTTP.respond(view: view, method: "GET", target: "/healthz"))
        XCTAssertEqual(TraceViewHTTP.respond(view: view, method: "OTHER", target: "/api/spans")?.status, 405)
        XCTAssertEqual(TraceViewHTTP.respond(view: view, method: "GET", target: "/api/nope")?.status, 404)
    }

    /// The page has no inline script or style (the CSP forbids them) and no HTML sink for data.
    func test_page_loadsItsScriptAndStyleFromFiles_andNeverUsesInnerHTML() {
        let html = TraceViewAssets.html
        XCTAssertTrue(html.contains("<script src=\"/traces.js\" defer></script>"))
        XCTAssertEqual(html.components(separatedBy: "<script").count, 2)
        XCTAssertFalse(html.contains("style=") || html.contains("<style") || html.contains(" on"))
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            XCTAssertFalse(TraceViewAssets.script.contains(sink), sink)
        }
    }

    func test_spans_filtersAndJSON() throws {
        view.add([
            span(1, route: "GET /a", status: 200, duration: 2000),
            span(2, route: "GET /b", status: 503, error: true, duration: 90_000, path: "/b/\"<script>\u{1}"),
        ])
        let (r, json) = try get("/api/spans?route=GET+%2Fb&status=5xx&min_ms=50&limit=10")
        XCTAssertEqual(r.status, 200)
        let body = try XCTUnwrap(json as? [String: Any])
        XCTAssertEqual(body["held"] as? Int, 2)
        XCTAssertEqual(body["capacity"] as? Int, 100)
        XCTAssertEqual(body["ui_url_template"] as? String, "http://jaeger:16686/trace/{trace_id}")
        let spans = try XCTUnwrap(body["spans"] as? [[String: Any]])
        XCTAssertEqual(spans.count, 1)
        let s = spans[0]
        XCTAssertEqual(s["trace_id"] as? String, TraceID(high: 1, low: 2).hex32)
        XCTAssertEqual(s["span_id"] as? String, "0000000000000003")
        XCTAssertTrue(s["parent_id"] is NSNull)
        XCTAssertEqual(s["name"] as? String, "GET /b")
        XCTAssertEqual(s["path"] as? String, "/b/\"<script>\u{1}", "escaped in JSON, decoded back as it was")
        XCTAssertEqual(s["status"] as? Int, 503)
        XCTAssertEqual(s["status_class"] as? String, "5xx")
        XCTAssertEqual(s["error"] as? Bool, true)
        XCTAssertEqual(s["duration_us"] as? Int, 90_000)
        func count(_ target: String) throws -> Int? {
            ((try get(target).1 as? [String: Any])?["spans"] as? [Any])?.count
        }
        XCTAssertEqual(try count("/api/spans?min_ms=100"), 0)
        XCTAssertEqual(try count("/api/spans?route="), 2)
        for bad in ["route=%zz", "status=6xx", "min_ms=-1", "min_ms=abc", "trace_id=xyz", "limit=0", "limit=5000"] {
            let (r, json) = try get("/api/spans?" + bad)
            XCTAssertEqual(r.status, 400, bad)
            XCTAssertNotNil((json as? [String: Any])?["error"] as? String, bad)
        }
    }

    func test_trace_waterfallFieldsAndUILink() throws {
        let id = TraceID(high: 1, low: 77)
        view.add([
            StoredSpan(
                traceID: id, spanID: SpanID(5), parentSpanID: SpanID(4), name: "GET /a", method: "GET", path: "/a",
                status: 200, isError: false, startMicros: now - 5000, durationMicros: 4000,
                upstreamConnectedMicros: 300, firstResponseByteMicros: 3000,
                tags: [
                    .init(key: "http.user_agent", value: .text("<img onerror=x>")), .init(key: "n", value: .long(3)),
                ],
                logs: [
                    .init(
                        timestampMicros: now - 4700, fields: [.init(key: "event", value: .text("upstream_connected"))])
                ]
            )
        ])
        let (r, json) = try get("/api/traces/" + id.hex32)
        XCTAssertEqual(r.status, 200)
        let body = try XCTUnwrap(json as? [String: Any])
        XCTAssertEqual(body["ui_url"] as? String, "http://jaeger:16686/trace/" + id.hex32)
        let s = try XCTUnwrap((body["spans"] as? [[String: Any]])?.first)
        XCTAssertEqual(s["parent_id"] as? String, "0000000000000004")
        XCTAssertEqual(s["upstream_connected_us"] as? Int, 300)
        XCTAssertEqual(s["first_response_byte_us"] as? Int, 3000)
        XCTAssertEqual(s["kind"] as? String, "server")
        let tags = try XCTUnwrap(s["tags"] as? [[String: Any]])
        XCTAssertEqual(tags[0]["value"] as? String, "<img onerror=x>")
        XCTAssertEqual(tags[1]["value"] as? Int, 3)
        let logs = try XCTUnwrap(s["logs"] as? [[String: Any]])
        XCTAssertEqual(logs.first?["timestamp_us"] as? Int, Int(now - 4700))
        // Upper case and the 64-bit form (zero-padded) find it too; other ids are 404 or 400.
        XCTAssertEqual(try get("/api/traces/" + id.hex32.uppercased()).0.status, 200)
        XCTAssertEqual(try get("/api/traces/000000000000004d").0.status, 404)
        XCTAssertEqual(try get("/api/traces/zz").0.status, 400)
        XCTAssertEqual(try get("/api/traces/" + String(repeating: "0", count: 32)).0.status, 400)
    }

    func test_routes_JSON() throws {
        view.add((0..<10).map { span($0, route: "GET /a", start: now - 2_000_000, duration: 10_000) })
        let (_, json) = try get("/api/routes")
        let body = try XCTUnwrap(json as? [String: Any])
        XCTAssertEqual(body["now_us"] as? Int, Int(now))
        let route = try XCTUnwrap((body["routes"] as? [[String: Any]])?.first)
        XCTAssertEqual(route["route"] as? String, "GET /a")
        let m = try XCTUnwrap(route["1m"] as? [String: Any])
        XCTAssertEqual(m["count"] as? Int, 10)
        XCTAssertEqual(m["error_rate"] as? Int, 0)
        let p50 = try XCTUnwrap(m["p50_us"] as? Int)
        XCTAssertEqual(Double(p50), 10_000, accuracy: 10_000 / 32)
        XCTAssertEqual((route["series"] as? [Any])?.count, RouteStatsTable.slotCount)
    }

    func test_decimal_isValidJSONForAnyDouble() throws {
        for d in [0, 0.1234, 1e-9, 123_456.0005, 1e20, -2.5, .nan, .infinity] {
            var out: [UInt8] = []
            TraceViewJSON.decimal(d, &out)
            let text = String(decoding: out, as: UTF8.self)
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8), options: [])
            XCTAssertNotNil(parsed, text)
        }
    }

    func test_metrics_gaugesAndHistogram() {
        let registry = MetricsRegistry()
        let view = TraceView(options: .init(spans: 10), metrics: registry) { 0 }
        view.add((0..<30).map { span($0) })
        let text = registry.render()
        XCTAssertTrue(text.contains("traceproxy_trace_view_spans 15\n"), text)  // 10 recent + 5 slowest
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_count{route=\"GET /a\",code=\"2xx\"} 30\n"))
        XCTAssertFalse(text.contains("traceproxy_trace_view_bytes 0\n"))
    }

    /// The reporter renders the proxy's record as the collectors see it and files it.
    func test_reporter_rendersRecordsIntoTheView() throws {
        var facts = SpanFacts(upstreamAddress: "127.0.0.1:9", upstreamHost: "up")
        facts.routes = try RouteTable(["/users/{id}"])
        let reporter = TraceViewReporter(view: view, process: ServiceProcess(serviceName: "t", spanFacts: facts))
        let record = SpanRecord(
            traceID: TraceID(high: 3, low: 4), spanID: SpanID(9), startMicros: now - 1000, durationMicros: 800,
            target: "/users/42?token=x", host: "example", userAgent: "<script>", status: 502,
            upstreamConnectedOffsetMicros: 100, firstResponseByteOffsetMicros: 600, errorKind: .upstreamReset)
        XCTAssertTrue(reporter.send([record]))
        let s = try XCTUnwrap(view.trace(TraceID(high: 3, low: 4)).first)
        XCTAssertEqual(s.name, "GET /users/{id}")
        XCTAssertEqual(s.path, "/users/42")
        XCTAssertEqual(s.status, 502)
        XCTAssertTrue(s.isError)
        XCTAssertEqual(s.upstreamConnectedMicros, 100)
        XCTAssertEqual(s.firstResponseByteMicros, 600)
        XCTAssertTrue(s.tags.contains(.init(key: "http.user_agent", value: .text("<script>"))))
        XCTAssertTrue(s.tags.contains(.init(key: "http.route", value: .text("/users/{id}"))))
        XCTAssertTrue(s.logs.contains { $0.fields.contains(.init(key: "event", value: .text("error"))) })
        XCTAssertEqual(view.routes().map(\.route), ["GET /users/{id}"])
    }
}
