import HTTP1
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The I/O shell of one client connection: reads and parses requests, forwards each to an
/// upstream connection, streams the response back and records the span. What happens when, and
/// every deadline, is `ConnectionStateMachine`'s; this class feeds it events and carries out the
/// actions it returns. Loop queue only.
final class ClientConnection: EventHandler {
    let peer: Peer
    private unowned let ctx: LoopContext
    private let transport: ByteTransport
    private var machine: ConnectionStateMachine
    private var input = ByteBuffer()
    private var output = ByteBuffer()
    private var parser: HTTPParser
    private var responseParser = HTTPParser(kind: .response)
    private var exchange: Exchange?
    private var upstream: UpstreamConnection?
    private var relayFraming = HeadWriter.RelayFraming.none
    private var requestStartWall: Int64 = 0
    private var requestStartNs: Int64 = 0
    private var readEOF = false
    /// A write failed; acted on once the buffer being read (maybe the upstream's) is let go.
    private var writeFailed = false
    /// While set, `write` only queues: a response head and the body bytes read with it leave in
    /// one write.
    private var corked = false
    /// Inside the request parse loop: a finished exchange leaves the next pipelined request to it.
    private var parsing = false
    private(set) var isReleased = false

    static let highWater = 256 * 1024
    static let maxBufferedInput = 64 * 1024

    init(ctx: LoopContext, transport: ByteTransport, peer: Peer) {
        self.ctx = ctx
        self.transport = transport
        self.peer = peer
        parser = HTTPParser(
            kind: .request,
            limits: .init(maxHeaderBytes: ctx.config.maxHeaderBytes, maxHeaders: ctx.config.maxHeaders))
        machine = ConnectionStateMachine(timeouts: ctx.timeouts, now: ctx.time.monotonicMs())
    }

    /// No request in progress and nothing of one received.
    var isIdle: Bool { if case .idle = machine.state { return input.isEmpty } else { return false } }

    // MARK: events from the loop and the context

    func onReadable() {
        if isReleased { return }
        ctx.buffers.provide(&input)
        if case .lingering = machine.state {
            // Discard whatever the client still sends until it closes.
            switch input.read(from: transport, chunk: 4096) {
            case .bytes: input.removeAll()
            case .wouldBlock: break
            case .eof, .error: perform(.close)
            }
            settle()
            return
        }
        switch input.read(from: transport) {
        case .bytes:
            if case .tunnelling = machine.state {
                relayTunnelInput()
            } else {
                markRequestStart()
                process()
            }
        case .wouldBlock: break
        case .eof:
            readEOF = true
            perform(machine.clientEOF())
        case .error:
            perform(machine.clientReset())
        }
        settle()
    }

    func onWritable() {
        if isReleased { return }
        let before = output.readableCount
        switch output.write(to: transport) {
        case .bytes, .wouldBlock: break
        case .eof, .error:
            perform(machine.clientReset())
            return
        }
        if before > Self.highWater / 2 && output.readableCount <= Self.highWater / 2, let up = upstream {
            up.pauseReading(false)
            if exchange != nil { relayResponse() }
        }
        settle()
    }

    func tick(_ now: Int64) {
        if isReleased { return }
        perform(machine.tick(now: now))
        settle()
    }

    /// SIGTERM: a request already waiting in the socket is served; idle connections close.
    func beginDrain() {
        if isIdle { onReadable() }
        if isReleased { return }
        perform(machine.beginDrain())
        settle()
    }

    /// The drain is out of time: what is in flight is answered or cut, recorded, and closed.
    func drainTimedOut() {
        if isReleased { return }
        perform(machine.drainTimedOut())
        if !isReleased { perform(.close) }
    }

    // MARK: requests

    private func markRequestStart() {
        guard case .idle = machine.state, !input.isEmpty else { return }
        requestStartWall = ctx.time.wallMicros()
        requestStartNs = ctx.time.monotonicNs()
        machine.bytesReceived(now: requestStartNs / 1_000_000)
    }

