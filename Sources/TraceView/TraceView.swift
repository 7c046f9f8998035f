import Dispatch
import Propagation
import Reporters
import Spans
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// The trace view's state: the span store and the route statistics, each behind its own lock,
/// filled by `TraceViewReporter` on the span pipeline's worker thread and read by the admin
/// listener (`TraceViewHTTP`). The request path never touches it: it hands spans to the pipeline
/// as it does for any reporter.
public final class TraceView: Sendable {
    public struct Options: Sendable, Equatable {
        /// Recent spans kept (`--trace-view-spans`).
        public var spans: Int
        /// Routes tracked by name, in the statistics and the slow lists.
        public var maxRoutes: Int
        /// `--trace-ui-url`: a Jaeger or Zipkin UI address, `{trace_id}` replaced by the id.
        public var uiURLTemplate: String?

        public init(spans: Int = 2000, maxRoutes: Int = 50, uiURLTemplate: String? = nil) {
            self.spans = spans
            self.maxRoutes = maxRoutes
            self.uiURLTemplate = uiURLTemplate
        }
    }

    public let options: Options
    private let store: Locked<SpanStore>
    private let stats: Locked<RouteStatsTable>
    /// Wall-clock microseconds (the spans' own time base); tests pass their own.
    let clock: @Sendable () -> Int64
    private let heldSpans: Counter?
    private let heldBytes: Counter?

    public init(
        options: Options, metrics: MetricsRegistry? = nil, clock: @escaping @Sendable () -> Int64 = TraceView.wallMicros
    ) {
        self.options = options
        self.clock = clock
        store = Locked(SpanStore(SpanStore.Limits(capacity: options.spans, maxRoutes: options.maxRoutes)))
        stats = Locked(RouteStatsTable(maxRoutes: options.maxRoutes))
        heldSpans = metrics?.counter(
            "traceproxy_trace_view_spans", help: "Spans held by the trace view (recent, failed and slowest).",
            kind: .gauge)
        heldBytes = metrics?.counter(
            "traceproxy_trace_view_bytes",
            help: "Memory held by the trace view's spans and route statistics (an estimate).", kind: .gauge)
        if let metrics {
            let stats = self.stats
            metrics.addCollector { stats.withLock { $0.renderPrometheus() } }
        }
    }

    public static func wallMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// Adds spans given whole (tests, tools).
    public func add(_ spans: [StoredSpan]) {
        var it = spans.makeIterator()
        add { it.next() }
    }

    /// Takes spans in as `next` gives them, oldest first, until it gives nil: one pass, each
    /// span counted and stored while it is still in the cache. Both locks are held for the
    /// batch; the API's readers wait that long.
    func add(_ next: () -> StoredSpan?) {
        let (count, bytes) = stats.withLock { t in
            store.withLock { s in
                while let span = next() {
                    t.record(
                        route: span.name, endMicros: span.endMicros, durationMicros: span.durationMicros,
                        status: span.status, isError: span.isError)
                    s.insert(span)
                }
                return (s.count, s.bytes + s.structureBytes + t.approxBytes)
            }
        }
        heldSpans?.set(count)
        heldBytes?.set(bytes)
    }

    public func query(_ filter: SpanFilter) -> (spans: [StoredSpan], held: Int) {
        store.withLock { ($0.query(filter), $0.count) }
    }

    public func trace(_ id: TraceID) -> [StoredSpan] { store.withLock { $0.trace(id) } }

    public func routes() -> [RouteSummary] {
        let now = clock()
        return stats.withLock { $0.summaries(nowMicros: now) }
    }

    /// The UI link for one trace: `{trace_id}` in the template replaced by the id.
    public func uiURL(for id: TraceID) -> String? {
        options.uiURLTemplate.map { Self.expand($0, traceID: id.hex32) }
    }

    static func expand(_ template: String, traceID: String) -> String {
        template.replacing("{trace_id}", with: traceID)
    }
}

