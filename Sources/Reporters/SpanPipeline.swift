import Dispatch
import Logging
import Spans
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// Moves finished spans from the event loops to the reporters, off the request path.
///
/// Each reporter gets a lane of its own (a bounded queue and a worker thread), so a hung Zipkin
/// collector cannot hold back the Jaeger agent's datagrams, and neither can hold back a request.
public final class SpanPipeline: Sendable {
    /// The batching knobs every lane is made with; `replaceReporters` may change them.
    public struct Limits: Equatable, Sendable {
        public var maxBatchSpans: Int
        public var maxQueueSpans: Int
        public var flushIntervalMs: Int

        public init(maxBatchSpans: Int, maxQueueSpans: Int, flushIntervalMs: Int) {
            self.maxBatchSpans = maxBatchSpans
            self.maxQueueSpans = maxQueueSpans
            self.flushIntervalMs = flushIntervalMs
        }
    }

    private struct Lanes {
        var lanes: [ReporterLane]
        var started = false
    }

    /// Swapped whole by `replaceReporters`; loops copy the array out under the lock once per batch.
    private let lanes: Locked<Lanes>
    private let metrics: MetricsRegistry
    private let clock: any PipelineClock

    /// `clock` times the flush interval and the shutdown deadline; tests pass one they move by hand.
    public convenience init(
        reporters: [any SpanReporter], maxBatchSpans: Int, maxQueueSpans: Int, flushIntervalMs: Int,
        metrics: MetricsRegistry, clock: any PipelineClock = SystemPipelineClock()
    ) {
        self.init(
            reporters: reporters,
            limits: Limits(
                maxBatchSpans: maxBatchSpans, maxQueueSpans: maxQueueSpans, flushIntervalMs: flushIntervalMs),
            metrics: metrics, clock: clock)
    }

    public init(
        reporters: [any SpanReporter], limits: Limits, metrics: MetricsRegistry,
        clock: any PipelineClock = SystemPipelineClock()
    ) {
        self.clock = clock
        self.metrics = metrics
        lanes = Locked(Lanes(lanes: Self.lanes(for: reporters, limits: limits, metrics: metrics, clock: clock)))
    }

    private static func lanes(
        for reporters: [any SpanReporter], limits: Limits, metrics: MetricsRegistry, clock: any PipelineClock
    ) -> [ReporterLane] {
        reporters.map {
            ReporterLane(
                reporter: $0, maxBatchSpans: limits.maxBatchSpans, maxQueueSpans: limits.maxQueueSpans,
                flushIntervalMs: limits.flushIntervalMs, metrics: metrics, clock: clock)
        }
    }

    /// Starts the workers (once; later calls do nothing).
    public func start() {
        let current = lanes.withLock { l in
            l.started = true
            return l.lanes
        }
        for lane in current { lane.start() }
    }

    /// Called by event loops with a batch of spans; never blocks beyond a short lock per reporter.
    /// Spans beyond `maxQueueSpans` in a reporter's queue are dropped and counted for it.
    public func submit(_ spans: [SpanRecord]) {
        for lane in lanes.withLock({ $0.lanes }) { lane.submit(spans) }
    }

    /// A configuration reload: new spans go to `reporters` from now on, while the lanes they
    /// replace deliver what they already hold (to the endpoints those spans were recorded for)
    /// within `drainMs`, then close. Blocks the caller, never a loop, until the old lanes are done.
    public func replaceReporters(_ reporters: [any SpanReporter], limits: Limits, drainMs: Int) {
        let fresh = Self.lanes(for: reporters, limits: limits, metrics: metrics, clock: clock)
        let (old, started) = lanes.withLock { l in
            defer { l.lanes = fresh }
            return (l.lanes, l.started)
        }
        if started { for lane in fresh { lane.start() } }
        let deadline = clock.now() + .milliseconds(max(0, drainMs))
        for lane in old { lane.beginShutdown(deadline: deadline) }
        for lane in old { lane.awaitShutdown(deadline: deadline) }
    }

    /// Delivers everything queued, then closes the reporters. All lanes flush at once against one
    /// deadline; returns when all are done or after `timeoutMs`.
    public func shutdown(timeoutMs: Int) {
        let deadline = clock.now() + .milliseconds(max(0, timeoutMs))
        let current = lanes.withLock { $0.lanes }
        for lane in current { lane.beginShutdown(deadline: deadline) }
        for lane in current { lane.awaitShutdown(deadline: deadline) }
    }
}

/// One reporter's queue and worker.
///
/// Event loops only append to a bounded queue under a short lock; one worker thread of its own
/// does the reporter's I/O, so a slow or hung collector delays that thread and never a request. The
/// worker sends when a full batch is queued or when `flushIntervalMs` have passed since the last
/// flush, "whichever comes first" (the buffer-or-timer rule of Envoy's Zipkin reporter and the
/// OpenTelemetry batch span processor); a full queue drops and counts rather than grow or block.
final class ReporterLane: Sendable {
    private struct State {
        var queue: [SpanRecord] = []
        var started = false
        var stopping = false
        var finished = false
        /// While stopping: when the final flush must give up.
        var deadline = DispatchTime.distantFuture
    }

