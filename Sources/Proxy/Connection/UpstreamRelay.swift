import HTTP1
import Reactor
import TLS

/// The upstream half of a client connection: which upstream connection carries the current
/// exchange (pooled or new), the request bytes sent on it in the proxy's framing, and the response
/// read back, parsed, and relayed to the client in the client's framing. Mechanics only: what a
/// response means for the connection is the state machine's, fed by `ClientConnection`.
final class UpstreamRelay {
    enum Event {
        case head(HTTPHead)
        /// Body bytes, already relayed to the client.
        case body(count: Int)
        case end
    }

    /// What the upstream connection reports, for the client connection to act on.
    enum Notice {
        case connected
        case readable
        /// `tls`: the TLS layer failed (a server refusing our certificate after the handshake, in TLS 1.3).
        case closed(errno: Int32, tls: TLSError?)
        /// `tls`: the connection came up but its TLS handshake failed.
        case connectFailed(errno: Int32, tls: TLSError?)
        /// The request bytes queued for the upstream fell below the low-water mark.
        case drained
    }

    private unowned let ctx: LoopContext
    private let writer: ClientWriter
    private let notify: (Notice) -> Void
    private(set) var connection: UpstreamConnection?
    private(set) var framing = HeadWriter.RelayFraming.none
    private var chunkedRequest = false
    private var requestMethod = HTTPMethod.get

    init(ctx: LoopContext, writer: ClientWriter, notify: @escaping (Notice) -> Void) {
        self.ctx = ctx
        self.writer = writer
        self.notify = notify
    }

    var pendingOutput: Int { connection?.pendingOutput ?? 0 }
    var hasInput: Bool { connection?.hasInput ?? false }

    /// A new exchange for `request`.
    func begin(_ request: HTTPHead) {
        requestMethod = request.method
        chunkedRequest = request.framing == .chunked
        framing = .none
    }

    /// Takes a pooled connection or opens one, and queues the exchange's forwarded head. `fresh`
    /// is the retry after a pooled connection died: a new connection, and the head goes out now
    /// (there is no body to gather with it). The connect error of a new connection is thrown.
    func attach(
        fresh: Bool, exchange ex: Exchange, peerHost: String
    ) throws(SystemError) -> (connecting: Bool, reused: Bool) {
        if fresh { release(reuse: false) }
        let up: UpstreamConnection
        if !fresh, let pooled = ctx.pool.take() {
            pooled.delegate = self
            up = pooled
        } else {
            up = try UpstreamConnection.connect(with: ctx.connector, buffers: ctx.buffers, delegate: self)
            up.generation = ctx.pool.generation
            ctx.metrics.upstreamConnections.add()
        }
        connection = up
        up.expectResponse(to: requestMethod)
        ctx.withScratch { out in
            RequestTracer.buildForwardedHead(
                ex.head, trace: ex.trace, peerHost: peerHost, secure: ex.tls != nil,
                requestID: ex.generatedRequestID, ctx: ctx, into: &out)
            up.send(out)
        }
        if fresh { up.flushOutput() }
        return (up.state == .connecting, up.reused)
    }

    /// Request body bytes, as one chunk of the proxy's own when the request is chunked.
    func sendBody(_ bytes: UnsafeRawBufferPointer) {
        guard let up = connection else { return }
        if chunkedRequest {
            ChunkedFraming.withChunkHeader(size: bytes.count) { up.send($0) }
            up.send(bytes)
            up.send(ChunkedFraming.chunkTrailer)
        } else {
            up.send(bytes)
        }
    }

    func endBody() {
        if chunkedRequest { connection?.send(ChunkedFraming.lastChunk) }
    }

    func flush() { connection?.flushOutput() }

    /// How the response whose head this is goes to the client that sent `request`.
    func chooseFraming(for response: HTTPHead, request: HTTPHead) -> HeadWriter.RelayFraming {
        framing = HeadWriter.relayFraming(
            for: response, requestMethod: request.method, requestMinor: request.versionMinor)
        return framing
    }

