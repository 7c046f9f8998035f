import HTTP1

/// The life of one client connection, as a value: events in, one action out, no I/O and no clock
/// of its own (every event that can start or check a deadline carries `now`, in monotonic ms).
///
/// The shape follows SwiftNIO's `HTTPServerPipelineHandler` and Hummingbird's connection state
/// machine: the I/O shell (`ClientConnection`) owns sockets, buffers, parsers and the span data,
/// feeds what happened in here, and carries out what comes back. Every deadline lives in the
/// state it belongs to, so a state that cannot time out has no deadline to forget to clear.
/// Requests are served one at a time: a pipelined request waits unparsed in the shell's input
/// until the state is back to `idle`, which keeps answers in order.
struct ConnectionStateMachine {
    /// Each deadline runs only while its party is the one the connection waits for: the body
    /// timeout while the proxy reads the client's body, the upstream timeout once the request is
    /// sent (or while the upstream is not taking the body), and neither while the other side is
    /// the slow one; the send timeout while output waits for a client that reads none of it.
    struct Timeouts: Equatable {
        /// `--header-timeout-ms`, `--idle-timeout-ms`, `--body-timeout-ms`,
        /// `--upstream-connect-timeout-ms`, `--upstream-timeout-ms`.
        let headerMs, idleMs, bodyMs, upstreamConnectMs, upstreamMs: Int64
        /// `--send-timeout-ms`.
        var sendMs: Int64 = 60_000
        /// `--tls-handshake-timeout-ms`.
        var handshakeMs: Int64 = 10_000
        /// How long a connection closed after a response keeps reading (and discarding) so an
        /// unread pipelined request does not turn the close into a reset that loses the response.
        var lingerMs: Int64 = 2000
    }

    enum State: Equatable {
        /// An HTTPS client's TLS handshake is under way: closed at `timeoutAt` if it has not finished.
        case handshaking(timeoutAt: Int64)
        /// Between requests (or before the first): closed quietly at `closeAt`.
        case idle(closeAt: Int64)
        /// Some bytes of a head have arrived: 408 at `timeoutAt`.
        case readingHead(timeoutAt: Int64)
        case exchanging(Exchange)
        /// After a relayed `101` or a 2xx to CONNECT: bytes pass both ways untouched.
        case tunnelling
        /// A last answer is queued; the connection closes once it is written.
        case closingAfterFlush
        /// Write side shut; reading and discarding until the peer closes or `closeAt`.
        case lingering(closeAt: Int64)
        case closed
    }

    /// One request/response in flight.
    struct Exchange: Equatable {
        enum Upstream: Equatable {
            /// Not attached yet, or let go after a failure.
            case none
            case connecting(timeoutAt: Int64)
            /// The head went out; the next response byte is due by `timeoutAt`.
            case open(timeoutAt: Int64)
        }

        enum Response: Equatable {
            case awaiting
            /// A 1xx other than 101 was relayed or swallowed; the final response follows.
            case interim
            /// The final head went to the client; the body is streaming.
            case streaming
            /// A 101 went to the client; the tunnel starts at the response's end.
            case upgrading
        }

        let request: RequestFacts
        var requestDone = false
        var bodyTimeoutAt: Int64?
        var upstream = Upstream.none
        var response = Response.awaiting
        var closeAfterResponse: Bool
        var upstreamReused = false
        var upstreamKeepAlive = true
        var retried = false
        var bodyBytesSent = false
        /// The proxy stopped reading the client's body because the upstream is not taking it.
        var requestPaused = false
        /// The proxy stopped reading the response because the client is not taking it.
        var responsePaused = false

        /// The client has seen a response head: a failure can no longer be answered, only cut.
        var responseStarted: Bool { response == .streaming || response == .upgrading }
    }

    /// What the machine needs to know of a request head.
    struct RequestFacts: Equatable {
        var hasBody: Bool
        var keepAlive: Bool
        var idempotent: Bool
        /// HTTP/1.1 with `Expect: 100-continue`: an upstream's `100 Continue` is relayed.
        var expectsContinue: Bool
        var upgrade: Bool
        /// CONNECT: a 2xx answer turns the connection into a tunnel.
        var connect: Bool

