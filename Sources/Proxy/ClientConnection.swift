import HTTP1
import Propagation
import Reactor
import Spans

#if canImport(Glibc)
    import Glibc
#endif

/// One client connection: parses requests, forwards each to an upstream connection, streams the
/// response back, and records the span. Requests on a connection are handled one at a time;
/// pipelined requests wait unparsed in `input` until the previous response is complete, which is
/// what keeps their answers in order.
final class ClientConnection: EventHandler {
    let ctx: LoopContext
    let fd: Int32
    let peer: ClientPeer
    var input = ByteBuffer()
    var output = ByteBuffer()
    var parser: HTTPParser
    var exchange: Exchange?
    private(set) var closed = false
    var readEOF = false
    var readPaused = false
    var closeAfterResponse = false
    /// Write side shut after the last response; reading and discarding until the peer closes, so an
    /// unread pipelined request does not turn our close into a reset that loses the response.
    var lingering = false
    var lingerDeadline: Int64 = 0
    var closeWhenFlushed = false
    var headDeadline: Int64 = 0
    var idleDeadline: Int64 = 0
    var bodyDeadline: Int64 = 0
    var requestStartWall: Int64 = 0
    var requestStartNs: Int64 = 0
    var tunnel = false
    /// While set, `write` only queues: a response's head and the body bytes read with it leave in
    /// one write.
    var corked = false

    static let highWater = 256 * 1024
    static let maxBufferedInput = 64 * 1024

    init(ctx: LoopContext, fd: Int32, peer: SocketAddress) {
        self.ctx = ctx
        self.fd = fd
        self.peer = ClientPeer(peer)
        parser = HTTPParser(
            kind: .request,
            limits: .init(maxHeaderBytes: ctx.config.maxHeaderBytes, maxHeaders: ctx.config.maxHeaders))
        idleDeadline = ctx.loop.nowMs + Int64(ctx.config.idleTimeoutMs)
    }

    var isIdle: Bool { exchange == nil && input.isEmpty && parser.isIdle }

    // MARK: client I/O

    func onReadable() {
        if closed { return }
        ctx.loop.buffers.provide(&input)
        if lingering {
            // Discard whatever the client still sends until it closes.
            switch input.read(from: fd, chunk: 4096) {
            case .bytes: input.removeAll()
            case .wouldBlock: break
            case .eof, .error: close()
            }
            ctx.loop.buffers.reclaim(&input)
            return
        }
        switch input.read(from: fd) {
        case .bytes:
            if exchange == nil && requestStartNs == 0 { markRequestStart() }
            process()
        case .wouldBlock:
            return
        case .eof:
            readEOF = true
            updateInterest()
            handleClientEOF()
        case .error:
            abortExchange(.clientReset, "client connection reset")
            close()
        }
    }

    private func handleClientEOF() {
        if tunnel {
            if let up = exchange?.upstream { Socket.shutdownWrite(up.fd) }
            return
        }
        if exchange == nil {
            // Between requests, or inside a partial head: nothing to answer.
            close()
            return
        }
        if exchange!.requestDone {
            closeAfterResponse = true
        } else {
            abortExchange(.clientClosed, "client closed the connection mid-request")
            close()
        }
    }

    private func markRequestStart() {
        requestStartWall = Clock.wallMicros()
        requestStartNs = Clock.monotonicNs()
        headDeadline = ctx.loop.nowMs + Int64(ctx.config.headerTimeoutMs)
        idleDeadline = 0
    }

    /// Parses as much client input as the current state allows.
    func process() {
        // The parser is called even with no input left: the event after a head or the last body
        // bytes (`.end`) needs no further bytes.
        while !closed && !closeWhenFlushed {
            if tunnel {
                if let up = exchange?.upstream, !input.isEmpty {
                    input.withReadableBytes { up.send($0) }
                    input.removeAll()
                }
                break
            }
            if let ex = exchange {
                if ex.requestDone { break }
                if let up = ex.upstream, up.pendingOutput > UpstreamConnection.highWater { break }
            }
            let consumed: Int
            let event: HTTPParser.Event?
            do {
                (consumed, event) = try input.withReadableBytes { (b) throws(HTTPParseError) in try parser.next(b) }
            } catch {
                reject(error)
                return
            }
            guard let event else {
                input.consume(consumed)
                if consumed == 0 || input.isEmpty { break }
                continue
            }
            switch event {
            case .head(let head):
                input.consume(consumed)
                if let error = HTTPParseError.checkHost(head) {
                    reject(error)
                    return
                }
                startExchange(head)
            case .body(let range):
                input.withReadableBytes { forwardRequestBody(UnsafeRawBufferPointer(rebasing: $0[range])) }
                input.consume(consumed)
            case .end:
                input.consume(consumed)
                requestEnded()
            }
        }
        exchange?.upstream?.flushOutput()
        updateInterest()
    }