    /// The next response event, or nil when more bytes are needed. Body bytes are written to the
    /// client, framed, before it returns.
    func next() throws(HTTPParseError) -> Event? {
        guard let up = connection else { return nil }
        var bodyBytes = 0
        let event = try up.nextResponseEvent { bytes in
            writer.writeBody(bytes, chunked: framing == .chunked)
            bodyBytes = bytes.count
        }
        switch event {
        case nil: return nil
        case .head(let head): return .head(head)
        case .body: return .body(count: bodyBytes)
        case .end: return .end
        }
    }

    /// The response head as the client gets it: the upstream's fields in the client's framing,
    /// the proxy's `Connection`, then `extraFields` (traceresponse).
    func writeResponseHead(
        _ head: HTTPHead, request: HTTPHead, close: Bool, extraFields: (inout [UInt8]) -> Void
    ) {
        let connection: HeadWriter.ConnectionOption =
            head.status == 101
            ? .upgrade : head.isUpgrade ? .none : close ? .close : request.versionMinor == 0 ? .keepAlive : .none
        ctx.withScratch { out in
            HeadWriter.appendResponseHead(
                head, framing: framing, requestMethod: request.method, connection: connection,
                excluding: Self.responseExcluded, to: &out, extraFields: extraFields)
            writer.write(out)
        }
    }

    /// The proxy writes its own `traceresponse`; the upstream's would name the wrong span.
    static let responseExcluded: Set<String> = ["traceresponse"]

    /// Tunnel bytes from the client go to the upstream as they are; returns how many.
    @discardableResult
    func sendTunnel(from reader: inout RequestReader) -> Int {
        guard let up = connection else { return 0 }
        var count = 0
        reader.drain {
            count = $0.count
            up.send($0)
        }
        up.flushOutput()
        return count
    }

    /// Ends the client's chunked body, if it is one.
    func writeLastChunk() {
        if framing == .chunked { writer.write(ChunkedFraming.lastChunk) }
    }

    /// The upstream closed: what that means for the response in progress.
    func endOnClose() -> ConnectionStateMachine.UpstreamEnd {
        connection?.responseEndOnClose() ?? .nothing
    }

    /// Tunnel bytes from the upstream go to the client as they are; returns how many.
    @discardableResult
    func relayTunnel() -> Int {
        var count = 0
        connection?.consumeInput { b in
            writer.write(b)
            count += b.count
            return b.count
        }
        return count
    }

    /// Stops or resumes reading the response; false when there is no connection to pause.
    @discardableResult
    func pauseReading(_ paused: Bool) -> Bool {
        connection?.pauseReading(paused)
        return connection != nil
    }

    func shutdownWrite() { connection?.shutdownWrite() }

    /// Lets go of the connection: back to the pool when `reuse`, otherwise closed.
    func release(reuse: Bool) {
        guard let up = connection else { return }
        connection = nil
        if reuse { ctx.pool.put(up) } else { up.close() }
    }
}

/// Upstream events reach the client connection only for the connection it is using now: a
/// connection already let go (closed, or parked in the pool) has no say.
extension UpstreamRelay: UpstreamDelegate {
    func upstreamConnected(_ up: UpstreamConnection) {
        if up === connection { notify(.connected) }
    }

    func upstreamReadable(_ up: UpstreamConnection) {
        if up === connection { notify(.readable) }
    }

    func upstreamClosed(_ up: UpstreamConnection, errno: Int32) {
        guard up === connection else { return }
        notify(.closed(errno: errno, tls: up.tlsFailure))
        if up === connection { release(reuse: false) }
    }

    func upstreamConnectFailed(_ up: UpstreamConnection, errno: Int32) {
        if up === connection { notify(.connectFailed(errno: errno, tls: up.tlsFailure)) }
    }

    func upstreamDrained(_ up: UpstreamConnection) {
        if up === connection { notify(.drained) }
    }
}
