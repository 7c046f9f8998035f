import Dispatch
import Foundation
import Gzip
import Reporters
import Spans
import Stats
import TestSupport
import XCTest

final class ZipkinHTTPReporterTests: XCTestCase {
    private var collector: HTTPCollector!

    override func setUpWithError() throws {
        collector = try HTTPCollector(gunzip: { Gzip.decompress($0) })
    }

    override func tearDown() {
        collector.stop()
    }

    private func makeReporter(
        path: String = "/api/v2/spans", gzip: Bool = false, port: UInt16? = nil,
        timeouts: ZipkinHTTPReporter.Timeouts = .init()
    ) throws -> ZipkinHTTPReporter {
        let port = port ?? collector.port
        return try ZipkinHTTPReporter(
            name: "zipkin+http://127.0.0.1:\(port)", host: "127.0.0.1", port: port, path: path,
            options: ReporterOptions(process: testProcess, zipkinGzip: gzip), timeouts: timeouts)
    }

    /// Parses the body with Foundation's JSON parser, independently of our encoder.
    private func decodeSpans(_ body: [UInt8]?) throws -> [[String: Any]] {
        let bytes = try XCTUnwrap(body, "body missing or not decodable")
        let json = try JSONSerialization.jsonObject(with: Data(bytes))
        return try XCTUnwrap(json as? [[String: Any]], "not a JSON array of objects")
    }

    func test_send_healthyCollector_postsJSONWithB3ZeroHeader() throws {
        let reporter = try makeReporter()
        defer { reporter.close() }
        let spans = makeSpans(3)
        XCTAssertTrue(reporter.send(spans))
        let requests = collector.waitForRequests(count: 1, timeout: 2)
        XCTAssertEqual(requests.count, 1)
        let request = try XCTUnwrap(requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.target, "/api/v2/spans")
        XCTAssertEqual(request.header("b3"), "0")
        XCTAssertEqual(request.header("content-type"), "application/json")
        XCTAssertEqual(request.header("content-length"), String(request.rawBody.count))
        XCTAssertEqual(request.header("host"), "127.0.0.1:\(collector.port)")
        XCTAssertNil(request.header("content-encoding"))
        let decoded = try decodeSpans(request.body)
        XCTAssertEqual(decoded.compactMap { $0["id"] as? String }, spans.map(\.spanID.hex16))
        XCTAssertEqual(decoded.compactMap { $0["traceId"] as? String }, spans.map(\.traceID.hex32))
        let endpoint = decoded.first?["localEndpoint"] as? [String: Any]
        XCTAssertEqual(endpoint?["serviceName"] as? String, "reporters-test")
    }

    func test_send_gzipOption_bodyIsGzipWithHeader() throws {
        let reporter = try makeReporter(gzip: true)
        defer { reporter.close() }
        let spans = makeSpans(50)
        XCTAssertTrue(reporter.send(spans))
        let request = try XCTUnwrap(collector.waitForRequests(count: 1, timeout: 2).first)
        XCTAssertEqual(request.header("content-encoding"), "gzip")
        XCTAssertEqual(Array(request.rawBody.prefix(2)), [0x1f, 0x8b])
        XCTAssertEqual(request.header("content-length"), String(request.rawBody.count))
        let decoded = try decodeSpans(request.body)
        XCTAssertEqual(Set(decoded.compactMap { $0["id"] as? String }), Set(spans.map(\.spanID.hex16)))
    }

    func test_send_twice_reusesOneKeepAliveConnection() throws {
        let reporter = try makeReporter()
        defer { reporter.close() }
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertTrue(reporter.send(makeSpans(1)))
        let requests = collector.waitForRequests(count: 2, timeout: 2)
        XCTAssertEqual(requests.map(\.connectionIndex), [0, 0])
        XCTAssertEqual(collector.connectionCount, 1)
    }

    func test_send_chunkedResponse_readsItAndKeepsConnection() throws {
        collector.setMode(.respond(status: 202, body: "accepted spans", chunked: true, close: false))
        let reporter = try makeReporter()
        defer { reporter.close() }
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertEqual(collector.waitForRequests(count: 2, timeout: 2).map(\.connectionIndex), [0, 0])
    }

    func test_send_connectionCloseResponse_reconnectsForNextBatch() throws {
        collector.setMode(.respond(status: 200, body: "ok", chunked: false, close: true))
        let reporter = try makeReporter()
        defer { reporter.close() }
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertEqual(collector.waitForRequests(count: 2, timeout: 2).map(\.connectionIndex), [0, 1])
    }