        init(
            hasBody: Bool, keepAlive: Bool, idempotent: Bool, expectsContinue: Bool, upgrade: Bool,
            connect: Bool = false
        ) {
            self.hasBody = hasBody
            self.keepAlive = keepAlive
            self.idempotent = idempotent
            self.expectsContinue = expectsContinue
            self.upgrade = upgrade
            self.connect = connect
        }

        init(_ head: HTTPHead) {
            hasBody = head.framing != .none
            keepAlive = head.keepAlive
            idempotent = head.method.isIdempotent
            expectsContinue = head.versionMinor >= 1 && head.expectsContinue
            upgrade = head.isUpgrade
            connect = head.method == .connect
        }
    }

    /// What the shell does next. One per event: the events are small enough that none needs two.
    enum Action: Equatable {
        case none
        /// Take a pooled upstream connection or open one, and send the forwarded head.
        case startUpstream
        /// The pooled connection died before answering: the same head on a fresh connection.
        case retryUpstream
        /// Answer with `failure.status` (the span records it), then serve the next request or
        /// close once the answer is written.
        case respond(ExchangeFailure, then: Next)
        /// Refuse a request that never became an exchange (no span): answer and close.
        case reject(ExchangeFailure)
        /// Record the span with `failure` and close now: the client is gone, or the response had
        /// started and can only be cut so a truncated body is not taken for a whole one.
        case abort(ExchangeFailure)
        /// Relay the final (or `101`) response head; `close` adds `Connection: close`.
        case forwardResponseHead(close: Bool)
        /// Relay an interim `100 Continue`.
        case sendContinue
        /// The response is complete: record the span, give the upstream back to the pool when
        /// `reuseUpstream`, then go on.
        case finish(reuseUpstream: Bool, then: Next)
        case enterTunnel
        /// The client half-closed a tunnel: pass the EOF on.
        case shutdownUpstreamWrite
        /// The last answer is queued: close once it is written.
        case closeWhenFlushed
        /// Shut the write side and read until the peer closes (see `Timeouts.lingerMs`).
        case linger
        case close
    }

    enum Next: Equatable {
        case serveNext
        case closeWhenFlushed
    }

    /// How the upstream's response ended when it closed the connection.
    enum UpstreamEnd: Equatable {
        /// A close-delimited body ended with the close: a complete response.
        case complete
        /// Nothing of a response had arrived.
        case nothing
        /// A head or body was cut short.
        case truncated
    }

    let timeouts: Timeouts
    private(set) var state: State
    private(set) var draining = false
    /// Output is queued for the client: it must read some by then. Kept apart from the states
    /// because output can wait in any of them (a response's tail while the next request is read).
    private(set) var sendDeadline: Int64?

    /// `tls`: the connection starts with a TLS handshake, which has its own deadline.
    init(timeouts: Timeouts, now: Int64, tls: Bool = false) {
        self.timeouts = timeouts
        state = tls ? .handshaking(timeoutAt: now + timeouts.handshakeMs) : .idle(closeAt: now + timeouts.idleMs)
    }

    /// The TLS handshake finished: the connection waits for its first request like any other.
    mutating func handshakeFinished(now: Int64) {
        if case .handshaking = state { state = .idle(closeAt: now + timeouts.idleMs) }
    }

    /// True while a response could still be relayed to the client (the shell reads the upstream).
    var exchange: Exchange? {
        if case .exchanging(let ex) = state { return ex }
        return nil
    }

    /// The shell may parse request bytes: between requests, or while a request's body streams.
    var acceptsRequestBytes: Bool {
        switch state {
        case .idle, .readingHead: return true
        case .exchanging(let ex): return !ex.requestDone
        default: return false
        }
    }

    // MARK: client side

    /// Request bytes arrived (or were left over from a pipelined burst): a head is under way.
    mutating func bytesReceived(now: Int64) {
        if case .idle = state { state = .readingHead(timeoutAt: now + timeouts.headerMs) }
    }

