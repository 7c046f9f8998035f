import HTTP1
import Propagation
import Reactor
import Spans
import TLS

/// The I/O shell of one client connection: reads and parses requests, hands each to the upstream
/// relay, and records its span. What happens when, and every deadline, is the state machine's;
/// this class feeds it events and carries out the action each returns. Loop queue only.
final class ClientConnection: EventHandler {
    let peer: ClientPeer
    private unowned let ctx: LoopContext
    private let transport: ByteTransport
    private var machine: ConnectionStateMachine
    private var reader: RequestReader
    private let writer: ClientWriter
    private var relay: UpstreamRelay!
    private var exchange: Exchange?
    private var readEOF = false
    /// What an HTTPS client's handshake agreed, for its spans (nil for plain HTTP).
    private var tls: TLSFacts?
    /// Inside the request parse loop: a finished exchange leaves the next pipelined request to it.
    private var parsing = false
    private(set) var isReleased = false

    init(ctx: LoopContext, transport: ByteTransport, peer: ClientPeer) {
        self.ctx = ctx
        self.transport = transport
        self.peer = peer
        writer = ClientWriter(transport: transport, buffers: ctx.buffers)
        reader = RequestReader(
            limits: .init(maxHeaderBytes: ctx.config.maxHeaderBytes, maxHeaders: ctx.config.maxHeaders),
            rules: ctx.shared.requestRules, buffers: ctx.buffers)
        let tlsTransport = transport as? TLSTransport
        machine = ConnectionStateMachine(timeouts: ctx.timeouts, now: ctx.time.monotonicMs(), tls: tlsTransport != nil)
        relay = UpstreamRelay(ctx: ctx, writer: writer) { [unowned self] in upstream($0) }
        tlsTransport?.onHandshake = { [unowned self] in handshake($0) }
    }

    /// The TLS handshake ended (a failure also shows as a read error, which closes the connection).
    private func handshake(_ result: Result<TLSHandshakeInfo, TLSError>) {
        switch result {
        case .success(let info):
            tls = TLSFacts(info)
            ctx.metrics.tlsHandshakes.add()
            machine.handshakeFinished(now: now)
        case .failure(let error):
            ctx.countHandshakeFailure(reason: error.reason.rawValue, message: error.message, peer: peer)
        }
    }

    private var now: Int64 { ctx.time.monotonicMs() }

    func onReadable() {
        if isReleased { return }
        let lingering = machine.state.isLingering
        switch reader.read(from: transport, discard: lingering) {
        case .bytes where lingering: break
        case .bytes:
            if case .tunnelling = machine.state {
                tunnel(fromClient: true, fromUpstream: false)
            } else {
                markRequestStart()
                process()
            }
        case .wouldBlock: break
        case .eof:
            readEOF = true
            perform(lingering ? .close : machine.clientEOF())
        case .error:
            perform(lingering ? .close : machine.clientReset())
        }
        settle()
    }

    func onWritable() {
        if isReleased { return }
        guard let drained = writer.flush() else { return perform(machine.clientReset()) }
        if writer.pending > 0 { machine.clientOutput(pending: true, progressed: true, now: now) }
        // The client caught up: read the paused response again.
        if drained && relay.pauseReading(false) && exchange != nil {
            machine.responsePaused(false, now: now)
            relayResponse()
        }
        settle()
    }

    func tick(_ now: Int64) {
        if isReleased { return }
        let handshaking = if case .handshaking = machine.state { true } else { false }
        let action = machine.tick(now: now)
        if handshaking && action == .close && !machine.draining {
            ctx.countHandshakeFailure(
                reason: ProxyMetrics.handshakeTimeout, message: "handshake not finished in time", peer: peer)
        }
        perform(action)
        settle()
    }

    /// SIGTERM: a request already waiting in the socket is served; idle connections close.
    func beginDrain() {
        if case .idle = machine.state, reader.isEmpty { onReadable() }
        if isReleased { return }
        perform(machine.beginDrain())
        settle()
    }

    /// The drain is out of time: what is in flight is answered or cut, recorded, and closed.
    func drainTimedOut() {
        if isReleased { return }
        perform(machine.drainTimedOut())
        perform(.close)
    }

