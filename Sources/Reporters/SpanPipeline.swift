import Spans
import Stats

/// Moves finished spans from the event loops to the reporters, off the request path.
public final class SpanPipeline: Sendable {
    public init(
        reporters: [any SpanReporter], maxBatchSpans: Int, maxQueueSpans: Int, flushIntervalMs: Int,
        metrics: MetricsRegistry
    ) {
        fatalError("implemented by the Reporters work")
    }

    /// Starts the worker thread.
    public func start() { fatalError("implemented by the Reporters work") }

    /// Called by event loops with a batch of spans; never blocks beyond a short lock. Spans beyond
    /// `maxQueueSpans` are dropped and counted.
    public func submit(_ spans: [FinishedSpan]) { fatalError("implemented by the Reporters work") }

    /// Delivers everything queued, then stops the worker. Returns when done or after `timeoutMs`.
    public func shutdown(timeoutMs: Int) { fatalError("implemented by the Reporters work") }
}
