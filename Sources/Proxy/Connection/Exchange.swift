import HTTP1
import Propagation
import Spans

/// What one request/response pair records for its span and access-log line. The control state
/// (deadlines, phases, retry) is the state machine's; this is only the data.
struct Exchange {
    let head: HTTPHead
    let trace: TraceDecision
    let startWallMicros: Int64
    let startNs: Int64
    var status = 0
    var requestBodyBytes = 0
    var responseBodyBytes = 0
    var connectedNs: Int64 = 0
    var firstByteNs: Int64 = 0
    var errorKind: SpanErrorKind?
    var errorMessage: String?
    /// The client connection's TLS (nil for plain HTTP).
    let tls: TLSFacts?
    /// The `X-Request-Id` the proxy made for this request (`--request-id generate`), if it did.
    var generatedRequestID: TraceID?
    /// `--capture-response-header` values, copied from the relayed response head.
    var capturedResponseHeaders: [(name: String, value: String)] = []

    init(head: HTTPHead, trace: TraceDecision, startWallMicros: Int64, startNs: Int64, tls: TLSFacts? = nil) {
        self.head = head
        self.trace = trace
        self.tls = tls
        self.startWallMicros = startWallMicros
        self.startNs = startNs
    }

    /// Keeps the first failure: a later one (closing after a timeout) is a consequence of it.
    /// `status`, when given, is what the client was answered.
    mutating func fail(_ failure: ExchangeFailure, status: Int? = nil) {
        if errorKind == nil {
            errorKind = failure.kind
            errorMessage = failure.message
        }
        if let status { self.status = status }
    }
}

/// The trace context the proxy chose for a request: continued or new, and sampled or not.
struct TraceDecision {
    var outgoing: OutgoingContext
    /// `--no-trace-path`: no span; the client's context headers go upstream as they came.
    var untraced = false
    /// The incoming context the proxy did not continue (`--ignore-incoming-context`).
    var link: SpanLink?
}
