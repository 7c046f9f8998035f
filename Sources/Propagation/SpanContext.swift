/// The formats the proxy reads and writes; raw values are the spelling `--print-config` shows.
///
/// Both B3 formats read both B3 encodings (the single header first, as the B3 specification and
/// OpenTelemetry's B3 propagator do); they differ in what they write.
public enum PropagationFormat: String, Sendable, CaseIterable {
    case w3c
    /// The `X-B3-*` headers: `--propagation b3` (as always) or `b3multi`, OpenTelemetry's `b3multi`.
    case b3 = "b3multi"
    /// The single `b3` header: `--propagation b3single`, OpenTelemetry's `b3`.
    case b3Single = "b3single"
    case jaeger
}

/// What an incoming request said about its trace: the first valid context found, in the order of
/// `--propagation`.
///
/// A context may carry only a sampling decision (B3 `b3: 0`, `X-B3-Sampled: 0` alone,
/// `jaeger-debug-id`), in which case `traceID` is nil and the proxy starts a new trace that honours
/// the decision.
public struct IncomingContext: Equatable, Sendable {
    /// nil when the headers carried only a decision.
    public var traceID: TraceID?
    /// The caller's span id: the parent of the proxy's span. Zero when absent.
    public var spanID: SpanID
    /// `nil`: the caller left the decision to us.
    public var sampled: Bool?
    /// Debug implies sampled.
    public var debug: Bool
    /// W3C `tracestate`, combined and validated, only when the context came from a valid traceparent.
    public var traceState: String?
    /// Which configured format the context was read from.
    public var format: PropagationFormat

    public init(
        traceID: TraceID?, spanID: SpanID, sampled: Bool?, debug: Bool = false,
        traceState: String? = nil, format: PropagationFormat
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
        self.debug = debug
        self.traceState = traceState
        self.format = format
    }
}

/// What the proxy injects into the forwarded request: its own span as the new parent.
public struct OutgoingContext: Equatable, Sendable {
    public var traceID: TraceID
    /// The proxy's span id.
    public var spanID: SpanID
    /// The proxy span's parent (the caller's span), zero for a root span.
    public var parentSpanID: SpanID
    public var sampled: Bool
    public var debug: Bool
    public var traceState: String?

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, sampled: Bool, debug: Bool,
        traceState: String?
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.sampled = sampled
        self.debug = debug
        self.traceState = traceState
    }
}

/// Read access to a request's header fields, without materialising them as Strings.
///
/// The HTTP codec implements this over its raw head buffer; tests implement it over a list of pairs.
public protocol HeaderSource {
    /// Calls `body` with the value bytes (OWS trimmed) of every field whose name equals
    /// `lowercasedName` ASCII-case-insensitively, in order of appearance.
    func forEachValue(lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Void)
}