    private func upstream(_ notice: UpstreamRelay.Notice) {
        switch notice {
        case .connected:
            exchange?.connectedNs = ctx.time.monotonicNs()
            machine.upstreamConnected(now: now)
        case .readable:
            if case .tunnelling = machine.state {
                tunnel(fromClient: false, fromUpstream: true)
            } else {
                relayResponse()
            }
        case .closed(let errno, let tls):
            let end = machine.exchange == nil ? .nothing : relay.endOnClose()
            // A TLS refusal is its own failure, not a stale connection to retry.
            if let tls, machine.exchange != nil, end != .complete {
                perform(machine.upstreamFailed(.upstreamTLS(tls), now: now))
            } else {
                perform(machine.upstreamClosed(errno: errno, end: end, now: now))
            }
        case .connectFailed(let errno, let tls):
            perform(machine.upstreamFailed(tls.map { .upstreamTLS($0) } ?? .upstreamConnect(errno: errno), now: now))
        case .drained:
            machine.requestPaused(false, now: now)
            process()
        }
        settle()
    }

    private func markRequestStart() {
        guard case .idle = machine.state, !reader.isEmpty else { return }
        reader.markStart(ctx.time)
        machine.bytesReceived(now: reader.startNs / 1_000_000)
    }

    /// Parses as much client input as the state allows. The parser is called even with no input
    /// left: the event after a head or the last body bytes (`.end`) needs no further bytes.
    private func process() {
        parsing = true
        defer { parsing = false }
        while !isReleased && machine.acceptsRequestBytes && relay.pendingOutput <= UpstreamConnection.highWater {
            let event: HTTPParser.Event?
            do {
                event = try reader.next { forwardRequestBody($0) }
            } catch {
                return perform(machine.requestRefused(error))
            }
            switch event {
            case nil: return relay.flush()
            case .head(let head): startExchange(head)
            case .body: break
            case .end:
                relay.endBody()
                machine.requestEnd(now: now)
            }
        }
        relay.flush()
        // Stopped because the upstream is not taking the body (it resumes on `.drained`).
        if relay.pendingOutput > UpstreamConnection.highWater { machine.requestPaused(true, now: now) }
    }

    private func startExchange(_ head: HTTPHead) {
        exchange = Exchange(
            head: head, trace: RequestTracer.decide(head: head, ctx: ctx), startWallMicros: reader.startWall,
            startNs: reader.startNs, tls: tls)
        if ctx.config.requestID == .generate && head.firstValueRange(lowercasedName: "x-request-id") == nil {
            exchange!.generatedRequestID = TraceID.random(using: &ctx.random)
        }
        relay.begin(head)
        ctx.metrics.spansStarted.add()
        perform(machine.requestHead(.init(head), now: now))
    }

    private func forwardRequestBody(_ bytes: UnsafeRawBufferPointer) {
        guard exchange != nil else { return }
        exchange!.requestBodyBytes += bytes.count
        machine.requestBody(now: now)
        relay.sendBody(bytes)
    }

    /// Sends the forwarded head on a pooled connection, or on a new one (`fresh` skips the pool).
    private func connectUpstream(fresh: Bool) {
        guard let ex = exchange else { return }
        let startNs = ctx.time.monotonicNs()
        do {
            let (connecting, reused) = try relay.attach(fresh: fresh, exchange: ex, peerHost: peer.host)
            if !connecting { exchange!.connectedNs = startNs }
            machine.upstreamAttached(connecting: connecting, reused: reused, now: startNs / 1_000_000)
        } catch {
            let failure: ExchangeFailure =
                error.isResolverFailure ? .upstreamUnresolved(error.description) : .upstreamConnect(errno: error.errno)
            perform(machine.upstreamFailed(failure, now: startNs / 1_000_000))
        }
    }

    /// Relays what the upstream sent, as far as the client keeps up. Corked: the head and the body
    /// bytes that came with it leave in one write.
    private func relayResponse() {
        writer.cork()
        defer { uncork() }
        while exchange != nil && !writer.failed && writer.pending <= ClientWriter.highWater {
            let event: UpstreamRelay.Event?
            do {
                event = try relay.next()
            } catch {
                return perform(machine.upstreamFailed(.upstreamProtocol(error), now: now))
            }
            switch event {
            case nil: return
            case .head(let head): responseHead(head)
            case .body(let count):
                exchange?.responseBodyBytes += count
                machine.responseBody(now: now)
            case .end: perform(machine.responseEnd(upstreamIdle: !relay.hasInput, now: now))
            }
        }
        // The client is not taking the response as fast as it comes: stop reading it for now.
        if writer.pending > ClientWriter.highWater {
            relay.pauseReading(true)
            machine.responsePaused(true, now: now)
        }
    }