    /// Parses as much client input as the state allows. The parser is called even with no input
    /// left: the event after a head or the last body bytes (`.end`) needs no further bytes.
    private func process() {
        parsing = true
        defer { parsing = false }
        while !isReleased && machine.acceptsRequestBytes {
            if let up = upstream, up.pendingOutput > UpstreamConnection.highWater { break }
            var event: HTTPParser.Event?
            let consumed: Int
            do {
                consumed = try input.withReadableBytes { (b) throws(HTTPParseError) -> Int in
                    let (n, e) = try parser.next(b)
                    if case .body(let r) = e { forwardRequestBody(UnsafeRawBufferPointer(rebasing: b[r])) }
                    event = e
                    return n
                }
            } catch {
                perform(machine.requestInvalid(error))
                return
            }
            input.consume(consumed)
            guard let event else {
                if consumed == 0 || input.isEmpty { break }
                continue
            }
            switch event {
            case .head(let head):
                if let error = HTTPParseError.checkHost(head) {
                    perform(machine.requestInvalid(error))
                    return
                }
                startExchange(head)
            case .body:
                break
            case .end:
                if exchange?.head.framing == .chunked { upstream?.send(ChunkedFraming.lastChunk) }
                machine.requestEnd(now: ctx.time.monotonicMs())
            }
        }
        upstream?.flushOutput()
    }

    private func startExchange(_ head: HTTPHead) {
        exchange = Exchange(
            head: head, trace: RequestTracer.decide(head: head, ctx: ctx), startWallMicros: requestStartWall,
            startNs: requestStartNs)
        responseParser = HTTPParser(kind: .response)
        responseParser.expectResponse(toHEAD: head.method == .head)
        ctx.metrics.spansStarted.add()
        perform(machine.requestHead(.init(head), now: ctx.time.monotonicMs()))
    }

    private func forwardRequestBody(_ bytes: UnsafeRawBufferPointer) {
        guard exchange != nil else { return }
        exchange!.requestBodyBytes += bytes.count
        machine.requestBody(now: ctx.time.monotonicMs())
        guard let up = upstream else { return }
        if exchange!.head.framing == .chunked {
            ctx.withScratch { h in
                ChunkedFraming.appendChunkHeader(size: bytes.count, to: &h)
                up.send(h)
            }
            up.send(bytes)
            up.send(ChunkedFraming.chunkTrailer)
        } else {
            up.send(bytes)
        }
    }

    /// Sends the forwarded head on a pooled connection, or on a new one (`fresh` skips the pool).
    private func connectUpstream(fresh: Bool) {
        guard let ex = exchange else { return }
        let now = ctx.time.monotonicNs()
        let up: UpstreamConnection
        if !fresh, let pooled = ctx.pool.take() {
            pooled.delegate = self
            up = pooled
        } else {
            do {
                up = try UpstreamConnection.connect(with: ctx.connector, buffers: ctx.buffers, delegate: self)
            } catch {
                perform(machine.upstreamFailed(.upstreamConnect(errno: error.errno), now: now / 1_000_000))
                return
            }
            ctx.metrics.upstreamConnections.add()
        }
        upstream = up
        let connecting = up.state == .connecting
        if !connecting { exchange!.connectedNs = now }
        machine.upstreamAttached(connecting: connecting, reused: up.reused, now: now / 1_000_000)
        ctx.withScratch { out in
            RequestTracer.buildForwardedHead(ex.head, trace: ex.trace, peerHost: peer.host, ctx: ctx, into: &out)
            up.send(out)
        }
    }

    // MARK: responses

    /// Relays what the upstream sent, as far as the client keeps up.
    private func relayResponse() {
        guard let up = upstream else { return }
        corked = true
        defer { uncork() }
        while upstream === up && exchange != nil && !writeFailed {
            if output.readableCount > Self.highWater {
                up.pauseReading(true)
                return
            }
            var event: HTTPParser.Event?
            var consumed = 0
            do {
                try up.consumeInput { (b) throws(HTTPParseError) -> Int in
                    let (n, e) = try responseParser.next(b)
                    if case .body(let r) = e { writeResponseBody(UnsafeRawBufferPointer(rebasing: b[r])) }
                    event = e
                    consumed = n
                    return n
                }
            } catch {
                perform(machine.upstreamFailed(.upstreamProtocol(error), now: ctx.time.monotonicMs()))
                return
            }
            switch event {
            case nil:
                if consumed == 0 || !up.hasInput { return }
            case .head(let head):
                responseHead(head)
            case .body:
                machine.responseBody(now: ctx.time.monotonicMs())
            case .end:
                perform(machine.responseEnd(upstreamIdle: !up.hasInput, now: ctx.time.monotonicMs()))
            }
        }
    }

