import HTTP1
import Logging
import Propagation
import Reactor
import Reporters
import Spans
import Stats

/// Everything one event loop owns: its connections, its upstream pool, its span batch and scratch
/// buffers. Touched only on the loop's queue, so none of it is locked.
final class LoopContext {
    let loop: EventLoop
    let shared: SharedState
    var config: ProxyConfig { shared.config }
    var metrics: ProxyMetrics { shared.metrics }

    /// Open client connections (for timeouts and drain).
    var clients: [ObjectIdentifier: ClientConnection] = [:]
    /// Connections that are mid-request to the upstream, for the upstream timeouts.
    let pool: UpstreamPool
    /// Sampled spans waiting to leave the loop in one hand-off.
    var spanBatch: [SpanRecord] = []
    var random = SplitMix64()
    /// Reused buffer for building heads and chunk headers. Taken out while in use (a copy left
    /// behind would make `removeAll(keepingCapacity:)` allocate a fresh buffer every time).
    private var scratch: [UInt8] = []
    var accessLog: [UInt8] = []
    var draining = false
    var upstreamErrorLog = LogThrottle(intervalMs: 5_000)
    let logger = Logger(label: "traceproxy")
    var listener: Listener?

    init(loop: EventLoop, shared: SharedState) {
        self.loop = loop
        self.shared = shared
        pool = UpstreamPool(maxIdle: max(1, shared.config.upstreamMaxIdle / max(1, shared.config.threads)))
        scratch.reserveCapacity(8192)
    }

    func takeScratch() -> [UInt8] {
        var s: [UInt8] = []
        swap(&s, &scratch)
        s.removeAll(keepingCapacity: true)
        return s
    }

    func returnScratch(_ s: [UInt8]) { scratch = s }

    func withScratch(_ body: (inout [UInt8]) -> Void) {
        var s = takeScratch()
        body(&s)
        returnScratch(s)
    }

    /// Hands finished spans to the pipeline in batches rather than one by one.
    func record(_ span: SpanRecord) {
        spanBatch.append(span)
        if spanBatch.count >= 64 { flushSpans() }
    }

    func flushSpans() {
        if spanBatch.isEmpty { return }
        shared.pipeline.submit(spanBatch)
        spanBatch.removeAll(keepingCapacity: true)
    }

    func tick(_ now: Int64) {
        for c in clients.values { c.checkTimeouts(now) }
        flushSpans()
        flushAccessLog()
        pool.pruneClosed()
    }

    /// Upstream failures go to stderr, throttled: the spans and /metrics carry every one of them.
    func logUpstreamError(_ kind: String, _ message: String) {
        if let more = upstreamErrorLog.admit(nowMs: loop.nowMs) {
            let tail = more > 0 ? " (\(more) more upstream errors since the last report)" : ""
            logger.warning("upstream \(shared.upstreamDescription): \(kind): \(message)\(tail)")
        }
    }

    func flushAccessLog() {
        if accessLog.isEmpty { return }
        shared.accessLog?.write(accessLog)
        accessLog.removeAll(keepingCapacity: true)
    }
}

extension LoopContext {
    func accept(_ fd: Int32, _ peer: SocketAddress) {
        if draining {
            loop.closeDescriptor(fd)
            return
        }
        let c = ClientConnection(ctx: self, fd: fd, peer: peer)
        do {
            try loop.register(fd, handler: c, readable: true, writable: false)
        } catch {
            loop.closeDescriptor(fd)
            return
        }
        Socket.setNoDelay(fd)
        clients[ObjectIdentifier(c)] = c
        metrics.acceptedConnections.add()
        metrics.openConnections.add()
    }

    func connectionClosed() { listener?.resumeIfPaused() }

    /// Stop accepting; close idle connections now, the rest after their current response.
    func beginDrain() {
        // Connections the kernel already accepted, and requests already sent on idle connections,
        // were made before the signal: serve them rather than reset them.
        listener?.acceptBacklog()
        draining = true
        listener?.close()
        for c in Array(clients.values) {
            if c.isIdle { c.onReadable() }
            if c.closed { continue }
            if c.isIdle { c.close() } else { c.closeAfterResponse = true }
        }
    }

    /// The drain is over (or out of time): close what is left and hand off the last spans.
    func finalClose() {
        for c in Array(clients.values) { c.close() }
        pool.closeAll()
        flushSpans()
        flushAccessLog()
    }
}
