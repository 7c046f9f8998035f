import Propagation
import XCTest

@testable import TraceView

func span(
    _ n: Int, route: String = "GET /a", status: Int = 200, error: Bool = false, start: Int64? = nil,
    duration: Int64 = 1000, trace: UInt64? = nil, parent: UInt64 = 0, path: String? = nil
) -> StoredSpan {
    StoredSpan(
        traceID: TraceID(high: 1, low: trace ?? UInt64(n)), spanID: SpanID(UInt64(n) + 1),
        parentSpanID: SpanID(parent), name: route, method: "GET", path: path ?? "/a/\(n)", status: status,
        isError: error, startMicros: start ?? 1_000_000 + Int64(n) * 1000, durationMicros: duration)
}

final class SpanStoreTests: XCTestCase {
    /// Bytes must equal what the spans held (each once) account for.
    private func assertAccounting(_ store: SpanStore, file: StaticString = #filePath, line: UInt = #line) {
        let all = store.all
        XCTAssertEqual(store.count, all.count, file: file, line: line)
        XCTAssertEqual(store.bytes, all.map(\.approxBytes).reduce(0, +), file: file, line: line)
    }

    func test_recentRing_isBoundedAndKeepsTheNewest() {
        var store = SpanStore(.init(capacity: 100, slowPerRoute: 1))
        for i in 0..<1000 { store.insert(span(i)) }
        XCTAssertEqual(store.inserted, 1000)
        // 100 recent, plus the one slowest of the route (all equal: the first one stays).
        XCTAssertEqual(store.count, 101)
        let newest = store.query(SpanFilter(limit: 100)).map(\.spanID.value)
        XCTAssertEqual(newest, (900..<1000).reversed().map { UInt64($0) + 1 })
        assertAccounting(store)
    }

    func test_failedSpans_outliveTheRecentRing() {
        var store = SpanStore(.init(capacity: 50, errorCapacity: 10))
        for i in 0..<500 { store.insert(span(i, status: i % 50 == 0 ? 502 : 200, error: i % 50 == 0)) }
        let failed = store.query(SpanFilter(status: .error))
        // All ten failures, though only the last one is still among the 50 recent.
        XCTAssertEqual(failed.map(\.spanID.value), stride(from: 450, through: 0, by: -50).map { UInt64($0) + 1 })
        XCTAssertEqual(store.query(SpanFilter(status: .serverError)).count, 10)
        // The error ring is bounded too.
        for i in 500..<600 { store.insert(span(i, status: 500, error: true)) }
        // 50 recent (all failed; the error ring's 10 are among them) and span 0, a failure kept
        // as the route's slowest (the first of equals).
        XCTAssertEqual(store.query(SpanFilter(status: .error, limit: 1000)).count, 51)
        assertAccounting(store)
    }

    func test_slowestPerRoute_outliveTheRecentRing_withinTheWindow() {
        var store = SpanStore(.init(capacity: 20, slowPerRoute: 3, slowWindowMicros: 10_000_000))
        // Route /a: one slow span (i == 5, 900 ms) among fast ones; /b: two slow ones.
        for i in 0..<200 {
            let route = i % 2 == 0 ? "GET /a" : "GET /b"
            let slow = i == 6 || i == 11 || i == 13
            store.insert(span(i, route: route, duration: slow ? 900_000 : 1000))
        }
        let slowA = store.query(SpanFilter(route: "GET /a", minDurationMicros: 100_000))
        XCTAssertEqual(slowA.map(\.spanID.value), [7])
        let slowB = store.query(SpanFilter(route: "GET /b", minDurationMicros: 100_000))
        XCTAssertEqual(slowB.map(\.spanID.value), [14, 12])
        // A slower span replaces the fastest of a full list.
        store.insert(span(300, route: "GET /a", duration: 950_000))
        XCTAssertEqual(store.query(SpanFilter(route: "GET /a", minDurationMicros: 100_000)).count, 2)
        // Past the window (10 s after them) the slow ones give way to newer spans.
        store.insert(span(400, route: "GET /a", start: 30_000_000))
        XCTAssertEqual(
            store.query(SpanFilter(route: "GET /a", minDurationMicros: 100_000)).map(\.spanID.value), [301])
        store.insert(span(401, route: "GET /a", start: 30_000_000))
        for i in 402..<430 { store.insert(span(i, route: "GET /a", start: 30_000_000 + Int64(i))) }
        XCTAssertEqual(store.query(SpanFilter(route: "GET /a", minDurationMicros: 100_000)).count, 0)
        assertAccounting(store)
    }

