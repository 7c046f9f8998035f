import HTTP1
import Logging
import Propagation
import Reactor
import Reporters
import Spans
import Stats

/// Everything one event loop owns: its connections, its upstream pool, its span batch and scratch
/// buffers. Touched only on the loop's queue, so none of it is locked. The loop itself is reached
/// only through the seams (`buffers`, `time`, `connector`, transports), so the same context runs
/// in-memory in tests.
final class LoopContext {
    /// Replaced by a configuration reload (on this loop's queue): a request reads it as it goes,
    /// so new requests follow the new settings and nothing in flight is cut.
    private(set) var shared: SharedState
    var config: ProxyConfig { shared.config }
    var metrics: ProxyMetrics { shared.metrics }
    let buffers: BufferPool
    let time: TimeSource
    let connector: TransportConnector
    /// Where finished spans go: the reporters' pipeline, or a test's list.
    let spanSink: SpanSink
    /// Taken by each new connection; a reload changes them for connections accepted after it.
    private(set) var timeouts: ConnectionStateMachine.Timeouts

    /// Open client connections (for timeouts and drain).
    private(set) var clients: [ObjectIdentifier: ClientConnection] = [:]
    let pool: UpstreamPool
    /// Sampled spans waiting to leave the loop in one hand-off.
    private(set) var spanBatch: [SpanRecord] = []
    var random = SplitMix64()
    /// Reused buffer for building heads and chunk headers. Taken out while in use (a copy left
    /// behind would make `removeAll(keepingCapacity:)` allocate a fresh buffer every time).
    private var scratch: [UInt8] = []
    var accessLog: [UInt8] = []
    private(set) var draining = false
    private var upstreamErrorLog = LogThrottle(intervalMs: 5_000)
    private var handshakeErrorLog = LogThrottle(intervalMs: 5_000)
    private let logger = Logger(label: "traceproxy")
    /// Called when a connection closes (the listener may accept again).
    var onConnectionClosed: () -> Void = {}

    init(
        shared: SharedState, buffers: BufferPool, time: TimeSource, connector: TransportConnector,
        spanSink: SpanSink
    ) {
        self.shared = shared
        self.spanSink = spanSink
        self.buffers = buffers
        self.time = time
        self.connector = connector
        let c = shared.config
        timeouts = Self.timeouts(c)
        pool = UpstreamPool(
            maxIdle: max(1, c.upstreamMaxIdle / max(1, c.threads)), generation: shared.upstreamName.current.generation)
        scratch.reserveCapacity(8192)
    }

    private static func timeouts(_ c: ProxyConfig) -> ConnectionStateMachine.Timeouts {
        .init(
            headerMs: Int64(c.headerTimeoutMs), idleMs: Int64(c.idleTimeoutMs), bodyMs: Int64(c.bodyTimeoutMs),
            upstreamConnectMs: Int64(c.upstreamConnectTimeoutMs), upstreamMs: Int64(c.upstreamTimeoutMs),
            sendMs: Int64(c.sendTimeoutMs),
            handshakeMs: Int64(c.listenTLS?.handshakeTimeoutMs ?? ListenerTLS.defaultHandshakeTimeoutMs))
    }

    /// A reload's new settings. On the loop's queue. Spans and log lines of requests finished
    /// so far leave first, so they go where the configuration they ran under sends them.
    func replace(_ shared: SharedState) {
        flushSpans()
        flushAccessLog()
        self.shared = shared
        timeouts = Self.timeouts(shared.config)
    }

    /// Lends the scratch buffer, emptied, to `body`.
    func withScratch(_ body: (inout [UInt8]) -> Void) {
        var s: [UInt8] = []
        swap(&s, &scratch)
        s.removeAll(keepingCapacity: true)
        body(&s)
        scratch = s
    }

    /// Hands finished spans to the pipeline in batches rather than one by one.
    func record(_ span: SpanRecord) {
        spanBatch.append(span)
        if spanBatch.count >= 64 { flushSpans() }
    }

    func flushSpans() {
        if spanBatch.isEmpty { return }
        spanSink.submit(spanBatch)
        spanBatch.removeAll(keepingCapacity: true)
    }

    func tick(_ now: Int64) {
        for c in clients.values { c.tick(now) }
        flushSpans()
        flushAccessLog()
        pool.pruneClosed()
        // One locked read per tick: the upstream moved, so pooled connections to the old address retire.
        let generation = shared.upstreamName.current.generation
        if generation != pool.generation { pool.retire(olderThan: generation) }
    }

    /// Counts a failure in /metrics and logs the upstream's, throttled (the spans and /metrics
    /// carry every one of them).
    func count(_ failure: ExchangeFailure) {
        metrics.count(failure)
        guard !failure.isClientSide, failure != .drainTimeout else { return }
        if let more = upstreamErrorLog.admit(nowMs: time.monotonicMs()) {
            let tail = more > 0 ? " (\(more) more upstream errors since the last report)" : ""
            logger.warning(
                "upstream \(shared.upstreamName): \(failure.kind.rawValue): \(failure.message)\(tail)")
        }
    }

    /// The access-log line of a request refused before it had a usable head.
    /// An HTTPS client's handshake failed or timed out: counted by reason, logged at most every
    /// few seconds (a scanner can fail thousands a second), never disturbing other connections.
    func countHandshakeFailure(reason: String, message: String, peer: ClientPeer) {
        metrics.tlsHandshakeErrors[reason]?.add()
        if let more = handshakeErrorLog.admit(nowMs: time.monotonicMs()) {
            let tail = more > 0 ? " (\(more) more failed handshakes since the last report)" : ""
            logger.warning("TLS handshake from \(peer.host) failed (\(reason)): \(message)\(tail)")
        }
    }

    func logRejected(status: Int, reason: String, peer: ClientPeer) {
        guard shared.accessLog != nil else { return }
        AccessLog.appendRejected(status: status, reason: reason, peer: peer.host, to: &accessLog)
    }

    func flushAccessLog() {
        if accessLog.isEmpty { return }
        shared.accessLog?.write(accessLog)
        accessLog.removeAll(keepingCapacity: true)
    }

    // MARK: connections

    /// Takes a new client connection over `transport`. False (and the transport closed) when the
    /// proxy is draining or the transport cannot start.
    @discardableResult
    func adopt(_ transport: ByteTransport, peer: ClientPeer) -> Bool {
        if draining {
            transport.close()
            return false
        }
        let c = ClientConnection(ctx: self, transport: transport, peer: peer)
        do {
            try transport.start(handler: c, readable: true, writable: false)
        } catch {
            transport.close()
            return false
        }
        clients[ObjectIdentifier(c)] = c
        metrics.acceptedConnections.add()
        metrics.openConnections.add()
        return true
    }

    func connectionClosed(_ c: ClientConnection) {
        guard clients.removeValue(forKey: ObjectIdentifier(c)) != nil else { return }
        metrics.openConnections.subtract()
        onConnectionClosed()
    }

    /// Stop taking connections; close idle ones now, the rest after their current response.
    func beginDrain() {
        draining = true
        for c in Array(clients.values) { c.beginDrain() }
    }

    /// The drain is over (or out of time): what is left is answered or cut and recorded, then the
    /// last spans and log lines are handed off.
    func finalClose() {
        for c in Array(clients.values) { c.drainTimedOut() }
        pool.closeAll()
        flushSpans()
        flushAccessLog()
    }
}

/// Takes the spans a loop finished, in batches, without blocking the loop.
protocol SpanSink: AnyObject {
    func submit(_ spans: [SpanRecord])
}

extension SpanPipeline: SpanSink {}