/// The trace view's reporter. It runs on its own pipeline lane like any other reporter, so its
/// work and the locks are off the request path, and a burst the lane cannot keep up with is
/// dropped and counted (`traceproxy_spans_dropped_total{reporter="trace-view",reason="queue_full"}`)
/// rather than queued without end.
///
/// Per span it does only what the statistics and the filters need: the operation name (one
/// string per route, reused) and the record's own fields; the record is kept as it is and
/// rendered when the API asks for it (`StoredSpan.details()`). A record holding more than
/// `StoredSpan.maxRetainedBytes` of text is rendered now instead, its values cut, so the store's
/// memory stays bounded.
public final class TraceViewReporter: SpanReporter {
    public let name = "trace-view"
    public var takesWholeQueue: Bool { true }
    private let view: TraceView
    private let renderer: StoredSpan.Renderer
    /// The process's span facts, read for every name (copied out once here, not per span).
    private let facts: SpanFacts
    /// Touched only by the pipeline's worker thread, as is the one below.
    nonisolated(unsafe) private var names = RouteNames()
    /// For the rare record rendered at arrival.
    nonisolated(unsafe) private var rendered = RenderedSpan()

    public init(view: TraceView, process: ServiceProcess) {
        self.view = view
        renderer = StoredSpan.Renderer(process: process)
        facts = process.spanFacts
    }

    public func send(_ spans: [SpanRecord]) -> Bool {
        send(spans, before: .distantFuture)
    }

    /// The lane hands its batch over, so each record is moved into its `StoredSpan` rather than
    /// retained there and released with the batch: two reference-count changes fewer per span on
    /// the head's buffer, which the loop and the other lanes touch too. (The batch is reversed in
    /// place, by moves, so that popping gives the oldest first.)
    public func send(_ spans: consuming [SpanRecord], before deadline: DispatchTime) -> Bool {
        var records = consume spans
        records.withUnsafeMutableBufferPointer { $0.reverse() }
        view.add { records.popLast().map { store($0) } }
        return true
    }

    func store(_ record: consuming SpanRecord) -> StoredSpan {
        let retained = StoredSpan.retainedBytes(record)
        guard retained <= StoredSpan.maxRetainedBytes else {
            rendered.render(record, process: renderer.process)
            return StoredSpan(record, rendered: rendered)
        }
        let name = names.name(method: record.methodBytes, target: record.target) { out in
            RenderedSpan.appendName(of: record, facts: facts, to: &out)
        }
        return StoredSpan(consume record, name: name, retainedBytes: retained, renderer: renderer)
    }

    public func close() {}
}

/// Operation names by their bytes, so the spans of one route share one string rather than each
/// allocating its own. Bounded: past `limit` distinct names (a scan of random paths) it starts
/// over, which costs a string per new name and nothing else.
struct RouteNames {
    private var strings: [[UInt8]: String] = [:]
    /// The last name looked up (its bytes in a buffer of its own, rewritten in place): a run of
    /// spans of one route costs a comparison, not a hash.
    private var lastBytes: [UInt8] = []
    private var lastString: String?

    /// The last request's method and target and their name (a name is its method's and target's
    /// alone, the span facts being fixed): a run of requests to one endpoint skips the rendering too.
    private var lastRequestName: String?
    private var lastMethod: [UInt8] = []
    private var lastTarget: [UInt8] = []
    private var scratch: [UInt8] = []
    let limit: Int

    init(limit: Int = 1024) {
        self.limit = limit
        scratch.reserveCapacity(256)
    }

    var count: Int { strings.count }

    /// The name of a request with this method and target: `render` writes it, unless they are the
    /// last request's.
    mutating func name(
        method: ArraySlice<UInt8>, target: ArraySlice<UInt8>, render: (inout [UInt8]) -> Void
    ) -> String {
        if let lastRequestName, target.elementsEqual(lastTarget), method.elementsEqual(lastMethod) {
            return lastRequestName
        }
        var out: [UInt8] = []
        swap(&out, &scratch)
        out.removeAll(keepingCapacity: true)
        render(&out)
        let s = intern(out)
        swap(&out, &scratch)
        lastMethod.removeAll(keepingCapacity: true)
        lastMethod.append(contentsOf: method)
        lastTarget.removeAll(keepingCapacity: true)
        lastTarget.append(contentsOf: target)
        lastRequestName = s
        return s
    }

    mutating func intern(_ bytes: [UInt8]) -> String {
        if let lastString, lastBytes == bytes { return lastString }
        let s: String
        if let known = strings[bytes] {
            s = known
        } else {
            if strings.count >= limit { strings.removeAll(keepingCapacity: true) }
            s = StoredSpan.cut(bytes)
            strings[bytes] = s
        }
        lastBytes.removeAll(keepingCapacity: true)
        lastBytes.append(contentsOf: bytes)
        lastString = s
        return s
    }
}
