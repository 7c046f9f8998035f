import XCTest

@testable import TraceView

/// The windows, the route bound and the Prometheus histogram, with times given by hand.
final class RouteStatsTests: XCTestCase {
    /// A wall-clock start that is not on a slot boundary.
    let t0: Int64 = 1_800_000_003_000_000

    /// A clock near the epoch (a test's) or a span ending before it: slot indices below zero must
    /// still find their place (this crashed with an out-of-range index before).
    func test_timesNearTheEpoch_areCountedWithoutCrashing() throws {
        var table = RouteStatsTable()
        table.record(route: "GET /a", endMicros: 1_000_000, durationMicros: 5000, status: 200, isError: false)
        table.record(route: "GET /a", endMicros: -45_000_000, durationMicros: 7000, status: 500, isError: true)
        let r = try XCTUnwrap(table.summaries(nowMicros: 2_000_000).first)
        XCTAssertEqual(r.series.count, RouteStatsTable.slotCount)
        XCTAssertEqual(r.last1m.count, 2)
        XCTAssertEqual(r.last1m.errors, 1)
        XCTAssertEqual(RouteStatsTable.place(ofSlot: -1), RouteStatsTable.slotCount - 1)
        XCTAssertEqual(RouteStatsTable.place(ofSlot: -31), RouteStatsTable.slotCount - 1)
        XCTAssertEqual(RouteStatsTable.place(ofSlot: 31), 1)
    }

    func test_windows_countRateErrorsAndPercentiles() throws {
        var table = RouteStatsTable()
        // 100 spans over the last 50 s: durations 1...100 ms, every tenth a failure.
        for i in 0..<100 {
            table.record(
                route: "GET /a", endMicros: t0 + Int64(i) * 500_000, durationMicros: Int64(i + 1) * 1000,
                status: i % 10 == 0 ? 502 : 200, isError: i % 10 == 0)
        }
        let now = t0 + 50_000_000
        let r = try XCTUnwrap(table.summaries(nowMicros: now).first)
        XCTAssertEqual(r.route, "GET /a")
        XCTAssertEqual(r.last1m.count, 100)
        XCTAssertEqual(r.last1m.errors, 10)
        XCTAssertEqual(r.last1m.errorRate, 0.1, accuracy: 1e-9)
        // p50 is 50 ms, p99 99 ms: within the bucket error.
        XCTAssertEqual(Double(try XCTUnwrap(r.last1m.p50)), 50_000, accuracy: 50_000 / 32)
        XCTAssertEqual(Double(try XCTUnwrap(r.last1m.p99)), 99_000, accuracy: 99_000 / 32)
        // The 1-minute window spans five whole slots and the part of the current one gone by.
        let covered = 5 * RouteStatsTable.slotMicros + now % RouteStatsTable.slotMicros
        XCTAssertEqual(r.last1m.coveredMicros, covered)
        XCTAssertEqual(r.last1m.rate, 100 / (Double(covered) / 1e6), accuracy: 1e-9)
        XCTAssertEqual(r.series.count, RouteStatsTable.slotCount)
        XCTAssertEqual(r.series.map(\.count).reduce(0, +), 100)
        XCTAssertEqual(r.series.last?.startMicros, now / RouteStatsTable.slotMicros * RouteStatsTable.slotMicros)
    }

    func test_windows_slide_oldSpansLeaveThe1mWindowThenThe5m() throws {
        var table = RouteStatsTable()
        table.record(route: "GET /a", endMicros: t0, durationMicros: 1000, status: 200, isError: false)
        func counts(at now: Int64) throws -> (Int, Int) {
            let r = try XCTUnwrap(table.summaries(nowMicros: now).first)
            return (r.last1m.count, r.last5m.count)
        }
        XCTAssertEqual(try counts(at: t0).0, 1)
        XCTAssertEqual(try counts(at: t0 + 50_000_000).0, 1)
        // Six slots later the span's slot has left the minute, not the five minutes.
        XCTAssertEqual(try counts(at: t0 + 61_000_000).0, 0)
        XCTAssertEqual(try counts(at: t0 + 61_000_000).1, 1)
        XCTAssertEqual(try counts(at: t0 + 301_000_000).1, 0)
        // A new span reuses the old slot of the ring; the old one is not counted again.
        table.record(
            route: "GET /a", endMicros: t0 + 300_000_000, durationMicros: 2000, status: 200, isError: false)
        XCTAssertEqual(try counts(at: t0 + 300_000_000).1, 1)
        // A span for a slot already reused (it arrived very late) stays out of the windows.
        table.record(route: "GET /a", endMicros: t0, durationMicros: 2000, status: 200, isError: false)
        XCTAssertEqual(try counts(at: t0 + 300_000_000).1, 1)
    }

    func test_routes_areBounded_laterOnesShareOther() {
        var table = RouteStatsTable(maxRoutes: 3)
        for i in 0..<10 {
            table.record(route: "GET /r\(i)", endMicros: t0, durationMicros: 10, status: 200, isError: false)
        }
        table.record(route: "GET /r1", endMicros: t0, durationMicros: 10, status: 200, isError: false)
        let names = table.summaries(nowMicros: t0).map(\.route)
        // Three by name, then one row for the rest.
        XCTAssertEqual(names, ["GET /r0", "GET /r1", "GET /r2", RouteStatsTable.otherRoute])
        XCTAssertEqual(table.summaries(nowMicros: t0).map(\.last1m.count), [1, 2, 1, 7])
    }

    func test_prometheus_cumulativeBucketsByRouteAndStatusClass() {
        var table = RouteStatsTable()
        XCTAssertEqual(table.renderPrometheus(), "")
        // 1 ms exactly is in le="0.001"; 1.001 ms is not.
        for (d, status) in [(1000, 200), (1001, 200), (30_000, 200), (20_000_000, 200), (500, 503)] {
            table.record(route: "GET \"/q\"", endMicros: t0, durationMicros: Int64(d), status: status, isError: false)
        }
        let text = table.renderPrometheus()
        let labels = "route=\"GET \\\"/q\\\"\",code=\"2xx\""
        XCTAssertTrue(text.contains("# TYPE traceproxy_request_duration_seconds histogram\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_bucket{\(labels),le=\"0.001\"} 1\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_bucket{\(labels),le=\"0.0025\"} 2\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_bucket{\(labels),le=\"0.05\"} 3\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_bucket{\(labels),le=\"10\"} 3\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} 4\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_sum{\(labels)} 20.032001\n"))
        XCTAssertTrue(text.contains("traceproxy_request_duration_seconds_count{\(labels)} 4\n"))
        XCTAssertTrue(text.contains("_count{route=\"GET \\\"/q\\\"\",code=\"5xx\"} 1\n"))
        XCTAssertFalse(text.contains("code=\"4xx\""), "no series for a class never seen")
    }
}
