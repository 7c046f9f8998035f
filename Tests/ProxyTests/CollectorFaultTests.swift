import Dispatch
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import Proxy

/// Dead, failing and hanging collectors: requests see no added latency or errors, spans are
/// dropped and counted per reporter, and the span queue stays within --max-queue-spans.
final class CollectorFaultTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    private func proxy(reporter: String, _ configure: (inout ProxyConfig) -> Void = { _ in }) throws -> RunningProxy {
        try Hardening.start(upstreamPort: upstream.port, collector: nil) {
            $0.reporters = [reporterTarget(reporter)]
            $0.maxBatchSpans = 10
            configure(&$0)
        }
    }

    /// Latencies in ms of `count` sequential requests on one keep-alive connection; all must be 200.
    private func latencies(_ proxy: RunningProxy, count: Int = 60) throws -> [Double] {
        let client = try proxy.client()
        var out: [Double] = []
        for i in 0..<count {
            let started = DispatchTime.now().uptimeNanoseconds
            let response = try client.roundTrip(httpRequest("GET", "/l/\(i)"), timeout: 5)
            out.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
            XCTAssertEqual(response.status, 200)
        }
        return out
    }

    private func baselineP50() throws -> Double {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let healthy = try proxy(reporter: collector.url())
        _ = try latencies(healthy, count: 10)  // warm-up
        return Hardening.median(try latencies(healthy))
    }

    /// Runs the load against a proxy reporting to `reporter`, compares with a healthy collector,
    /// then waits for `dropSeries` to count the lost spans.
    private func checkFault(
        _ name: String, reporter: String, reason: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let baseline = try baselineP50()
        let faulty = try proxy(reporter: reporter)
        _ = try latencies(faulty, count: 10)
        let measured = try latencies(faulty)
        let p50 = Hardening.median(measured)
        let worst = measured.max() ?? 0
        print("collector fault \(name): p50 \(p50) ms (healthy \(baseline) ms), max \(worst) ms")
        XCTAssertLessThan(p50, max(baseline * 3, baseline + 10), "\(name): p50 grew", file: file, line: line)
        XCTAssertLessThan(worst, 500, "\(name): a request waited on the collector", file: file, line: line)
        let series = "traceproxy_spans_dropped_total{reporter=\"\(reporter)\",reason=\"\(reason)\"}"
        var dropped = 0.0
        let counted = waitUntil(timeout: 20) {
            dropped = (try? Hardening.metric(faulty, series)) ?? 0
            return dropped > 0
        }
        XCTAssertTrue(counted, "\(name): no drops counted in \(series)", file: file, line: line)
        let reported = try Hardening.metric(faulty, "traceproxy_spans_reported_total{reporter=\"\(reporter)\"}")
        // UDP learns of a closed port only from the ICMP answer to an earlier datagram, so the
        // first batch may count as reported; no more than that.
        XCTAssertLessThanOrEqual(reported, 10, "\(name): spans counted as reported", file: file, line: line)
        XCTAssertGreaterThan(
            try Hardening.metric(
                faulty, "traceproxy_reporter_batches_total{reporter=\"\(reporter)\",result=\"failed\"}"),
            0, file: file, line: line)
        Hardening.assertServesGoodRequest(faulty, file: file, line: line)
    }

    func test_jaegerAgentPortClosed_noLatency_dropsCounted() throws {
        let agent = try UDPReceiver()
        let url = agent.url
        agent.stop()  // the port is now closed: sends draw ICMP port-unreachable
        try checkFault("jaeger port closed", reporter: url, reason: "send_failed")
    }

    func test_zipkinDown_noLatency_dropsCounted() throws {
        try checkFault("zipkin down", reporter: "zipkin+http://127.0.0.1:\(freeTCPPort())", reason: "send_failed")
    }

    func test_zipkinAnswers500_noLatency_dropsCounted() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        collector.setMode(.respond(status: 500, body: "boom", chunked: false, close: false))
        try checkFault("zipkin 500", reporter: collector.url(), reason: "send_failed")
        // Retried within bounds: more than one POST per batch, but not without end.
        XCTAssertGreaterThan(collector.requests.count, 1)
    }

    /// A collector that accepts and never answers holds the reporter's worker, not a request; the
    /// queue fills to --max-queue-spans and the rest is dropped as queue_full.
    func test_zipkinHangs_noLatency_queueFullDropsCounted() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        collector.setMode(.hang)
        let url = collector.url()
        let baseline = try baselineP50()
        let faulty = try proxy(reporter: url) { $0.maxQueueSpans = 20 }
        let measured = try latencies(faulty, count: 80)
        let p50 = Hardening.median(measured)
        print("collector fault zipkin hang: p50 \(p50) ms (healthy \(baseline) ms), max \(measured.max() ?? 0) ms")
        XCTAssertLessThan(p50, max(baseline * 3, baseline + 10))
        XCTAssertLessThan(measured.max() ?? 0, 500)
        // The reporter posts on its flush interval: wait for it rather than look once (slow under ASan).
        XCTAssertTrue(waitUntil(timeout: 5) { !collector.requests.isEmpty }, "the collector never got a POST")
        let full = "traceproxy_spans_dropped_total{reporter=\"\(url)\",reason=\"queue_full\"}"
        XCTAssertTrue(waitUntil(timeout: 5) { ((try? Hardening.metric(faulty, full)) ?? 0) > 0 }, "no queue_full drops")
        XCTAssertLessThanOrEqual(try Hardening.metric(faulty, "traceproxy_span_queue_depth{reporter=\"\(url)\"}"), 20)
        collector.release()
    }

    /// Sustained load from several clients with a hung collector: the queue depth gauge, sampled
    /// throughout, never exceeds --max-queue-spans; every span is either queued, in flight or
    /// counted as dropped.
    func test_deadCollectorUnderSustainedLoad_queueDepthBounded() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        collector.setMode(.hang)
        let url = collector.url()
        let maxQueue = 50
        let faulty = try proxy(reporter: url) { $0.maxQueueSpans = maxQueue }
        let perClient = 300
        let clients = 4
        let failures = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let group = DispatchGroup()
        for c in 0..<clients {
            DispatchQueue.global().async(group: group) {
                defer { done.add(1, ordering: .relaxed) }
                guard let client = try? faulty.client() else {
                    failures.add(perClient, ordering: .relaxed)
                    return
                }
                for i in 0..<perClient {
                    let status = (try? client.roundTrip(httpRequest("GET", "/load/\(c)/\(i)"), timeout: 5))?.status
                    if status != 200 { failures.add(1, ordering: .relaxed) }
                }
            }
        }
        var maxDepth = 0.0
        var samples = 0
        while done.load(ordering: .relaxed) < clients {
            maxDepth = max(maxDepth, try Hardening.metric(faulty, "traceproxy_span_queue_depth{reporter=\"\(url)\"}"))
            samples += 1
            usleep(20_000)
        }
        group.wait()
        XCTAssertEqual(failures.load(ordering: .relaxed), 0, "requests failed while the collector hung")
        XCTAssertGreaterThan(samples, 3)
        XCTAssertLessThanOrEqual(maxDepth, Double(maxQueue), "queue grew past --max-queue-spans")
        let total = Double(clients * perClient)
        // Loops hand their spans over in batches (at 64 spans or on the next 100 ms tick), so the
        // last ones reach the reporter's queue shortly after the last response.
        var queueFull = 0.0
        var depth = 0.0
        var m: [String: Double] = [:]
        _ = waitUntil(timeout: 3) {
            m = (try? Hardening.metrics(faulty)) ?? [:]
            queueFull = m["traceproxy_spans_dropped_total{reporter=\"\(url)\",reason=\"queue_full\"}"] ?? 0
            depth = m["traceproxy_span_queue_depth{reporter=\"\(url)\"}"] ?? 0
            return queueFull + depth + 10 >= total - 10 * 4
        }
        XCTAssertEqual(m["traceproxy_spans_sampled_total"], total)
        // At most one batch is in the hung worker's hands; the rest is queued or dropped.
        XCTAssertGreaterThanOrEqual(queueFull + depth + 10, total - 10 * 4, "spans unaccounted for")
        XCTAssertGreaterThan(queueFull, total - Double(maxQueue) - 100)
        collector.release()
    }
}
