import Stats

/// Metric names shared by the pipeline and the reporters, so that each series is registered under
/// one spelling (MetricsRegistry returns the same Counter for the same name and labels).
enum ReporterMetrics {
    static let spansReported = "traceproxy_spans_reported_total"
    static let spansReportedHelp = "Spans a reporter delivered."
    static let spansDropped = "traceproxy_spans_dropped_total"
    static let spansDroppedHelp = "Spans lost, by reporter and reason."
    static let batches = "traceproxy_reporter_batches_total"
    static let batchesHelp = "Batches a reporter sent, by result."
    static let queueDepth = "traceproxy_span_queue_depth"
    static let queueDepthHelp = "Spans waiting in a reporter's queue."

    /// Spans refused by the pipeline's bounded queue (before any reporter saw them).
    static func queueFullDrops(_ metrics: MetricsRegistry, reporter: String) -> Counter {
        metrics.counter(
            spansDropped, help: spansDroppedHelp, labels: [("reporter", reporter), ("reason", "queue_full")])
    }

    /// Spans submitted after the pipeline's worker had finished its final flush.
    static func shutdownDrops(_ metrics: MetricsRegistry, reporter: String) -> Counter {
        metrics.counter(
            spansDropped, help: spansDroppedHelp, labels: [("reporter", reporter), ("reason", "shutdown")])
    }
}

/// The counters one reporter moves, looked up once when the pipeline is built.
struct ReporterCounters: Sendable {
    let reported: Counter
    let dropped: Counter
    /// Lost because the collector's name did not resolve.
    let unresolved: Counter
    /// Delivered, but refused by the collector (OTLP partial success).
    let rejected: Counter
    let batchesOK: Counter
    let batchesFailed: Counter

    init(reporter: String, metrics: MetricsRegistry) {
        let m = ReporterMetrics.self
        reported = metrics.counter(
            m.spansReported, help: m.spansReportedHelp, labels: [("reporter", reporter)])
        dropped = metrics.counter(
            m.spansDropped, help: m.spansDroppedHelp,
            labels: [("reporter", reporter), ("reason", SpanDropReason.sendFailed.rawValue)])
        unresolved = metrics.counter(
            m.spansDropped, help: m.spansDroppedHelp,
            labels: [("reporter", reporter), ("reason", SpanDropReason.unresolved.rawValue)])
        rejected = metrics.counter(
            m.spansDropped, help: m.spansDroppedHelp, labels: [("reporter", reporter), ("reason", "rejected")])
        batchesOK = metrics.counter(
            m.batches, help: m.batchesHelp, labels: [("reporter", reporter), ("result", "ok")])
        batchesFailed = metrics.counter(
            m.batches, help: m.batchesHelp, labels: [("reporter", reporter), ("result", "failed")])
    }
}