    mutating func requestHead(_ request: RequestFacts, now: Int64) -> Action {
        switch state {
        case .idle, .readingHead:
            state = .exchanging(
                Exchange(
                    request: request,
                    bodyTimeoutAt: request.hasBody ? now + timeouts.bodyMs : nil,
                    closeAfterResponse: !request.keepAlive || draining))
            return .startUpstream
        default:
            preconditionFailure("request head in state \(state)")
        }
    }

    mutating func requestBody(now: Int64) {
        guard case .exchanging(var ex) = state else { return }
        ex.bodyTimeoutAt = now + timeouts.bodyMs
        if ex.upstream != .none { ex.bodyBytesSent = true }
        state = .exchanging(ex)
    }

    mutating func requestEnd(now: Int64) {
        guard case .exchanging(var ex) = state else { return }
        ex.requestDone = true
        ex.bodyTimeoutAt = nil
        if case .open = ex.upstream { ex.upstream = .open(timeoutAt: now + timeouts.upstreamMs) }
        state = .exchanging(ex)
    }

    /// The request broke the grammar or one of the proxy's rules.
    mutating func requestRefused(_ failure: ExchangeFailure) -> Action {
        clientFailed(failure)
    }

    mutating func clientEOF() -> Action {
        switch state {
        case .exchanging(var ex):
            if ex.requestDone {
                // A half-close after a whole request: the response still goes out, then we close.
                ex.closeAfterResponse = true
                state = .exchanging(ex)
                return .none
            }
            state = .closed
            return .abort(.clientClosed)
        case .tunnelling:
            return .shutdownUpstreamWrite
        case .closed:
            return .none
        default:
            state = .closed
            return .close
        }
    }

    /// A read or write on the client connection failed.
    mutating func clientReset() -> Action {
        switch state {
        case .exchanging:
            state = .closed
            return .abort(.clientReset)
        case .closed:
            return .none
        default:
            state = .closed
            return .close
        }
    }

    /// Everything queued for the client has been written.
    mutating func outputFlushed(readEOF: Bool, now: Int64) -> Action {
        guard case .closingAfterFlush = state else { return .none }
        if readEOF {
            state = .closed
            return .close
        }
        state = .lingering(closeAt: now + timeouts.lingerMs)
        return .linger
    }

    // MARK: upstream side

    /// The forwarded head is on its way: over a connection still `connecting`, or a pooled one.
    mutating func upstreamAttached(connecting: Bool, reused: Bool, now: Int64) {
        guard case .exchanging(var ex) = state else { return }
        ex.upstream =
            connecting
            ? .connecting(timeoutAt: now + timeouts.upstreamConnectMs) : .open(timeoutAt: now + timeouts.upstreamMs)
        ex.upstreamReused = reused
        state = .exchanging(ex)
    }

    mutating func upstreamConnected(now: Int64) {
        guard case .exchanging(var ex) = state, case .connecting = ex.upstream else { return }
        ex.upstream = .open(timeoutAt: now + timeouts.upstreamMs)
        state = .exchanging(ex)
    }

    mutating func responseHead(status: Int, keepAlive: Bool, framingNeedsClose: Bool, now: Int64) -> Action {
        guard case .exchanging(var ex) = state else { return .none }
        ex.upstream = .open(timeoutAt: now + timeouts.upstreamMs)
        if status >= 100 && status < 200 && status != 101 {
            ex.response = .interim
            state = .exchanging(ex)
            return status == 100 && ex.request.expectsContinue ? .sendContinue : .none
        }
        if status == 101 && !ex.request.upgrade {
            state = .exchanging(ex)
            return upstreamFailed(.upstreamUnrequestedUpgrade, now: now)
        }
        ex.upstreamKeepAlive = keepAlive
        if status == 101 || (ex.request.connect && status >= 200 && status < 300) {
            ex.response = .upgrading
            state = .exchanging(ex)
            return .forwardResponseHead(close: false)
        }
        ex.response = .streaming
        // A refused CONNECT: the client may already be sending tunnel bytes, which are no request.
        if framingNeedsClose || draining || ex.request.connect { ex.closeAfterResponse = true }
        state = .exchanging(ex)
        return .forwardResponseHead(close: ex.closeAfterResponse)
    }