    func test_send_viaLocalhostURL_reachesIPv4OnlyCollector() throws {
        let reporter = try XCTUnwrap(
            ReporterURL.make(
                .zipkinHTTP(host: "localhost", port: collector.port, path: ReporterTarget.defaultZipkinPath),
                options: ReporterOptions(process: testProcess),
                metrics: MetricsRegistry()))
        defer { reporter.close() }
        XCTAssertTrue(reporter.send(makeSpans(1)))
        let request = try XCTUnwrap(collector.waitForRequests(count: 1, timeout: 2).first)
        XCTAssertEqual(request.target, "/api/v2/spans")
        XCTAssertEqual(request.header("host"), "localhost:\(collector.port)")
    }

    func test_send_customPath_postsThere() throws {
        let reporter = try makeReporter(path: "/custom/spans")
        defer { reporter.close() }
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertEqual(collector.waitForRequests(count: 1, timeout: 2).first?.target, "/custom/spans")
    }

    func test_send_collectorAlways500_triesThreeTimesThenFails() throws {
        collector.setMode(.respond(status: 500, body: "boom", chunked: false, close: false))
        let reporter = try makeReporter()
        defer { reporter.close() }
        let started = Date()
        XCTAssertFalse(reporter.send(makeSpans(2)))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(collector.requests.count, 3)
        XCTAssertGreaterThanOrEqual(elapsed, 0.29, "backoff of 100 ms then 200 ms")
        XCTAssertLessThan(elapsed, 2)
    }

    func test_send_collectorRecoversAfter500_retrySucceeds() throws {
        collector.setMode(.respond(status: 500, body: "", chunked: false, close: false))
        let reporter = try makeReporter(timeouts: .init(initialBackoffMs: 300))
        defer { reporter.close() }
        let result = Locked<Bool?>(nil)
        let spans = makeSpans(2)
        let thread = Thread { result.withLock { $0 = reporter.send(spans) } }
        thread.start()
        XCTAssertEqual(collector.waitForRequests(count: 1, timeout: 2).count, 1)
        collector.setMode(HTTPCollector.accepted)
        XCTAssertTrue(eventually { result.withLock { $0 } != nil })
        XCTAssertEqual(result.withLock { $0 }, true)
        let requests = collector.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests[0].rawBody, requests[1].rawBody, "the same batch is retried")
    }

    func test_send_hangingCollector_givesUpWithinBoundedTime() throws {
        collector.setMode(.hang)
        let reporter = try makeReporter(
            timeouts: .init(connectTimeoutMs: 200, attemptTimeoutMs: 300, tries: 2, initialBackoffMs: 50))
        defer { reporter.close() }
        let started = Date()
        XCTAssertFalse(reporter.send(makeSpans(1)))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 0.6)
        XCTAssertLessThan(elapsed, 1.5)
        XCTAssertEqual(collector.requests.count, 2)
        collector.release()
    }

    func test_send_hangingCollectorWithDeadline_returnsByDeadline() throws {
        collector.setMode(.hang)
        let reporter = try makeReporter()  // default 2 s per attempt, 3 tries
        defer { reporter.close() }
        let started = Date()
        XCTAssertFalse(reporter.send(makeSpans(1), before: .now() + .milliseconds(300)))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 0.8)
        collector.release()
    }

    func test_send_collectorUnreachable_failsQuickly() throws {
        let port = collector.port
        collector.stop()
        let reporter = try makeReporter(port: port)
        defer { reporter.close() }
        let started = Date()
        XCTAssertFalse(reporter.send(makeSpans(1)))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
    }

    func test_send_staleKeptConnection_reconnectsWithoutBackoff() throws {
        // The collector answers without `Connection: close` and then closes: the reporter's kept
        // connection is dead, which only the next request finds out.
        collector.setMode(.respondThenDrop(status: 202))
        let reporter = try makeReporter()
        defer { reporter.close() }
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertTrue(eventually { collector.connectionCount == 1 })
        usleep(50_000)  // let the close reach us
        collector.setMode(HTTPCollector.accepted)
        let started = Date()
        XCTAssertTrue(reporter.send(makeSpans(1)))
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.09, "no backoff for a stale connection")
        XCTAssertEqual(collector.waitForRequests(count: 2, timeout: 2).map(\.connectionIndex), [0, 1])
    }
}