    private enum Step {
        case send([SpanRecord], deadline: DispatchTime)
        case wait(until: DispatchTime)
        case finish(abandoned: Int)
    }

    private let reporter: any SpanReporter
    private let counter: ReporterCounters
    /// Touched only by the worker thread.
    nonisolated(unsafe) private var failureLog = LogThrottle(intervalMs: 10_000)
    private let logger = Logger(label: "traceproxy.reporter")
    /// The most spans one `send` gets.
    private let maxBatchSpans: Int
    /// A queue this long wakes the worker before the flush interval is up.
    private let wakeAtSpans: Int
    private let maxQueueSpans: Int
    private let flushIntervalNanos: UInt64
    private let clock: any PipelineClock
    private let state = Locked(State())
    /// Wakes the worker early: a batch became full, or shutdown began. Extra signals only cause a
    /// spurious loop turn, which re-reads the state.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled once the worker has flushed and closed the reporters.
    private let done = DispatchSemaphore(value: 0)
    private let queueDepth: Counter
    private let queueFullDrops: Counter
    private let shutdownDrops: Counter

    /// Where a whole-queue reporter's lane wakes (or at half the queue's bound, if lower).
    static let wholeQueueWakeSpans = 4096

    init(
        reporter: any SpanReporter, maxBatchSpans: Int, maxQueueSpans: Int, flushIntervalMs: Int,
        metrics: MetricsRegistry, clock: any PipelineClock
    ) {
        self.reporter = reporter
        self.clock = clock
        self.counter = ReporterCounters(reporter: reporter.name, metrics: metrics)
        self.maxQueueSpans = max(1, maxQueueSpans)
        if reporter.takesWholeQueue {
            self.maxBatchSpans = self.maxQueueSpans
            wakeAtSpans = max(1, min(Self.wholeQueueWakeSpans, self.maxQueueSpans / 2))
        } else {
            self.maxBatchSpans = max(1, maxBatchSpans)
            wakeAtSpans = self.maxBatchSpans
        }
        self.flushIntervalNanos = UInt64(max(1, flushIntervalMs)) * 1_000_000
        self.queueDepth = metrics.counter(
            ReporterMetrics.queueDepth, help: ReporterMetrics.queueDepthHelp, kind: .gauge,
            labels: [("reporter", reporter.name)])
        self.queueFullDrops = ReporterMetrics.queueFullDrops(metrics, reporter: reporter.name)
        self.shutdownDrops = ReporterMetrics.shutdownDrops(metrics, reporter: reporter.name)
    }