    mutating func responseBody(now: Int64) {
        guard case .exchanging(var ex) = state else { return }
        ex.upstream = .open(timeoutAt: now + timeouts.upstreamMs)
        state = .exchanging(ex)
    }

    /// The response parser reported the end of a message. `upstreamIdle`: the upstream sent
    /// nothing after it (a connection with stray bytes is not reused).
    mutating func responseEnd(upstreamIdle: Bool, now: Int64) -> Action {
        guard case .exchanging(var ex) = state else { return .none }
        switch ex.response {
        case .awaiting, .interim:
            ex.response = .awaiting
            state = .exchanging(ex)
            return .none
        case .upgrading:
            state = .tunnelling
            return .enterTunnel
        case .streaming:
            let reuse = ex.upstreamKeepAlive && ex.requestDone && upstreamIdle && !draining
            return .finish(reuseUpstream: reuse, then: next(after: ex, now: now))
        }
    }

    /// The upstream closed its side or reset (`errno` nonzero).
    mutating func upstreamClosed(errno: Int32, end: UpstreamEnd, now: Int64) -> Action {
        switch state {
        case .tunnelling:
            state = .closingAfterFlush
            return .closeWhenFlushed
        case .exchanging(var ex):
            // A pooled connection the upstream had already closed: retry once on a fresh one when
            // the request is idempotent and no body byte was sent (RFC 9112 section 9.3.1).
            if ex.response == .awaiting && end != .complete && ex.upstreamReused && !ex.retried
                && ex.request.idempotent && !ex.bodyBytesSent
            {
                ex.retried = true
                ex.upstream = .none
                state = .exchanging(ex)
                return .retryUpstream
            }
            if end == .complete && ex.response == .streaming {
                return .finish(reuseUpstream: false, then: next(after: ex, now: now))
            }
            let failure: ExchangeFailure =
                end == .truncated && ex.responseStarted ? .upstreamTruncated : .upstreamReset(errno: errno)
            return upstreamFailed(failure, now: now)
        default:
            return .none
        }
    }

    /// Connecting, sending or parsing the response failed: answer with the failure's status, or
    /// cut the client connection when a response has already started.
    mutating func upstreamFailed(_ failure: ExchangeFailure, now: Int64) -> Action {
        guard case .exchanging(var ex) = state else { return .none }
        ex.upstream = .none
        if ex.responseStarted {
            state = .closed
            return .abort(failure)
        }
        // Unread request body bytes would be taken for the next request: close after answering.
        if !ex.requestDone && ex.request.hasBody { ex.closeAfterResponse = true }
        return .respond(failure, then: next(after: ex, now: now))
    }

    // MARK: flow control

    /// The upstream stopped (or resumed) taking the request body, so the proxy stopped (or
    /// resumed) reading it: while paused the upstream is the slow party, so its deadline runs and
    /// the body timeout does not.
    mutating func requestPaused(_ paused: Bool, now: Int64) {
        guard case .exchanging(var ex) = state, !ex.requestDone, ex.requestPaused != paused else { return }
        ex.requestPaused = paused
        if paused {
            if case .open = ex.upstream { ex.upstream = .open(timeoutAt: now + timeouts.upstreamMs) }
        } else {
            ex.bodyTimeoutAt = now + timeouts.bodyMs
        }
        state = .exchanging(ex)
    }

    /// The client stopped (or resumed) taking the response, so the proxy stopped (or resumed)
    /// reading it: while paused the send timeout decides, not the upstream's.
    mutating func responsePaused(_ paused: Bool, now: Int64) {
        guard case .exchanging(var ex) = state, ex.responsePaused != paused else { return }
        ex.responsePaused = paused
        if !paused, case .open = ex.upstream { ex.upstream = .open(timeoutAt: now + timeouts.upstreamMs) }
        state = .exchanging(ex)
    }