    /// Also the place where a failed write turns into a close (see `write`) and where empty
    /// buffers go back to the loop's pool: every path through the connection ends here.
    func updateInterest() {
        if closeIfWriteFailed() { return }
        let buffers = ctx.loop.buffers
        buffers.reclaim(&input)
        if !corked { buffers.reclaim(&output) }
        var wantRead = !readEOF
        if lingering {
            wantRead = !readEOF
        } else if input.readableCount >= Self.maxBufferedInput {
            wantRead = false
        } else if let ex = exchange, let up = ex.upstream, up.pendingOutput > UpstreamConnection.highWater {
            wantRead = false
        } else if output.readableCount > Self.highWater {
            wantRead = false
        }
        readPaused = !wantRead
        // While corked the pending bytes are written by `uncork`; asking epoll for writability now
        // would cost two epoll_ctl calls per response for nothing.
        ctx.loop.setInterest(fd, readable: wantRead, writable: !corked && !output.isEmpty)
    }

    /// A failed write only marks the connection: writes happen while an upstream buffer is being
    /// read, and closing there would release that buffer under the reader. `updateInterest` (or
    /// the response loop) closes it right after.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard !closed, !writeFailed, !bytes.isEmpty else { return }
        if corked {
            ctx.loop.buffers.provide(&output)
            output.append(bytes)
            return
        }
        if output.isEmpty {
            switch Socket.write(fd, bytes) {
            case .bytes(let n) where n == bytes.count: return
            case .bytes(let n):
                ctx.loop.buffers.provide(&output)
                output.append(UnsafeRawBufferPointer(rebasing: bytes[n...]))
            case .wouldBlock:
                ctx.loop.buffers.provide(&output)
                output.append(bytes)
            case .eof, .error:
                writeFailed = true
                return
            }
            ctx.loop.setInterest(fd, readable: !readPaused && !readEOF, writable: true)
            return
        }
        output.append(bytes)
    }

    private var writeFailed = false

    /// Closes a connection whose client went away while we wrote to it. True when closed.
    private func closeIfWriteFailed() -> Bool {
        if closed { return true }
        guard writeFailed else { return false }
        abortExchange(.clientReset, "client connection reset while writing")
        close()
        return true
    }

    func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    func onWritable() {
        if closed { return }
        let before = output.readableCount
        switch output.write(to: fd) {
        case .bytes, .wouldBlock: break
        case .eof, .error:
            abortExchange(.clientReset, "client connection reset while writing")
            close()
            return
        }
        if output.isEmpty && closeWhenFlushed {
            startLinger()
            return
        }
        if before > Self.highWater / 2 && output.readableCount <= Self.highWater / 2 {
            exchange?.upstream?.pauseReading(false)
            if let ex = exchange, ex.upstream != nil { processResponse() }
        }
        updateInterest()
    }

    private func uncork() {
        corked = false
        if closed { return }
        if output.isEmpty {
            updateInterest()
            return
        }
        onWritable()
    }

    /// Closes once everything queued for the client has been written.
    func closeAfterFlush() {
        closeWhenFlushed = true
        if output.isEmpty { startLinger() } else { updateInterest() }
    }

    private func startLinger() {
        if closed || lingering { return }
        if readEOF {
            close()
            return
        }
        Socket.shutdownWrite(fd)
        lingering = true
        input.removeAll()
        lingerDeadline = ctx.loop.nowMs + 2000
        ctx.loop.setInterest(fd, readable: true, writable: false)
    }

    func close() {
        if closed { return }
        closed = true
        if let ex = exchange {
            ex.upstream?.close()
            ex.upstream = nil
        }
        exchange = nil
        ctx.clients[ObjectIdentifier(self)] = nil
        ctx.metrics.openConnections.subtract()
        ctx.loop.closeDescriptor(fd)
        input.removeAll()
        output.removeAll()
        ctx.loop.buffers.reclaim(&input)
        ctx.loop.buffers.reclaim(&output)
        ctx.connectionClosed()
    }

    // MARK: timeouts

    func checkTimeouts(_ now: Int64) {
        if closed { return }
        if lingering {
            if now >= lingerDeadline { close() }
            return
        }
        if closeWhenFlushed { return }
        guard let ex = exchange else {
            if headDeadline > 0 && now >= headDeadline {
                ctx.metrics.clientErrors.add()
                sendStatusAndClose(408, "request head not received in time")
            } else if headDeadline == 0 && idleDeadline > 0 && now >= idleDeadline {
                close()
            } else if ctx.draining && headDeadline == 0 && input.isEmpty {
                close()
            }
            return
        }
        if tunnel { return }
        if ex.connectDeadline > 0 && now >= ex.connectDeadline {
            ctx.metrics.upstreamTimeouts.add()
            // Unreachable is a 502 (the issue's contract; Envoy answers 503, nginx 504): 504 is kept
            // for an upstream that accepted the request and did not answer.
            failExchange(status: 502, kind: .upstreamConnectTimeout, message: "upstream connect timed out")
        } else if !ex.requestDone && bodyDeadline > 0 && now >= bodyDeadline {
            ctx.metrics.clientErrors.add()
            failClientSide(status: 408, kind: .clientTimeout, message: "request body not received in time")
        } else if ex.upstreamDeadline > 0 && now >= ex.upstreamDeadline {
            ctx.metrics.upstreamTimeouts.add()
            failExchange(status: 504, kind: .upstreamTimeout, message: "upstream did not respond in time")
        }
    }

    // MARK: requests

    private func startExchange(_ head: HTTPHead) {
        headDeadline = 0
        if requestStartNs == 0 { markRequestStart() }
        let now = ctx.loop.nowMs
        bodyDeadline = head.framing == .none ? 0 : now + Int64(ctx.config.bodyTimeoutMs)
        let trace = RequestTracer.decide(head: head, ctx: ctx)
        var forwarded: [UInt8] = []
        forwarded.reserveCapacity(head.bytes.count + 384)
        RequestTracer.buildForwardedHead(head, trace: trace, peerHost: peer.host, ctx: ctx, into: &forwarded)
        let ex = Exchange(
            head: head, trace: trace, forwardedHead: forwarded, startWallMicros: requestStartWall,
            startNs: requestStartNs)
        exchange = ex
        if !head.keepAlive || ctx.draining { closeAfterResponse = true }
        ctx.metrics.spansStarted.add()
        connectUpstream(ex, fresh: false)
    }

    private func connectUpstream(_ ex: Exchange, fresh: Bool) {
        let now = ctx.loop.nowMs
        if !fresh, let up = ctx.pool.take() {
            up.delegate = self
            ex.upstream = up
            ex.connectedNs = Clock.monotonicNs()
            up.send(ex.forwardedHead)
        } else {
            do {
                let up = try UpstreamConnection.connect(to: ctx.shared.upstreamAddress, loop: ctx.loop)
                ctx.metrics.upstreamConnections.add()
                up.delegate = self
                ex.upstream = up
                ex.connectDeadline = now + Int64(ctx.config.upstreamConnectTimeoutMs)
                up.send(ex.forwardedHead)
            } catch {
                ctx.metrics.upstreamConnectErrors.add()
                failExchange(status: 502, kind: .upstreamConnect, message: "\(error)")
                return
            }
        }
        ex.upstreamDeadline = now + Int64(ctx.config.upstreamTimeoutMs)
    }

    private func forwardRequestBody(_ bytes: UnsafeRawBufferPointer) {
        guard let ex = exchange else { return }
        ex.requestBodyBytes += bytes.count
        bodyDeadline = ctx.loop.nowMs + Int64(ctx.config.bodyTimeoutMs)
        guard let up = ex.upstream else { return }
        if ex.head.framing == .chunked {
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

    private func requestEnded() {
        guard let ex = exchange else { return }
        if ex.head.framing == .chunked { ex.upstream?.send(ChunkedFraming.lastChunk) }
        ex.requestDone = true
        bodyDeadline = 0
        if ex.upstream != nil { ex.upstreamDeadline = ctx.loop.nowMs + Int64(ctx.config.upstreamTimeoutMs) }
    }

    /// The client sent something the parser refuses: answer with its status and close.
    private func reject(_ error: HTTPParseError) {
        ctx.metrics.clientErrors.add()
        failClientSide(status: error.status, kind: .clientProtocol, message: "malformed request: \(error)")
    }

    /// The client broke its side (a malformed or stalled request): answer `status` and close, or
    /// only close when a response has already started. A request whose head went upstream gets
    /// its span, with the status the client was sent; either way the response is counted once.
    private func failClientSide(status: Int, kind: SpanErrorKind, message: String) {
        guard let ex = exchange else {
            sendStatusAndClose(status, message)
            return
        }
        if ex.responseHeadSent {
            abortExchange(kind, message)
            close()
            return
        }
        ex.status = status
        abortExchange(kind, message)
        headDeadline = 0
        write(
            SimpleResponse.make(
                status: status, body: StatusText.reason(status) + "\n", close: true,
                extraHeaders: traceResponseHeader(ex)))
        closeAfterFlush()
    }

    private func sendStatusAndClose(_ status: Int, _ message: String) {
        ctx.metrics.countResponse(status)
        if ctx.shared.accessLog != nil {
            AccessLog.appendRejected(status: status, reason: message, peer: peer.host, to: &ctx.accessLog)
        }
        headDeadline = 0
        write(SimpleResponse.make(status: status, body: StatusText.reason(status) + "\n", close: true))
        closeAfterFlush()
    }

    // MARK: upstream side

    /// Answers the client with `status` when no response has started, otherwise cuts the client
    /// connection so a truncated body is not mistaken for a whole one.
    func failExchange(status: Int, kind: SpanErrorKind, message: String) {
        guard let ex = exchange else { return }
        ex.fail(kind, message)
        ctx.logUpstreamError(kind.rawValue, message)
        ex.upstream?.close()
        ex.upstream = nil
        ex.connectDeadline = 0
        ex.upstreamDeadline = 0
        if ex.responseHeadSent {
            finishExchange(reuseUpstream: false)
            close()
            return
        }
        ex.status = status
        if !ex.requestDone && ex.head.framing != .none { closeAfterResponse = true }
        write(
            SimpleResponse.make(
                status: status, body: StatusText.reason(status) + "\n", close: closeAfterResponse,
                extraHeaders: traceResponseHeader(ex)))
        ex.responseHeadSent = true
        finishExchange(reuseUpstream: false)
    }

    /// Records the span of an exchange that ends without a response (the client went away).
    private func abortExchange(_ kind: SpanErrorKind, _ message: String) {
        guard let ex = exchange else { return }
        ex.fail(kind, message)
        if ex.status == 0 { ex.status = 499 }
        RequestTracer.finish(ex, ctx: ctx, peer: peer)
        ex.upstream?.close()
        ex.upstream = nil
        exchange = nil
    }

    private func traceResponseHeader(_ ex: Exchange) -> [(String, String)] {
        guard ctx.config.traceResponse else { return [] }
        return [("traceresponse", RequestTracer.traceResponseValue(ex.trace.outgoing))]
    }

    func processResponse() {
        guard let ex = exchange, let up = ex.upstream else { return }
        corked = true
        defer { uncork() }
        while exchange === ex && !closed {
            if tunnel {
                if !up.input.isEmpty {
                    up.input.withReadableBytes { write($0) }
                    up.input.removeAll()
                }
                break
            }
            if writeFailed { break }
            if output.readableCount > Self.highWater {
                up.pauseReading(true)
                break
            }
            let consumed: Int
            let event: HTTPParser.Event?
            do {
                (consumed, event) = try up.input.withReadableBytes { (b) throws(HTTPParseError) in
                    try ex.responseParser.next(b)
                }
            } catch {
                ctx.metrics.upstreamProtocolErrors.add()
                failExchange(status: 502, kind: .upstreamProtocol, message: "invalid upstream response: \(error)")
                return
            }
            guard let event else {
                up.input.consume(consumed)
                if consumed == 0 || up.input.isEmpty { break }
                continue
            }
            switch event {
            case .head(let rh):
                up.input.consume(consumed)
                responseHead(rh, ex)
            case .body(let range):
                up.input.withReadableBytes { writeResponseBody(UnsafeRawBufferPointer(rebasing: $0[range]), ex) }
                up.input.consume(consumed)
            case .end:
                up.input.consume(consumed)
                if ex.upgraded {
                    enterTunnel(ex)
                    return
                }
                if ex.status < 200 { continue }  // 100 Continue done; the final response follows
                responseEnded(ex)
                return
            }
        }
    }

    private var responseKeepAlive = true

    private func responseHead(_ rh: HTTPHead, _ ex: Exchange) {
        let now = ctx.loop.nowMs
        ex.upstreamDeadline = now + Int64(ctx.config.upstreamTimeoutMs)
        if ex.firstByteNs == 0 { ex.firstByteNs = Clock.monotonicNs() }
        ex.status = rh.status
        if rh.status >= 100 && rh.status < 200 && rh.status != 101 {
            if rh.status == 100 && ex.head.versionMinor >= 1 && ex.head.expectsContinue {
                write(Self.continueLine)
            }
            return
        }
        if rh.status == 101 && !ex.head.isUpgrade {
            // Switching protocols nobody asked for: the rest of the stream is not HTTP we can frame.
            ctx.metrics.upstreamProtocolErrors.add()
            failExchange(
                status: 502, kind: .upstreamProtocol, message: "101 Switching Protocols without an upgrade request")
            return
        }
        responseKeepAlive = rh.keepAlive
        let upgrade = rh.status == 101
        ex.upgraded = upgrade
        var out = ctx.takeScratch()
        defer { ctx.returnScratch(out) }
        out.append(contentsOf: Self.statusPrefix)
        appendDecimal(rh.status, to: &out)
        out.append(0x20)
        if rh.reasonRange.isEmpty {
            out.append(contentsOf: StatusText.reason(rh.status).utf8)
        } else {
            out.append(contentsOf: rh.bytes[rh.reasonRange])
        }
        out.append(contentsOf: Self.crlf)
        rh.appendForwardableFields(to: &out, excluding: Self.responseExcluded, keepUpgrade: upgrade)
        let noBody = ex.head.method == .head || rh.status == 204 || rh.status == 304 || upgrade
        if noBody {
            ex.clientFraming = .none
            if ex.head.method == .head || rh.status == 304, let cl = rh.firstValue(lowercasedName: "content-length") {
                out.append(contentsOf: Self.contentLengthPrefix)
                out.append(contentsOf: cl.utf8)
                out.append(contentsOf: Self.crlf)
            }
        } else {
            switch rh.framing {
            case .length(let n):
                ex.clientFraming = .length
                out.append(contentsOf: Self.contentLengthPrefix)
                appendDecimal(n, to: &out)
                out.append(contentsOf: Self.crlf)
            case .chunked, .untilClose:
                if ex.head.versionMinor >= 1 {
                    ex.clientFraming = .chunked
                    out.append(contentsOf: Self.chunkedHeader)
                } else {
                    ex.clientFraming = .close
                    closeAfterResponse = true
                }
            case .none:
                ex.clientFraming = .length
                out.append(contentsOf: Self.contentLengthPrefix)
                out.append(0x30)
                out.append(contentsOf: Self.crlf)
            }
        }
        if upgrade {
            out.append(contentsOf: Self.connectionUpgrade)
        } else if closeAfterResponse || ctx.draining {
            closeAfterResponse = true
            out.append(contentsOf: Self.connectionClose)
        } else if ex.head.versionMinor == 0 {
            out.append(contentsOf: Self.connectionKeepAlive)
        }
        if ctx.config.traceResponse {
            out.append(contentsOf: "traceresponse: ".utf8)
            out.append(contentsOf: RequestTracer.traceResponseValue(ex.trace.outgoing).utf8)
            out.append(contentsOf: Self.crlf)
        }
        out.append(contentsOf: Self.crlf)
        write(out)
        ex.responseHeadSent = true
    }

    private func writeResponseBody(_ bytes: UnsafeRawBufferPointer, _ ex: Exchange) {
        ex.responseBodyBytes += bytes.count
        ex.upstreamDeadline = ctx.loop.nowMs + Int64(ctx.config.upstreamTimeoutMs)
        if ex.clientFraming == .chunked {
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

    private func responseEnded(_ ex: Exchange) {
        if ex.clientFraming == .chunked { write(ChunkedFraming.lastChunk) }
        let reusable = responseKeepAlive && ex.requestDone && (ex.upstream?.input.isEmpty ?? false)
        finishExchange(reuseUpstream: reusable)
    }

    /// Ends the current exchange: span, metrics, upstream back to the pool or closed, and on to the
    /// next pipelined request or to closing.
    private func finishExchange(reuseUpstream: Bool) {
        guard let ex = exchange else { return }
        RequestTracer.finish(ex, ctx: ctx, peer: peer)
        if let up = ex.upstream {
            ex.upstream = nil
            if reuseUpstream && !ctx.draining { ctx.pool.put(up) } else { up.close() }
        }
        if !ex.requestDone && ex.head.framing != .none { closeAfterResponse = true }
        exchange = nil
        requestStartNs = 0
        responseKeepAlive = true
        if closeAfterResponse {
            closeAfterFlush()
            return
        }
        idleDeadline = ctx.loop.nowMs + Int64(ctx.config.idleTimeoutMs)
        if !input.isEmpty {
            markRequestStart()
            process()
        } else {
            updateInterest()
        }
    }

    private func enterTunnel(_ ex: Exchange) {
        tunnel = true
        RequestTracer.finish(ex, ctx: ctx, peer: peer)
        guard let up = ex.upstream else { return }
        if !up.input.isEmpty {
            up.input.withReadableBytes { write($0) }
            up.input.removeAll()
        }
        if !input.isEmpty {
            input.withReadableBytes { up.send($0) }
            input.removeAll()
            up.flushOutput()
        }
        ex.upstreamDeadline = 0
        updateInterest()
    }

    static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let statusPrefix = Array("HTTP/1.1 ".utf8)
    static let crlf: [UInt8] = [13, 10]
    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let chunkedHeader = Array("Transfer-Encoding: chunked\r\n".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    static let connectionUpgrade = Array("Connection: upgrade\r\n".utf8)
    static let responseExcluded: Set<String> = ["traceresponse"]
}

extension ClientConnection: UpstreamDelegate {
    func upstreamConnected(_ up: UpstreamConnection) {
        guard let ex = exchange, ex.upstream === up else { return }
        ex.connectedNs = Clock.monotonicNs()
        ex.connectDeadline = 0
    }

    func upstreamReadable(_ up: UpstreamConnection) {
        guard let ex = exchange, ex.upstream === up else { return }
        processResponse()
        if tunnel { updateInterest() }
    }

    func upstreamClosed(_ up: UpstreamConnection, errno: Int32) {
        guard let ex = exchange, ex.upstream === up else { return }
        if tunnel {
            closeAfterFlush()
            return
        }
        // A pooled connection the upstream had already closed: retry once on a fresh one when the
        // request is idempotent and no body byte was sent (RFC 9112 section 9.3.1).
        if ex.firstByteNs == 0 && up.reused && !ex.retried && ex.head.method.isIdempotent
            && ex.requestBodyBytes == 0
        {
            ex.retried = true
            ex.upstream = nil
            connectUpstream(ex, fresh: true)
            exchange?.upstream?.flushOutput()
            return
        }
        do {
            if let event = try ex.responseParser.finish(), case .end = event {
                ex.upstream = nil
                responseEnded(ex)
                return
            }
            ctx.metrics.upstreamResets.add()
            failExchange(
                status: 502, kind: .upstreamReset,
                message: errno == 0
                    ? "upstream closed the connection before responding"
                    : "upstream reset: \(SystemError("read", errno))")
        } catch {
            ctx.metrics.upstreamResets.add()
            failExchange(status: 502, kind: .upstreamReset, message: "upstream closed mid-response")
        }
    }

    func upstreamConnectFailed(_ up: UpstreamConnection, errno: Int32) {
        guard let ex = exchange, ex.upstream === up else { return }
        ctx.metrics.upstreamConnectErrors.add()
        failExchange(status: 502, kind: .upstreamConnect, message: "\(SystemError("connect", errno))")
    }

    func upstreamDrained(_ up: UpstreamConnection) {
        guard let ex = exchange, ex.upstream === up else { return }
        process()
    }
}

@inline(__always)
func appendDecimal(_ v: Int, to out: inout [UInt8]) {
    if v == 0 {
        out.append(0x30)
        return
    }
    var digits:
        (
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
        ) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = 0
    var x = v
    withUnsafeMutableBytes(of: &digits) { d in
        while x > 0 {
            d[n] = UInt8(0x30 + x % 10)
            x /= 10
            n += 1
        }
        for i in stride(from: n - 1, through: 0, by: -1) { out.append(d[i]) }
    }
}