    /// Starts the worker thread (once; later calls do nothing).
    func start() {
        let first = state.withLock { s in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<ReporterLane>.fromOpaque(context!).takeRetainedValue().runWorker()
                return nil
            }, context)
        precondition(rc == 0, "cannot start the span pipeline thread: error \(rc)")
        pthread_detach(thread)
    }

    /// `lane ` and the reporter's scheme (or name), cut to Linux's 15 bytes: what `top -H`, `ps -L`
    /// and the benchmark's per-thread CPU show for the lane.
    static func threadName(reporter: String) -> String {
        let kind = reporter.split(separator: ":", maxSplits: 1).first.map(String.init) ?? reporter
        return String(decoding: Array("lane \(kind)".utf8.prefix(15)), as: UTF8.self)
    }

    /// Names the calling thread through `/proc/thread-self/comm` (Swift's Glibc does not export
    /// `pthread_setname_np`); a failure leaves the inherited name.
    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    func submit(_ spans: [SpanRecord]) {
        guard !spans.isEmpty else { return }
        let (accepted, batchFilled) = state.withLock { s -> (Int, Bool) in
            if s.finished { return (-1, false) }
            let before = s.queue.count
            let room = max(0, maxQueueSpans - before)
            let accepted = min(room, spans.count)
            if accepted == spans.count {
                s.queue.append(contentsOf: spans)
            } else if accepted > 0 {
                s.queue.append(contentsOf: spans[0..<accepted])
            }
            queueDepth.set(s.queue.count)
            return (accepted, before < wakeAtSpans && s.queue.count >= wakeAtSpans)
        }
        if accepted < 0 {
            shutdownDrops.add(spans.count)
            return
        }
        if accepted < spans.count { queueFullDrops.add(spans.count - accepted) }
        if batchFilled { wake.signal() }
    }

    /// Delivers everything queued (in batches of at most `maxBatchSpans`), then closes the
    /// reporters and stops the worker. Returns when done or after `timeoutMs`, whichever is first;
    /// reporters are told the deadline, and a worker still stuck past it is simply abandoned
    /// (the caller exits the process next).
    func beginShutdown(deadline: DispatchTime) {
        let alreadyFinished = state.withLock { s in
            if !s.stopping {
                s.stopping = true
                s.deadline = deadline
            }
            return s.finished
        }
        if alreadyFinished { return }
        start()
        wake.signal()
    }

    func awaitShutdown(deadline: DispatchTime) {
        if state.withLock({ $0.finished }) { return }
        if clock.wait(on: done, until: deadline) {
            done.signal()  // let a concurrent or repeated shutdown through as well
        }
    }

    // MARK: - Worker

    private func runWorker() {
        Self.nameCurrentThread(Self.threadName(reporter: reporter.name))
        var lastFlush = clock.now()
        while true {
            let now = clock.now()
            let step = state.withLock { s in nextStep(&s, now: now, lastFlush: &lastFlush) }
            switch consume step {
            case .wait(let until):
                _ = clock.wait(on: wake, until: until)
            case .send(let batch, let deadline):
                deliver(consume batch, before: deadline)
            case .finish(let abandoned):
                if abandoned > 0 { shutdownDrops.add(abandoned) }
                reporter.close()
                done.signal()
                return
            }
        }
    }

    /// Decides the worker's next move under the lock. A flush (or an idle timer tick) restarts
    /// the interval, so an idle pipeline wakes once per interval and a trickle of spans is sent
    /// at most one interval after it arrived.
    private func nextStep(_ s: inout State, now: DispatchTime, lastFlush: inout DispatchTime) -> Step {
        if s.stopping {
            if s.queue.isEmpty || now >= s.deadline {
                let abandoned = s.queue.count
                s.queue.removeAll()
                s.finished = true
                queueDepth.set(0)
                return .finish(abandoned: abandoned)
            }
            return .send(takeBatch(&s), deadline: s.deadline)
        }
        let due = lastFlush + .nanoseconds(Int(flushIntervalNanos))
        if s.queue.count >= wakeAtSpans || (now >= due && !s.queue.isEmpty) {
            lastFlush = now
            return .send(takeBatch(&s), deadline: .distantFuture)
        }
        if now >= due {
            lastFlush = now
            return .wait(until: now + .nanoseconds(Int(flushIntervalNanos)))
        }
        return .wait(until: due)
    }

    /// A queue that fits in one batch is handed over whole (its storage, not a copy of each span).
    private func takeBatch(_ s: inout State) -> [SpanRecord] {
        var batch: [SpanRecord] = []
        if s.queue.count <= maxBatchSpans {
            swap(&batch, &s.queue)
            s.queue.reserveCapacity(min(batch.count, maxQueueSpans))
        } else {
            batch = Array(s.queue[0..<maxBatchSpans])
            s.queue.removeFirst(maxBatchSpans)
        }
        queueDepth.set(s.queue.count)
        return batch
    }

    private func deliver(_ batch: consuming [SpanRecord], before deadline: DispatchTime) {
        let count = batch.count
        if reporter.send(consume batch, before: deadline) {
            let rejected = min(count, reporter.lastBatchRejected)
            counter.reported.add(count - rejected)
            counter.batchesOK.add()
            if rejected > 0 { counter.rejected.add(rejected) }
            if let warning = reporter.lastBatchWarning {
                let nowMs = Int64(clock.now().uptimeNanoseconds / 1_000_000)
                if failureLog.admit(nowMs: nowMs) != nil { logger.warning("reporter \(reporter.name): \(warning)") }
            }
        } else {
            (reporter.lastDropReason == .unresolved ? counter.unresolved : counter.dropped).add(count)
            counter.batchesFailed.add()
            let nowMs = Int64(clock.now().uptimeNanoseconds / 1_000_000)
            if let more = failureLog.admit(nowMs: nowMs) {
                let tail = more > 0 ? " (\(more) more failed batches since the last report)" : ""
                let why = reporter.lastFailure.map { ": \($0)" } ?? ""
                logger.warning(
                    "reporter \(reporter.name): a batch of \(count) spans was not delivered\(why)\(tail)")
            }
        }
    }
}

/// The pipeline's time source: the workers' flush timer and the shutdown deadline read it, so a
/// test can move time by hand instead of sleeping through intervals.
public protocol PipelineClock: Sendable {
    func now() -> DispatchTime
    /// Blocks until `semaphore` is signalled (true) or the clock reaches `deadline` (false).
    func wait(on semaphore: DispatchSemaphore, until deadline: DispatchTime) -> Bool
}

/// The monotonic system clock (`DispatchTime`).
public struct SystemPipelineClock: PipelineClock {
    public init() {}

    public func now() -> DispatchTime { DispatchTime.now() }

    public func wait(on semaphore: DispatchSemaphore, until deadline: DispatchTime) -> Bool {
        semaphore.wait(timeout: deadline) == .success
    }
}