    func test_slowLists_areBoundedByRoute() {
        var store = SpanStore(.init(capacity: 10, slowPerRoute: 2, maxRoutes: 4))
        for i in 0..<1000 { store.insert(span(i, route: "GET /r\(i)")) }
        // 10 recent + 4 routes x 2 + (other) x 2, some shared with the recent ring.
        XCTAssertLessThanOrEqual(store.count, 10 + 5 * 2)
        assertAccounting(store)
    }

    func test_filters_combine() {
        var store = SpanStore(.init(capacity: 100))
        store.insert(span(1, route: "GET /a", status: 200, duration: 5000, trace: 0xAB))
        store.insert(span(2, route: "GET /a", status: 404, duration: 50_000, trace: 0xAC))
        store.insert(span(3, route: "POST /b", status: 503, error: true, duration: 500, trace: 0xAD))
        store.insert(span(4, route: "GET /a", status: 0, error: true, duration: 70_000, trace: 0xAE))
        func ids(_ f: SpanFilter) -> [UInt64] { store.query(f).map { $0.spanID.value - 1 } }
        XCTAssertEqual(ids(SpanFilter()), [4, 3, 2, 1])
        XCTAssertEqual(ids(SpanFilter(route: "GET /a")), [4, 2, 1])
        XCTAssertEqual(ids(SpanFilter(status: .clientError)), [2])
        XCTAssertEqual(ids(SpanFilter(status: .noStatus)), [4])
        XCTAssertEqual(ids(SpanFilter(status: .error)), [4, 3])
        XCTAssertEqual(ids(SpanFilter(route: "GET /a", minDurationMicros: 50_000)), [4, 2])
        XCTAssertEqual(
            ids(SpanFilter(traceIDPrefix: "0000000000000001" + String(repeating: "0", count: 14) + "a")), [4, 3, 2, 1])
        XCTAssertEqual(ids(SpanFilter(traceIDPrefix: TraceID(high: 1, low: 0xAD).hex32)), [3])
        XCTAssertEqual(ids(SpanFilter(limit: 2)), [4, 3])
    }

    func test_trace_returnsItsSpansEarliestFirst() {
        var store = SpanStore(.init(capacity: 100))
        store.insert(span(1, start: 2000, trace: 9, parent: 1))
        store.insert(span(2, start: 5000, trace: 8))
        store.insert(span(0, start: 1000, trace: 9))
        XCTAssertEqual(store.trace(TraceID(high: 1, low: 9)).map(\.spanID.value), [1, 2])
        XCTAssertTrue(store.trace(TraceID(high: 1, low: 7)).isEmpty)
    }

    func test_storedSpan_cutsLongText() {
        let long = String(repeating: "é", count: 1000)
        let s = StoredSpan(
            traceID: TraceID(high: 1, low: 1), spanID: SpanID(1), parentSpanID: .zero, name: long, method: "GET",
            path: long, status: 200, isError: false, startMicros: 0, durationMicros: 1)
        XCTAssertLessThanOrEqual(s.path.utf8.count, StoredSpan.maxValueBytes)
        XCTAssertTrue(s.path.hasSuffix("\u{2026}"))
        XCTAssertTrue(s.path.dropLast().allSatisfy { $0 == "é" })
        XCTAssertLessThan(s.approxBytes, 2000)
    }
}
