import HTTP1
import Propagation
import Spans
import Stats
import XCTest

@testable import TraceView

/// The reporter keeps the proxy's records and renders them when the API asks: what it shows must
/// be what rendering at arrival showed, and the memory it holds must stay bounded and counted.
final class DeferredRenderingTests: XCTestCase {
    let now: Int64 = 1_800_000_000_000_000

    private func process(routes: [String] = [], captured: [String] = [], names: AttributeNames? = nil) throws
        -> ServiceProcess
    {
        var facts = SpanFacts(upstreamAddress: "127.0.0.1:9", upstreamHost: "up", attributeNames: names)
        facts.routes = try RouteTable(routes)
        facts.capturedRequestHeaders = captured
        facts.redactQuery = true
        return ServiceProcess(serviceName: "t", spanFacts: facts)
    }

    /// A record from a raw request head, as the proxy records it (TLS facts, captured response
    /// headers, trace state: what the test initializer of `SpanRecord` cannot give).
    private func record(
        _ head: String, n: UInt64, status: Int = 200, errorKind: SpanErrorKind? = nil, tls: TLSFacts? = nil,
        captured: [(name: String, value: String)] = []
    ) throws -> SpanRecord {
        var parser = HTTPParser(kind: .request)
        let parsed = try Array(head.utf8).withUnsafeBytes { try parser.next($0).event }
        guard case .head(let h)? = parsed else { throw XCTSkip("not a head") }
        return SpanRecord(
            head: h,
            context: OutgoingContext(
                traceID: TraceID(high: 7, low: n), spanID: SpanID(n), parentSpanID: SpanID(99), sampled: true,
                debug: false, traceState: "k=v"),
            kind: .server, startMicros: now + Int64(n), durationMicros: 1000 + Int64(n),
            upstreamConnectedOffsetMicros: 10, firstResponseByteOffsetMicros: 500, status: status,
            requestBodyBytes: 3, responseBodyBytes: 4, peer: PeerAddress(numericHost: "::1", port: 4321)!,
            errorKind: errorKind, errorMessage: errorKind.map { "failed: \($0.rawValue)" }, tls: tls,
            capturedResponseHeaders: captured)
    }

    private func sampleRecords() throws -> [SpanRecord] {
        let tls = TLSFacts(
            protocolVersion: "1.3", cipher: "TLS_AES_256_GCM_SHA384", serverName: "a", clientSubject: nil)
        let longUA = String(repeating: "ü", count: 400)  // 800 bytes: cut when shown
        return [
            try record("GET /users/42/orders?token=x&b HTTP/1.1\r\nHost: ex\r\nUser-Agent: <script>\r\n\r\n", n: 1),
            try record(
                "POST /a/0123456789abcdef0123 HTTP/1.0\r\nHost: ex:8080\r\nX-Request-Id: r1\r\nX-Tenant: t1\r\n"
                    + "X-Tenant: t2\r\nUser-Agent: \(longUA)\r\n\r\n", n: 2, status: 502, errorKind: .upstreamReset,
                tls: tls, captured: [(name: "server", value: "up/1")]),
            try record(
                "BREW /pot HTTP/1.1\r\nX-Forwarded-Host: f:1\r\n\r\n", n: 3, status: 499, errorKind: .clientReset),
            try record("GET http://abs.example/p/q?x=1 HTTP/1.1\r\nHost: abs.example\r\n\r\n", n: 4, status: 0),
        ]
    }

    func test_deferredRendering_showsWhatRenderingAtArrivalShowed() throws {
        for names in [nil, AttributeNames.stable, .both] {
            let process = try process(routes: ["/users/{id}/orders"], captured: ["x-tenant"], names: names)
            let reporter = TraceViewReporter(view: TraceView(options: .init()), process: process)
            for r in try sampleRecords() {
                let kept = reporter.store(r)
                XCTAssertTrue(kept.isDeferred)
                var rendered = RenderedSpan()
                rendered.render(r, process: process)
                let eager = StoredSpan(r, rendered: rendered)
                XCTAssertFalse(eager.isDeferred)
                XCTAssertEqual(kept.name, eager.name)
                XCTAssertEqual(kept.status, eager.status)
                XCTAssertEqual(kept.isError, eager.isError)
                XCTAssertEqual(kept.startMicros, eager.startMicros)
                XCTAssertEqual(kept.durationMicros, eager.durationMicros)
                XCTAssertEqual(kept.upstreamConnectedMicros, eager.upstreamConnectedMicros)
                XCTAssertEqual(kept.firstResponseByteMicros, eager.firstResponseByteMicros)
                XCTAssertEqual(kept.details(), eager.details())
                XCTAssertEqual(kept.methodAndPath.method, eager.method)
                XCTAssertEqual(kept.methodAndPath.path, eager.path)
                XCTAssertFalse(kept.tags.isEmpty)
            }
        }
    }