    private func responseHead(_ head: HTTPHead) {
        guard let request = exchange?.head else { return }
        if exchange!.firstByteNs == 0 { exchange!.firstByteNs = ctx.time.monotonicNs() }
        exchange!.status = head.status
        for name in ctx.shared.capturedResponseHeaders {
            if let value = head.firstValue(lowercasedName: name) {
                exchange!.capturedResponseHeaders.append((name, value))
            }
        }
        let framing = relay.chooseFraming(for: head, request: request)
        let action = machine.responseHead(
            status: head.status, keepAlive: head.keepAlive, framingNeedsClose: framing == .close, now: now)
        guard case .forwardResponseHead(let close) = action else { return perform(action) }
        relay.writeResponseHead(head, request: request, close: close, extraFields: appendTraceResponse)
    }

    private func appendTraceResponse(_ out: inout [UInt8]) {
        guard ctx.config.traceResponse, let ex = exchange, !ex.trace.untraced else { return }
        TraceResponse.appendField(ex.trace.outgoing, to: &out)
    }

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .none, .forwardResponseHead: break
        case .closeWhenFlushed: recordSpan()  // the upstream ended the tunnel
        case .startUpstream: connectUpstream(fresh: false)
        case .retryUpstream: connectUpstream(fresh: true)
        case .respond(let failure, let next):
            fail(failure, status: failure.status)
            relay.release(reuse: false)
            writer.writeAnswer(
                status: failure.status, close: next == .closeWhenFlushed, extraFields: appendTraceResponse)
            endExchange(then: next)
        case .reject(let failure):
            fail(failure)
            ctx.metrics.countResponse(failure.status)
            ctx.logRejected(status: failure.status, reason: failure.message, peer: peer)
            writer.writeAnswer(status: failure.status, close: true, extraFields: failure.appendAnswerFields)
        case .abort(let failure):
            fail(failure, status: exchange?.status == 0 ? failure.status : nil)
            recordSpan()
            release()
        case .sendContinue: writer.write(HeadWriter.continueResponse)
        case .finish(let reuse, let next):
            relay.writeLastChunk()
            relay.release(reuse: reuse)
            endExchange(then: next)
        case .enterTunnel: tunnel(fromClient: true, fromUpstream: true)
        case .shutdownUpstreamWrite: relay.shutdownWrite()
        case .linger:
            transport.shutdownWrite()
            reader.removeAll()
        case .close: release()
        }
    }

    /// Passes tunnel bytes on. The span stays open until the connection closes: it covers the
    /// tunnel, and its sizes count the bytes each way.
    private func tunnel(fromClient: Bool, fromUpstream: Bool) {
        if fromClient { exchange?.requestBodyBytes += relay.sendTunnel(from: &reader) }
        if fromUpstream { exchange?.responseBodyBytes += relay.relayTunnel() }
    }

    private func fail(_ failure: ExchangeFailure, status: Int? = nil) {
        ctx.count(failure)
        exchange?.fail(failure, status: status)
    }

    /// Records the span and, for `.serveNext`, starts on a pipelined request already received.
    private func endExchange(then next: ConnectionStateMachine.Next) {
        recordSpan()
        guard next == .serveNext, !reader.isEmpty else { return }
        markRequestStart()
        if !parsing { process() }
    }

    private func recordSpan() {
        guard let ex = exchange else { return }
        exchange = nil
        RequestTracer.finish(ex, ctx: ctx, peer: peer)
    }

    private func release() {
        if isReleased { return }
        isReleased = true
        relay.release(reuse: false)
        recordSpan()  // a tunnel's, which ends with the connection
        transport.close()
        reader.release()
        writer.discard()
        ctx.connectionClosed(self)
    }

    private func uncork() {
        writer.uncork()
        if isReleased { return }
        if writer.pending == 0 { settle() } else { onWritable() }
    }

    /// Every path through the connection ends here: a failed write becomes a reset, a flushed last
    /// answer a linger or close, empty buffers go back to the pool, and epoll is told what we want.
    private func settle() {
        if isReleased { return }
        if writer.failed {
            writer.clearFailure()
            return perform(machine.clientReset())
        }
        reader.reclaim()
        writer.reclaim()
        if (writer.pending > 0) != (machine.sendDeadline != nil) {
            machine.clientOutput(pending: writer.pending > 0, now: now)
        }
        if case .closingAfterFlush = machine.state, writer.pending == 0, !writer.corked {
            perform(machine.outputFlushed(readEOF: readEOF, now: now))
            if isReleased { return }
        }
        let backlogged =
            reader.isFull || writer.pending > ClientWriter.highWater
            || relay.pendingOutput > UpstreamConnection.highWater
        transport.setInterest(
            readable: !readEOF && (machine.state.isLingering || !backlogged),
            writable: !writer.corked && writer.pending > 0)
    }
}
