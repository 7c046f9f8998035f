import Dispatch
import Foundation
import Spans
import Stats
import TestSupport
import XCTest

@testable import Reporters

final class SpanPipelineTests: XCTestCase {
    /// Time for every pipeline of a test: it moves only by `clock.advance`.
    private let clock = ManualPipelineClock()

    private func makePipeline(
        _ reporters: [any SpanReporter], maxBatch: Int = 100, maxQueue: Int = 1000, intervalMs: Int,
        metrics: MetricsRegistry = MetricsRegistry()
    ) -> SpanPipeline {
        SpanPipeline(
            reporters: reporters, maxBatchSpans: maxBatch, maxQueueSpans: maxQueue,
            flushIntervalMs: intervalMs, metrics: metrics, clock: clock)
    }

    func test_submit_fullBatches_sentWithoutWaitingForInterval() {
        let reporter = RecordingReporter()
        let pipeline = makePipeline([reporter], maxBatch: 10, intervalMs: 60_000)
        pipeline.start()
        let spans = makeSpans(25)
        pipeline.submit(Array(spans[0..<12]))
        pipeline.submit(Array(spans[12..<25]))
        XCTAssertTrue(eventually { reporter.spanCount >= 20 })
        clock.waitForSleepers(1)
        XCTAssertEqual(reporter.batches.map(\.count), [10, 10], "the 5 left over wait for the timer")
        pipeline.shutdown(timeoutMs: 2000)
        XCTAssertEqual(reporter.batches.map(\.count), [10, 10, 5])
        XCTAssertEqual(reporter.batches.flatMap { $0 }, spans, "order kept, nothing lost")
    }

    /// An in-memory reporter (the trace view) is woken at half the queue's bound here (or 4096)
    /// rather than at `--max-batch-spans`, and gets everything queued in one batch, in order;
    /// a collector's lane beside it still gets batches of `--max-batch-spans`.
    func test_wholeQueueReporter_wakesAtItsOwnThreshold_andTakesEverythingQueued() {
        let memory = RecordingReporter(name: "memory", wholeQueue: true)
        let collector = RecordingReporter(name: "collector")
        let pipeline = makePipeline([memory, collector], maxBatch: 10, maxQueue: 100, intervalMs: 60_000)
        pipeline.start()
        let spans = makeSpans(55)
        for start in stride(from: 0, to: 40, by: 10) { pipeline.submit(Array(spans[start..<start + 10])) }
        XCTAssertTrue(eventually { collector.spanCount == 40 })
        clock.waitForSleepers(2)
        XCTAssertEqual(memory.batches.count, 0, "woken before 50 spans (half of --max-queue-spans 100)")
        pipeline.submit(Array(spans[40..<55]))
        XCTAssertTrue(eventually { memory.spanCount == 55 })
        XCTAssertEqual(memory.batches, [spans], "one batch, in order")
        XCTAssertTrue(eventually { collector.spanCount == 50 })
        XCTAssertTrue(collector.batches.allSatisfy { $0.count == 10 })
        pipeline.shutdown(timeoutMs: 2000)
        XCTAssertEqual(collector.batches.flatMap { $0 }, spans)
    }