    /// Whether output is queued for the client (`progressed`: some of it was just written). The
    /// send deadline starts with the first byte that waits and moves with every write that goes
    /// out. Once all is written, an idle connection's idle time starts: a response still being
    /// written is not idleness.
    mutating func clientOutput(pending: Bool, progressed: Bool = false, now: Int64) {
        if pending {
            if sendDeadline == nil || progressed { sendDeadline = now + timeouts.sendMs }
            return
        }
        guard sendDeadline != nil else { return }
        sendDeadline = nil
        if case .idle = state { state = .idle(closeAt: now + timeouts.idleMs) }
    }

    // MARK: time and lifecycle

    /// Checks the deadline of the current state. `now` in monotonic ms.
    mutating func tick(now: Int64) -> Action {
        if let t = sendDeadline, now >= t, state != .closed, !state.isLingering {
            sendDeadline = nil
            if case .exchanging = state {
                state = .closed
                return .abort(.sendTimeout)
            }
            state = .closed
            return .close
        }
        switch state {
        case .handshaking(let timeoutAt):
            if now >= timeoutAt || draining {
                state = .closed
                return .close
            }
        case .idle(let closeAt):
            // Output still going out keeps an idle connection open (the send timeout bounds it).
            if (now >= closeAt || draining) && sendDeadline == nil {
                state = .closed
                return .close
            }
        case .readingHead(let timeoutAt):
            if now >= timeoutAt { return clientFailed(.headTimeout) }
        case .lingering(let closeAt):
            if now >= closeAt {
                state = .closed
                return .close
            }
        case .exchanging(let ex):
            if case .connecting(let t) = ex.upstream, now >= t {
                return upstreamFailed(.upstreamConnectTimeout, now: now)
            }
            if let t = ex.bodyTimeoutAt, !ex.requestDone, !ex.requestPaused, now >= t {
                return clientFailed(.bodyTimeout)
            }
            // The response timeout runs once the whole request went out, the upstream has started
            // answering, or it stopped taking the body; a slow upload is the body timeout's
            // business, and a slow reader the send timeout's.
            if case .open(let t) = ex.upstream,
                ex.requestDone || ex.response != .awaiting || ex.requestPaused, !ex.responsePaused, now >= t
            {
                return upstreamFailed(.upstreamTimeout, now: now)
            }
        case .tunnelling, .closingAfterFlush, .closed:
            break
        }
        return .none
    }

    /// SIGTERM: idle connections close now, the others after their current response.
    mutating func beginDrain() -> Action {
        draining = true
        switch state {
        case .idle, .handshaking:
            state = .closed
            return .close
        case .exchanging(var ex):
            ex.closeAfterResponse = true
            state = .exchanging(ex)
            return .none
        default:
            return .none
        }
    }

    /// The drain ran out of time: whatever is in flight is answered 503 or cut, and recorded.
    mutating func drainTimedOut() -> Action {
        switch state {
        case .exchanging(let ex):
            state = .closed
            return ex.responseStarted ? .abort(.drainTimeout) : .respond(.drainTimeout, then: .closeWhenFlushed)
        case .closed:
            return .none
        default:
            state = .closed
            return .close
        }
    }

    // MARK: helpers

    /// The client broke its side: answer and close, or only close when a response has started.
    private mutating func clientFailed(_ failure: ExchangeFailure) -> Action {
        switch state {
        case .idle, .readingHead:
            state = .closingAfterFlush
            return .reject(failure)
        case .exchanging(let ex):
            if ex.responseStarted {
                state = .closed
                return .abort(failure)
            }
            state = .closingAfterFlush
            return .respond(failure, then: .closeWhenFlushed)
        default:
            return .none
        }
    }

    /// Where the connection goes once the exchange `ex` is over.
    private mutating func next(after ex: Exchange, now: Int64) -> Next {
        if ex.closeAfterResponse || draining || (!ex.requestDone && ex.request.hasBody) {
            state = .closingAfterFlush
            return .closeWhenFlushed
        }
        state = .idle(closeAt: now + timeouts.idleMs)
        return .serveNext
    }
}

extension ConnectionStateMachine.State {
    var isLingering: Bool { if case .lingering = self { true } else { false } }
}
