import Spans
import XCTest

/// Route templates: one segment per `{param}`, the rest for a last `*`, first match wins.
final class RouteTableTests: XCTestCase {
    private func match(_ table: RouteTable, _ path: String) -> String? { table.match(Array(path.utf8)[...]) }

    func test_parametersAndRest_firstMatchWins() throws {
        let table = try RouteTable(["/users/{id}/orders", "/users/{id}", "/files/*", "/users/me"])
        XCTAssertEqual(match(table, "/users/42/orders"), "/users/{id}/orders")
        XCTAssertEqual(match(table, "/users/42"), "/users/{id}")
        XCTAssertEqual(match(table, "/users/me"), "/users/{id}", "declared order, not specificity")
        XCTAssertEqual(match(table, "/files/a/b/c.txt"), "/files/*")
        XCTAssertNil(match(table, "/users/"), "a parameter needs a non-empty segment")
        XCTAssertNil(match(table, "/users/42/orders/7"))
        XCTAssertNil(match(table, "/other"))
    }

    /// The in-place matcher agrees with matching split segments (the obvious form) on paths
    /// built from a few pieces, empty segments and trailing slashes included.
    func test_match_agreesWithSplitSegments() throws {
        let routes = ["/", "/a", "/a/", "/{x}", "/a/{x}", "/a/{x}/b", "/{x}/{y}", "/a/*", "/*", "/{x}/b/*", "/a//b"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0...4, using: &rng)
            let path =
                "/" + (0..<n).map { _ in ["a", "b", "", "cc"].randomElement(using: &rng)! }.joined(separator: "/")
            for route in routes {
                let table = try RouteTable([route])
                XCTAssertEqual(match(table, path), Self.reference(route, path), "\(route) against \(path)")
            }
        }
    }

    private static func reference(_ route: String, _ path: String) -> String? {
        let template = route.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        var i = 0
        for t in template {
            if t == "*" { return route }
            guard i < segments.count else { return nil }
            if t.hasPrefix("{") {
                if segments[i].isEmpty { return nil }
            } else if t != segments[i] {
                return nil
            }
            i += 1
        }
        return i == segments.count ? route : nil
    }

    func test_badTemplates_refused() {
        for route in ["users", "/a?b", "/a/*/b", "/a/{id", "/a b"] {
            XCTAssertThrowsError(try RouteTable([route]), route)
        }
    }

    func test_spanNameAndRouteTag() throws {
        var process = ServiceProcess(serviceName: "s")
        process.spanFacts.routes = try RouteTable(["/users/{id}/orders"])
        let record = SpanRecord(
            traceID: .init(high: 1, low: 2), spanID: .init(3), startMicros: 1, durationMicros: 1,
            target: "/users/7/orders?x=1")
        var rendered = RenderedSpan()
        rendered.render(record, process: process)
        XCTAssertEqual(String(decoding: rendered.text[rendered.name], as: UTF8.self), "GET /users/{id}/orders")
        XCTAssertTrue(rendered.tags.contains { $0.key == "http.route" })
        rendered.render(
            SpanRecord(
                traceID: .init(high: 1, low: 2), spanID: .init(3), startMicros: 1, durationMicros: 1,
                target: "/orders/123"),
            process: process)
        XCTAssertEqual(String(decoding: rendered.text[rendered.name], as: UTF8.self), "GET /orders/{id}", "id collapse")
        XCTAssertFalse(rendered.tags.contains { $0.key == "http.route" })
    }
}