    private func responseHead(_ head: HTTPHead) {
        guard let request = exchange?.head else { return }
        if exchange!.firstByteNs == 0 { exchange!.firstByteNs = ctx.time.monotonicNs() }
        exchange!.status = head.status
        relayFraming = HeadWriter.relayFraming(
            for: head, requestMethod: request.method, requestMinor: request.versionMinor)
        let action = machine.responseHead(
            status: head.status, keepAlive: head.keepAlive, framingNeedsClose: relayFraming == .close,
            now: ctx.time.monotonicMs())
        guard case .forwardResponseHead(let close) = action else { return perform(action) }
        let connection: HeadWriter.ConnectionOption =
            head.status == 101 ? .upgrade : close ? .close : request.versionMinor == 0 ? .keepAlive : .none
        ctx.withScratch { out in
            HeadWriter.appendResponseHead(
                head, framing: relayFraming, requestMethod: request.method, connection: connection,
                excluding: Self.responseExcluded, to: &out, extraFields: appendTraceResponse)
            write(out)
        }
    }

    private func writeResponseBody(_ bytes: UnsafeRawBufferPointer) {
        exchange?.responseBodyBytes += bytes.count
        if relayFraming == .chunked {
            ctx.withScratch { h in
                ChunkedFraming.appendChunkHeader(size: bytes.count, to: &h)
                write(h)
            }
            write(bytes)
            write(ChunkedFraming.chunkTrailer)
        } else {
            write(bytes)
        }
    }

    private func appendTraceResponse(_ out: inout [UInt8]) {
        guard ctx.config.traceResponse, let ex = exchange else { return }
        HeadWriter.appendField("traceresponse", RequestTracer.traceResponseValue(ex.trace.outgoing), to: &out)
    }

    // MARK: actions

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .none, .closeWhenFlushed, .forwardResponseHead:
            break
        case .startUpstream:
            connectUpstream(fresh: false)
        case .retryUpstream:
            upstream?.close()
            upstream = nil
            connectUpstream(fresh: true)
            upstream?.flushOutput()
        case .respond(let failure, let next):
            ctx.count(failure)
            exchange?.fail(failure)
            exchange?.status = failure.status
            releaseUpstream(reuse: false)
            var out: [UInt8] = []
            HeadWriter.appendSimpleResponse(
                status: failure.status, body: StatusText.reason(failure.status) + "\n",
                connection: next == .closeWhenFlushed ? .close : .none, to: &out, extraFields: appendTraceResponse)
            write(out)
            endExchange(then: next)
        case .reject(let failure):
            ctx.count(failure)
            ctx.metrics.countResponse(failure.status)
            ctx.logRejected(status: failure.status, reason: failure.message, peer: peer)
            write(
                SimpleResponse.make(status: failure.status, body: StatusText.reason(failure.status) + "\n", close: true)
            )
        case .abort(let failure):
            ctx.count(failure)
            exchange?.fail(failure)
            if exchange?.status == 0 { exchange?.status = failure.status }
            releaseUpstream(reuse: false)
            recordSpan()
            perform(.close)
        case .sendContinue:
            write(HeadWriter.continueResponse)
        case .finish(let reuse, let next):
            if relayFraming == .chunked { write(ChunkedFraming.lastChunk) }
            releaseUpstream(reuse: reuse)
            endExchange(then: next)
        case .enterTunnel:
            recordSpan()
            exchange = nil
            relayTunnelInput()
            if let up = upstream, up.hasInput { upstreamReadable(up) }
        case .shutdownUpstreamWrite:
            upstream?.shutdownWrite()
        case .linger:
            transport.shutdownWrite()
            input.removeAll()
        case .close:
            release()
        }
    }

    /// Records the span and, for `.serveNext`, starts on a pipelined request already received.
    private func endExchange(then next: ConnectionStateMachine.Next) {
        recordSpan()
        guard next == .serveNext, !input.isEmpty else { return }
        markRequestStart()
        if !parsing { process() }
    }

    private func recordSpan() {
        guard let ex = exchange else { return }
        exchange = nil
        RequestTracer.finish(ex, ctx: ctx, peer: peer)
    }

    private func releaseUpstream(reuse: Bool) {
        guard let up = upstream else { return }
        upstream = nil
        if reuse { ctx.pool.put(up) } else { up.close() }
    }

    private func relayTunnelInput() {
        guard let up = upstream, !input.isEmpty else { return }
        input.withReadableBytes { up.send($0) }
        input.removeAll()
        up.flushOutput()
    }

    private func release() {
        if isReleased { return }
        isReleased = true
        releaseUpstream(reuse: false)
        exchange = nil
        transport.close()
        input.removeAll()
        output.removeAll()
        ctx.buffers.reclaim(&input)
        ctx.buffers.reclaim(&output)
        ctx.connectionClosed(self)
    }

    // MARK: writing

    /// A failed write only marks the connection: writes happen while an upstream buffer is being
    /// read, and closing there would release that buffer under the reader. `settle` acts on it.
    private func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isReleased, !writeFailed, !bytes.isEmpty else { return }
        ctx.buffers.provide(&output)
        if corked || !output.isEmpty {
            output.append(bytes)
            return
        }
        switch transport.write(bytes) {
        case .bytes(let n) where n == bytes.count: return
        case .bytes(let n): output.append(UnsafeRawBufferPointer(rebasing: bytes[n...]))
        case .wouldBlock: output.append(bytes)
        case .eof, .error: writeFailed = true
        }
    }

    private func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    private func uncork() {
        corked = false
        if isReleased { return }
        if output.isEmpty { settle() } else { onWritable() }
    }

    /// Every path through the connection ends here: a failed write becomes a reset, a flushed last
    /// answer a linger or close, empty buffers go back to the pool, and epoll is told what we want.
    private func settle() {
        if isReleased { return }
        if writeFailed {
            writeFailed = false
            perform(machine.clientReset())
            return
        }
        ctx.buffers.reclaim(&input)
        if !corked { ctx.buffers.reclaim(&output) }
        if case .closingAfterFlush = machine.state, output.isEmpty, !corked {
            perform(machine.outputFlushed(readEOF: readEOF, now: ctx.time.monotonicMs()))
            if isReleased { return }
        }
        var wantRead = !readEOF
        if case .lingering = machine.state {
        } else if input.readableCount >= Self.maxBufferedInput || output.readableCount > Self.highWater {
            wantRead = false
        } else if let up = upstream, up.pendingOutput > UpstreamConnection.highWater {
            wantRead = false
        }
        transport.setInterest(readable: wantRead, writable: !corked && !output.isEmpty)
    }

    static let responseExcluded: Set<String> = ["traceresponse"]
}