    /// Each lane's thread carries its reporter's kind, so `top -H` and the benchmark's
    /// per-thread CPU can tell the trace view's lane from a collector's.
    func test_laneThreads_areNamedAfterTheirReporter() throws {
        XCTAssertEqual(ReporterLane.threadName(reporter: "jaeger-udp://127.0.0.1:6831"), "lane jaeger-udp")
        XCTAssertEqual(ReporterLane.threadName(reporter: "trace-view"), "lane trace-view")
        XCTAssertEqual(ReporterLane.threadName(reporter: "zipkin+https://c:9411/api/v2/spans"), "lane zipkin+htt")
        let pipeline = makePipeline([RecordingReporter(name: "named")], intervalMs: 60_000)
        pipeline.start()
        defer { pipeline.shutdown(timeoutMs: 2000) }
        let names = {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).compactMap {
                try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        XCTAssertTrue(eventually { names().contains("lane named") }, "\(names())")
    }

    func test_submit_partialBatch_sentAfterInterval() {
        let reporter = RecordingReporter()
        let pipeline = makePipeline([reporter], maxBatch: 100, intervalMs: 300)
        pipeline.start()
        clock.waitForSleepers(1)
        pipeline.submit(makeSpans(3))
        clock.advance(milliseconds: 299)
        clock.waitForSleepers(1)
        XCTAssertEqual(reporter.spanCount, 0, "a partial batch waits for the interval")
        clock.advance(milliseconds: 1)
        XCTAssertTrue(eventually { reporter.spanCount == 3 })
        // A second trickle goes out on the following tick too, not before.
        clock.waitForSleepers(1)
        pipeline.submit(makeSpans(2))
        clock.advance(milliseconds: 299)
        clock.waitForSleepers(1)
        XCTAssertEqual(reporter.spanCount, 3)
        clock.advance(milliseconds: 1)
        XCTAssertTrue(eventually { reporter.spanCount == 5 })
        pipeline.shutdown(timeoutMs: 1000)
        XCTAssertTrue(reporter.closed)
    }

    func test_submit_beyondQueueLimit_dropsAndCounts() {
        let metrics = MetricsRegistry()
        let reporter = RecordingReporter()
        let pipeline = makePipeline(
            [reporter], maxBatch: 100, maxQueue: 10, intervalMs: 60_000, metrics: metrics)
        pipeline.start()
        let spans = makeSpans(15)
        pipeline.submit(Array(spans[0..<8]))
        pipeline.submit(Array(spans[8..<15]))
        XCTAssertEqual(
            metricValue(metrics, #"traceproxy_spans_dropped_total{reporter="recording",reason="queue_full"}"#), 5)
        XCTAssertEqual(metricValue(metrics, #"traceproxy_span_queue_depth{reporter="recording"}"#), 10)
        pipeline.shutdown(timeoutMs: 2000)
        XCTAssertEqual(reporter.batches.flatMap { $0 }, Array(spans[0..<10]))
        XCTAssertEqual(metricValue(metrics, #"traceproxy_span_queue_depth{reporter="recording"}"#), 0)
    }

    func test_shutdown_longInterval_flushesEverythingInMaxBatches() {
        let metrics = MetricsRegistry()
        let first = RecordingReporter(name: "first")
        let second = RecordingReporter(name: "second")
        let pipeline = makePipeline(
            [first, second], maxBatch: 4, intervalMs: 60_000, metrics: metrics)
        pipeline.start()
        pipeline.submit(makeSpans(3))
        clock.advance(milliseconds: 59_999)
        clock.waitForSleepers(2)
        XCTAssertEqual(first.spanCount, 0, "sent before the 60 s interval")
        pipeline.submit(makeSpans(7))
        XCTAssertTrue(eventually { first.spanCount >= 8 && second.spanCount >= 8 })
        pipeline.shutdown(timeoutMs: 2000)
        XCTAssertEqual(first.batches.map(\.count), [4, 4, 2])
        XCTAssertEqual(second.batches.map(\.count), [4, 4, 2])
        XCTAssertTrue(first.closed && second.closed)
        XCTAssertEqual(metricValue(metrics, #"traceproxy_spans_reported_total{reporter="first"}"#), 10)
        XCTAssertEqual(
            metricValue(metrics, #"traceproxy_reporter_batches_total{reporter="second",result="ok"}"#), 3)
    }

    func test_shutdown_withoutStart_stillFlushes() {
        let reporter = RecordingReporter()
        let pipeline = makePipeline([reporter], maxBatch: 2, intervalMs: 60_000)
        pipeline.submit(makeSpans(5))
        pipeline.shutdown(timeoutMs: 2000)
        XCTAssertEqual(reporter.batches.map(\.count), [2, 2, 1])
    }

    func test_send_failing_countsDroppedAndFailedBatches() {
        let metrics = MetricsRegistry()
        let reporter = RecordingReporter(name: "bad", result: false)
        let pipeline = makePipeline([reporter], maxBatch: 3, intervalMs: 60_000, metrics: metrics)
        pipeline.start()
        pipeline.submit(makeSpans(7))
        pipeline.shutdown(timeoutMs: 2000)
        XCTAssertEqual(
            metricValue(metrics, #"traceproxy_spans_dropped_total{reporter="bad",reason="send_failed"}"#),
            7)
        XCTAssertEqual(
            metricValue(metrics, #"traceproxy_reporter_batches_total{reporter="bad",result="failed"}"#), 3
        )
        XCTAssertEqual(metricValue(metrics, #"traceproxy_spans_reported_total{reporter="bad"}"#), 0)
    }

    func test_shutdown_hungReporter_returnsAtTimeout() {
        let reporter = RecordingReporter(blockUntilReleased: true)
        defer { for _ in 0..<4 { reporter.release() } }
        let pipeline = makePipeline([reporter], maxBatch: 1, intervalMs: 60_000)
        pipeline.start()
        pipeline.submit(makeSpans(3))
        XCTAssertTrue(eventually { reporter.batches.count == 1 })
        let returned = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            pipeline.shutdown(timeoutMs: 300)
            returned.signal()
        }
        clock.waitForSleepers(1)
        clock.advance(milliseconds: 299)
        XCTAssertEqual(returned.wait(timeout: .now() + .milliseconds(50)), .timedOut, "returned before the deadline")
        clock.advance(milliseconds: 1)
        XCTAssertEqual(returned.wait(timeout: .now() + .seconds(5)), .success, "still waiting past the deadline")
    }

    /// Each reporter has its own lane: a collector that never answers must not delay the others.
    func test_submit_hungReporter_otherReporterStillDelivers() {
        let hung = RecordingReporter(name: "hung", blockUntilReleased: true)
        let healthy = RecordingReporter(name: "healthy")
        let pipeline = makePipeline([hung, healthy], maxBatch: 2, intervalMs: 60_000)
        pipeline.start()
        pipeline.submit(makeSpans(2))
        XCTAssertTrue(eventually { hung.batches.count == 1 }, "the hung reporter got its first batch")
        pipeline.submit(makeSpans(4))
        XCTAssertTrue(eventually { healthy.spanCount == 6 }, "the healthy reporter waited for the hung one")
        for _ in 0..<8 { hung.release() }
        pipeline.shutdown(timeoutMs: 300)
    }

    func test_submit_afterShutdown_dropsAndCounts() {
        let metrics = MetricsRegistry()
        let reporter = RecordingReporter()
        let pipeline = makePipeline([reporter], intervalMs: 60_000, metrics: metrics)
        pipeline.start()
        pipeline.shutdown(timeoutMs: 1000)
        pipeline.submit(makeSpans(4))
        XCTAssertEqual(
            metricValue(metrics, #"traceproxy_spans_dropped_total{reporter="recording",reason="shutdown"}"#), 4)
        XCTAssertEqual(reporter.spanCount, 0)
    }

    /// The acceptance scenario end to end: a real Jaeger reporter and UDP socket, a 60 s interval,
    /// five queued spans that must appear only when shutdown flushes them.
    func test_shutdown_jaegerOverUDP_deliversQueuedSpansOnlyAtShutdown() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let metrics = MetricsRegistry()
        let options = ReporterOptions(process: testProcess)
        let reporter = try XCTUnwrap(
            ReporterURL.make(ReporterTarget.parse(agent.url)!, options: options, metrics: metrics))
        let pipeline = makePipeline([reporter], maxBatch: 1000, intervalMs: 60_000, metrics: metrics)
        pipeline.start()
        let spans = makeSpans(5)
        for span in spans { pipeline.submit([span]) }
        clock.advance(milliseconds: 59_999)
        clock.waitForSleepers(1)
        XCTAssertEqual(agent.received.count, 0)
        pipeline.shutdown(timeoutMs: 2000)
        let datagrams = agent.waitForDatagrams(count: 1, timeout: 2)
        XCTAssertEqual(datagrams.count, 1)
        for span in spans {
            let id = compactI64(Int64(bitPattern: span.spanID.value))
            XCTAssertEqual(occurrences(of: id, in: datagrams), 1)
        }
        XCTAssertEqual(
            metricValue(metrics, "traceproxy_spans_reported_total{reporter=\"\(agent.url)\"}"), 5)
    }
}
