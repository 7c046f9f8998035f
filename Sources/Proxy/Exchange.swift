import HTTP1
import Propagation
import Reactor
import Spans

/// One request/response pair in flight on a client connection: the forwarded head (kept for a
/// retry), both framings, the response parser and what the span will record.
final class Exchange {
    let head: HTTPHead
    var upstream: UpstreamConnection?
    var responseParser: HTTPParser
    /// The forwarded head, kept until the first response byte for a one-time retry.
    var forwardedHead: [UInt8]
    var requestDone = false
    var requestBodyBytes = 0
    var responseHeadSent = false
    var responseBodyBytes = 0
    var status = 0
    /// How the response body is framed towards the client.
    var clientFraming: ClientFraming = .none
    var retried = false
    var upgraded = false
    /// Monotonic ms deadline for the upstream's next response byte (0: none).
    var upstreamDeadline: Int64 = 0
    var connectDeadline: Int64 = 0

    // Span data.
    let trace: TraceDecision
    let startWallMicros: Int64
    let startNs: Int64
    var connectedNs: Int64 = 0
    var firstByteNs: Int64 = 0
    var errorKind: SpanErrorKind?
    var errorMessage: String?

    enum ClientFraming { case none, length, chunked, close }

    init(head: HTTPHead, trace: TraceDecision, forwardedHead: [UInt8], startWallMicros: Int64, startNs: Int64) {
        self.head = head
        self.trace = trace
        self.forwardedHead = forwardedHead
        self.startWallMicros = startWallMicros
        self.startNs = startNs
        responseParser = HTTPParser(kind: .response)
        responseParser.expectResponse(toHEAD: head.method == .head)
    }

    func fail(_ kind: SpanErrorKind, _ message: String) {
        if errorKind == nil {
            errorKind = kind
            errorMessage = message
        }
    }
}

/// The trace context the proxy chose for a request: continued or new, and sampled or not.
struct TraceDecision {
    var outgoing: OutgoingContext
}