extension ClientConnection: UpstreamDelegate {
    func upstreamConnected(_ up: UpstreamConnection) {
        guard up === upstream else { return }
        exchange?.connectedNs = ctx.time.monotonicNs()
        machine.upstreamConnected(now: ctx.time.monotonicMs())
    }

    func upstreamReadable(_ up: UpstreamConnection) {
        guard up === upstream else { return }
        if case .tunnelling = machine.state {
            up.consumeInput { b in
                write(b)
                return b.count
            }
        } else {
            relayResponse()
        }
        settle()
    }

    func upstreamClosed(_ up: UpstreamConnection, errno: Int32) {
        guard up === upstream else { return }
        var end = ConnectionStateMachine.UpstreamEnd.nothing
        if case .exchanging = machine.state {
            do {
                if case .end = try responseParser.finish() { end = .complete }
            } catch {
                end = .truncated
            }
        }
        let action = machine.upstreamClosed(errno: errno, end: end, now: ctx.time.monotonicMs())
        if case .closeWhenFlushed = action { upstream = nil }
        perform(action)
        settle()
    }

    func upstreamConnectFailed(_ up: UpstreamConnection, errno: Int32) {
        guard up === upstream else { return }
        upstream = nil
        perform(machine.upstreamFailed(.upstreamConnect(errno: errno), now: ctx.time.monotonicMs()))
        settle()
    }

    func upstreamDrained(_ up: UpstreamConnection) {
        guard up === upstream else { return }
        process()
        settle()
    }
}

/// The client's address, kept as text once per connection for spans and the access log.
struct Peer {
    let host: String
    let port: UInt16
    let v6: Bool

    init(host: String, port: UInt16, v6: Bool) {
        self.host = host
        self.port = port
        self.v6 = v6
    }

    init(_ address: SocketAddress) {
        let hp = address.hostAndPort
        self.init(host: hp.host, port: hp.port, v6: address.family == AF_INET6)
    }
}