    func test_deferredSpan_valuesAreCutWhenShown() throws {
        let reporter = TraceViewReporter(view: TraceView(options: .init()), process: try process())
        let kept = reporter.store(try sampleRecords()[1])
        let ua = try XCTUnwrap(kept.tags.first { $0.key == "http.user_agent" })
        guard case .text(let s) = ua.value else { return XCTFail("not text") }
        XCTAssertLessThanOrEqual(s.utf8.count, StoredSpan.maxValueBytes)
        XCTAssertTrue(s.hasSuffix("\u{2026}"))
    }

    /// A huge head is rendered at arrival and let go: the span keeps cut values, not 40 KB.
    func test_hugeHeads_areRenderedAtArrival_andMemoryStaysBounded() throws {
        let registry = MetricsRegistry()
        let view = TraceView(options: .init(spans: 100), metrics: registry) { 0 }
        let process = try process()
        let reporter = TraceViewReporter(view: view, process: process)
        let big = String(repeating: "a", count: 20_000)
        let head = "GET /big?q=\(big.prefix(3000)) HTTP/1.1\r\nHost: ex\r\nUser-Agent: \(big)\r\nX-Junk: \(big)\r\n\r\n"
        let r = try record(head, n: 1)
        XCTAssertGreaterThan(r.headBytes.count, 40_000)
        let kept = reporter.store(r)
        XCTAssertFalse(kept.isDeferred)
        XCTAssertLessThan(kept.approxBytes, 8 * 1024)
        var rendered = RenderedSpan()
        rendered.render(r, process: process)
        XCTAssertEqual(kept.details(), StoredSpan(r, rendered: rendered).details())
        // A small head is kept as it is and counted with its buffer.
        let small = reporter.store(try sampleRecords()[0])
        XCTAssertTrue(small.isDeferred)
        XCTAssertGreaterThanOrEqual(small.approxBytes, try sampleRecords()[0].headBytes.capacity)
        XCTAssertLessThanOrEqual(small.approxBytes, StoredSpan.maxRetainedBytes + 1024)

        // Through the pipeline's entry point: 300 huge heads leave the gauge bounded.
        for i in 0..<3 { XCTAssertTrue(reporter.send((0..<100).map { _ in r }), "\(i)") }
        let bytes = try XCTUnwrap(gauge(registry, "traceproxy_trace_view_bytes"))
        XCTAssertGreaterThan(bytes, 0)
        // 100 recent + 5 slowest, each well under 8 KiB, plus the store and statistics.
        XCTAssertLessThan(bytes, 105 * 8 * 1024 + 64 * 1024)
    }

    func test_gauge_accountsEverySpanHeld() throws {
        let registry = MetricsRegistry()
        let view = TraceView(options: .init(spans: 50), metrics: registry) { 0 }
        let reporter = TraceViewReporter(view: view, process: try process())
        let records = try sampleRecords()
        for i in 0..<200 { XCTAssertTrue(reporter.send([records[i % records.count]])) }
        let held = view.query(SpanFilter(limit: SpanFilter.maxLimit)).spans
        let spanBytes = held.map(\.approxBytes).reduce(0, +)
        let bytes = try XCTUnwrap(gauge(registry, "traceproxy_trace_view_bytes"))
        XCTAssertGreaterThanOrEqual(bytes, spanBytes)
        // The rest is the store's arrays and the statistics: bounded, whatever the spans.
        XCTAssertLessThan(bytes - spanBytes, 64 * 1024)
        XCTAssertEqual(gauge(registry, "traceproxy_trace_view_spans"), held.count)
    }

