import Dispatch
import Spans

/// A destination for finished spans. `send` is called only from the pipeline's own worker thread,
/// never from an event loop, so an implementation may block up to its own bounded timeouts.
public protocol SpanReporter: AnyObject, Sendable {
    /// The reporter's URL as given, for metrics labels and logs.
    var name: String { get }
    /// Delivers one batch (at most `--max-batch-spans` spans). Returns false when the batch was
    /// lost after the reporter's own bounded retries.
    func send(_ spans: [SpanRecord]) -> Bool
    /// Like `send(_:)`, but gives up (returns false) rather than block or retry past `deadline`.
    /// The pipeline passes its shutdown deadline here so that a hung collector cannot hold the
    /// process past `--shutdown` time; reporters that never block may keep the default. The lane
    /// gives up its batch (`consuming`), so a reporter that keeps the records can move them out
    /// of it instead of retaining each one.
    func send(_ spans: consuming [SpanRecord], before deadline: DispatchTime) -> Bool
    /// Releases sockets; no `send` follows.
    func close()
    /// Why the last batch was not delivered, when the reporter knows (a TLS verification failure,
    /// a refused connection); the pipeline's warning quotes it.
    var lastFailure: String? { get }
    /// Of the last batch `send` reported delivered, how many spans the collector said it rejected
    /// (OTLP's `partial_success`); they are counted as dropped.
    var lastBatchRejected: Int { get }
    /// What the collector said about the last delivered batch when it said anything (OTLP's
    /// `partial_success` message), for the log.
    var lastBatchWarning: String? { get }
    /// Why the last batch `send` reported lost was lost, for the `reason` of the dropped spans.
    var lastDropReason: SpanDropReason { get }
    /// A reporter that keeps spans in memory (no datagram or POST to size) takes its lane's whole
    /// queue at once, and its lane wakes for a few thousand spans rather than `--max-batch-spans`:
    /// fewer thread wake-ups, and the queue handed over without copying its spans.
    var takesWholeQueue: Bool { get }
}

/// Why a reporter lost a batch: the `reason` label of `traceproxy_spans_dropped_total`.
public enum SpanDropReason: String, Sendable {
    /// Sent and not delivered: refused, unanswered, or failed on the way.
    case sendFailed = "send_failed"
    /// Not sent: the collector's host name has no address (yet).
    case unresolved
}

extension SpanReporter {
    public var lastFailure: String? { nil }
    public var lastBatchRejected: Int { 0 }
    public var lastBatchWarning: String? { nil }
    public var lastDropReason: SpanDropReason { .sendFailed }
    public var takesWholeQueue: Bool { false }

    public func send(_ spans: consuming [SpanRecord], before deadline: DispatchTime) -> Bool {
        send(spans)
    }
}