    /// One batch larger than the ring: the records go in oldest first, so what is held is the
    /// batch's newest (the ring's 10 and the slow lists' 5 slowest per route, which are the
    /// newest here), and each span is named after its own target, as runs of one method end.
    func test_oneLargeBatch_keepsItsNewest_andNamesEachRecord() throws {
        let now = self.now
        let view = TraceView(options: .init(spans: 10)) { now + 1_000_000 }
        let reporter = TraceViewReporter(view: view, process: try process())
        var batch: [SpanRecord] = []
        for n in 1...25 { batch.append(try record("GET /r\(n % 3) HTTP/1.1\r\nHost: ex\r\n\r\n", n: UInt64(n))) }
        XCTAssertTrue(reporter.send(batch))
        let held = view.query(SpanFilter(limit: SpanFilter.maxLimit)).spans
        XCTAssertEqual(held.map(\.spanID.value), (11...25).reversed().map { UInt64($0) })
        for span in held { XCTAssertEqual(span.name, "GET /r\(span.spanID.value % 3)") }
        XCTAssertEqual(view.routes().map(\.last5m.count).reduce(0, +), 25)
    }

    private func gauge(_ registry: MetricsRegistry, _ name: String) -> Int? {
        for line in registry.render().split(separator: "\n") where line.hasPrefix(name + " ") {
            return Int(line.dropFirst(name.count + 1))
        }
        return nil
    }

    func test_routeNames_shareOneString_andAreBounded() {
        var names = RouteNames(limit: 8)
        let a = names.intern(Array("GET /users/{id}/orders/{id}".utf8))
        let b = names.intern(Array("GET /users/{id}/orders/{id}".utf8))
        XCTAssertEqual(a, "GET /users/{id}/orders/{id}")
        a.utf8.withContiguousStorageIfAvailable { pa in
            b.utf8.withContiguousStorageIfAvailable { pb in XCTAssertEqual(pa.baseAddress, pb.baseAddress) }
        }
        for i in 0..<100 { XCTAssertEqual(names.intern(Array("GET /r\(i)".utf8)), "GET /r\(i)") }
        XCTAssertLessThanOrEqual(names.count, 8)
        let long = Array(repeating: UInt8(ascii: "x"), count: 2000)
        XCTAssertLessThanOrEqual(names.intern(long).utf8.count, StoredSpan.maxValueBytes)
    }

    /// Runs of one route reuse its row's place; new routes in between must not misfile a span.
    func test_routeStats_countsMatchAReference_forInterleavedRoutes() {
        var table = RouteStatsTable(maxRoutes: 5)
        var store = SpanStore(.init(capacity: 10, slowPerRoute: 1, maxRoutes: 5))
        var expected: [String: Int] = [:]
        var rng = SystemRandomNumberGenerator()
        for i in 0..<2000 {
            let name = "GET /r\(Int.random(in: 0..<9, using: &rng))"
            let key = expected[name] != nil || expected.count < 5 ? name : RouteStatsTable.otherRoute
            expected[key, default: 0] += 1
            table.record(route: name, endMicros: now, durationMicros: 100, status: 200, isError: false)
            store.insert(span(i, route: name, start: now, duration: Int64(i)))
        }
        let counts = Dictionary(
            uniqueKeysWithValues: table.summaries(nowMicros: now).map { ($0.route, $0.last1m.count) })
        XCTAssertEqual(counts, expected)
        // Each slow list holds the slowest (latest) span of its key.
        XCTAssertEqual(Set(store.slowest.keys), Set(expected.keys))
        for (key, list) in store.slowest {
            XCTAssertEqual(list.count, 1, key)
            if key != RouteStatsTable.otherRoute { XCTAssertEqual(list.first?.name, key) }
        }
    }

    /// The statistics' byte count, kept as routes and histograms appear, equals a full recount.
    func test_routeStats_bytesKeptUpToDate() {
        var table = RouteStatsTable(maxRoutes: 5)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            table.record(
                route: "GET /r\(Int.random(in: 0..<8, using: &rng))",
                endMicros: now + Int64.random(in: 0..<400_000_000, using: &rng),
                durationMicros: Int64.random(in: 1..<3_000_000, using: &rng),
                status: [0, 200, 404, 503][Int.random(in: 0..<4, using: &rng)], isError: false)
        }
        var expected = 0
        for (name, r) in table.routes {
            expected += RouteStatsTable.routeBytes + name.utf8.count
            expected += r.slots.filter { $0.histogram != nil }.count * RouteStatsTable.histogramBytes
            expected += r.byClass.filter { $0 != nil }.count * RouteStatsTable.cumulativeBytes
        }
        XCTAssertEqual(table.approxBytes, expected)
    }
}
