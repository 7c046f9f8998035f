import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// A `ByteTransport` that speaks TLS over another one (the socket): the connection code above
/// reads and writes plaintext exactly as it would over `SocketTransport`.
///
/// It stands between the socket's readiness and the handler's. The inner transport reports to
/// the transport itself, which runs the handshake on that readiness, reads ciphertext only when the
/// handler reads plaintext (so the handler's back-pressure reaches the socket), and keeps
/// ciphertext the socket would not take. The handler hears readable when plaintext (or the end, or
/// an error) can be read, and writable once plaintext can be taken: never during the handshake,
/// and not while earlier ciphertext is still unsent.
///
/// Readiness epoll cannot give is delivered through the `ReadinessScheduler`: plaintext already
/// decrypted and buffered when the handler stopped reading before `.wouldBlock`, or asks for
/// reading again later, and a failed handshake when the handler is waiting for neither. The
/// handler sees level-triggered readiness, as from a socket.
///
/// A failed handshake reads and writes as `.error(EPROTO)` (`connectError` says the same to an
/// upstream connector); `failure` says why, in a category fit for a metrics label.
public final class TLSTransport: ByteTransport {
    public let session: TLSSession
    /// Called once, from the event that finished the handshake (never from inside `read`, `write`
    /// or `close`): the owner records SNI, ALPN and cipher, or the failure. A failure found later
    /// (a TLS 1.3 server rejecting our client certificate after our handshake ended) surfaces
    /// as a read error and in `failure`.
    public var onHandshake: ((Result<TLSHandshakeInfo, TLSError>) -> Void)?

    private let inner: ByteTransport
    private let scheduler: ReadinessScheduler
    private var handler: EventHandler?
    private var wantsRead = false
    private var wantsWrite = false
    /// The TCP connect is still pending: the handshake starts when the inner transport is writable.
    private var connecting: Bool
    private var connectErrno: Int32 = 0
    /// A socket error met while writing, reported to the next `write`.
    private var writeErrno: Int32 = 0
    private var innerEOF = false
    /// Ciphertext the socket did not take yet, oldest first. Empty (and without storage) except
    /// while the socket is backed up.
    private var unsent = ByteBuffer()
    private var shutdownPending = false
    private var writeShut = false
    private var closed = false
    private var handshakeReported = false
    /// The last plaintext read stopped before `.wouldBlock`, with input left in the session.
    private var inputMayBeBuffered = false
    private var deliveryScheduled = false

    /// Plaintext taken per `write`: its ciphertext must fit what is held while the socket is
    /// backed up.
    static let maxPlaintextPerWrite = 64 * 1024
    /// One socket read of ciphertext: a full TLS record and its header.
    static let readChunk = 17 * 1024

    /// `connecting`: the inner transport's connect has not completed (it reports writable when it
    /// has); a client's handshake then starts there instead of in `start`.
    public init(
        wrapping inner: ByteTransport, session: TLSSession, scheduler: ReadinessScheduler, connecting: Bool = false
    ) {
        self.inner = inner
        self.session = session
        self.scheduler = scheduler
        self.connecting = connecting
    }

    /// An accepted socket (a listener's `onAccept`) as the server side of TLS, on `loop`. Throws
    /// before taking `fd`: on a throw the caller still owns and closes it.
    public static func accepted(fd: Int32, loop: EventLoop, context: TLSContext) throws(TLSError) -> TLSTransport {
        let session = try context.makeSession()
        return TLSTransport(wrapping: SocketTransport(fd: fd, loop: loop), session: session, scheduler: loop)
    }

    public var handshakeInfo: TLSHandshakeInfo? { session.info }
    public var failure: TLSError? { session.failure }

    // MARK: ByteTransport

    public func start(handler: EventHandler, readable: Bool, writable: Bool) throws(SystemError) {
        self.handler = handler
        wantsRead = readable
        wantsWrite = writable
        try inner.start(handler: InnerEvents(self), readable: false, writable: false)
        if !connecting && session.role == .client {
            session.advanceHandshake()
            flush()
        }
        updateInterest()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Socket.IOResult {
        if closed { return .error(EBADF) }
        if connectErrno != 0 { return .error(connectErrno) }
        switch session.handshakeState {
        case .inProgress: return .wouldBlock
        case .failed: return .error(EPROTO)
        case .done: break
        }
        defer { updateInterest() }
        while true {
            let result = session.readPlaintext(into: buffer)
            // Reading can make OpenSSL write (a key update answered, an alert): send it now.
            if session.pendingCiphertextCount > 0 { flush() }
            switch result {
            case .bytes(let n):
                inputMayBeBuffered = session.hasBufferedInput
                return .bytes(n)
            case .closed:
                inputMayBeBuffered = false
                return .eof
            case .error:
                inputMayBeBuffered = false
                return .error(EPROTO)
            case .wantMore:
                if innerEOF {
                    // The end was fed and the session still wants more: nothing else is coming.
                    inputMayBeBuffered = false
                    return .eof
                }
                switch readCiphertext() {
                case .bytes: continue
                case .wouldBlock:
                    inputMayBeBuffered = false
                    return .wouldBlock
                case .eof: continue
                case .error(let e):
                    inputMayBeBuffered = false
                    return .error(e)
                }
            }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Socket.IOResult {
        if closed { return .error(EBADF) }
        if connectErrno != 0 { return .error(connectErrno) }
        if writeErrno != 0 { return .error(writeFailure) }
        if writeShut || shutdownPending { return .error(EPIPE) }
        switch session.handshakeState {
        case .inProgress: return .wouldBlock
        case .failed: return .error(EPROTO)
        case .done: break
        }
        if bytes.isEmpty { return .bytes(0) }
        defer { updateInterest() }
        // Earlier ciphertext goes first; while it waits, take no more plaintext (this bounds what
        // the transport holds, and the caller keeps the rest in its own buffer).
        if hasUnsent {
            flush()
            if writeErrno != 0 { return .error(writeFailure) }
            if hasUnsent { return .wouldBlock }
        }
        // The session takes a record per call (partial-write mode); the whole chunk is encrypted
        // before one flush, so the socket sees few large writes.
        let chunk = UnsafeRawBufferPointer(rebasing: bytes.prefix(Self.maxPlaintextPerWrite))
        var taken = 0
        while taken < chunk.count {
            switch session.writePlaintext(UnsafeRawBufferPointer(rebasing: chunk[taken...])) {
            case .bytes(let n): taken += n
            case .wantMore: return .wouldBlock
            case .error:
                flush()
                return .error(EPROTO)
            }
        }
        flush()
        if writeErrno != 0 { return .error(writeFailure) }
        return .bytes(taken)
    }

    /// A failed socket write as the handler sees it: EPROTO when the peer's alert explains it
    /// (`failure` then says how), else the errno.
    private var writeFailure: Int32 { session.failure != nil ? EPROTO : writeErrno }

    public func setInterest(readable: Bool, writable: Bool) {
        if closed { return }
        wantsRead = readable
        wantsWrite = writable
        updateInterest()
        scheduleIfPending()
    }

    /// close_notify, then the socket's FIN once the ciphertext before it is sent.
    public func shutdownWrite() {
        if closed || writeShut || shutdownPending { return }
        session.shutdown()
        shutdownPending = true
        flush()
        finishShutdownIfFlushed()
        updateInterest()
    }

    /// Says close_notify if the session is healthy and has not yet, then closes the socket. The
    /// handler hears nothing more from here on.
    ///
    /// Bytes `write` took are sent although `close` follows at once, as they would be by a socket
    /// (whose kernel buffer outlives the descriptor): what the socket could not take yet is
    /// ciphertext held here, so the socket stays open until it is sent, the peer fails, or
    /// `closeGraceMs` pass. A handler may close as soon as its own output is written, as the
    /// proxy does after a response to a client that already half-closed.
    public func close() {
        if closed { return }
        closed = true
        handler = nil
        onHandshake = nil
        if !writeShut && writeErrno == 0 {
            if session.handshakeState == .done { session.shutdown() }
            flush()
            finishShutdownIfFlushed()
        }
        // Mid-handshake there is nothing worth waiting to send; after a failed one, the alert
        // saying why is.
        if writeErrno == 0 && hasUnsent && session.handshakeState != .inProgress {
            inner.setInterest(readable: false, writable: true)
            scheduler.runLater(afterMs: closeGraceMs) { [self] in closeInner() }
            return
        }
        closeInner()
    }

    /// How long a closed transport keeps its socket to send held ciphertext: about the proxy's
    /// linger, the time a client gets to read the end of a response.
    public var closeGraceMs = 2000

    private var innerClosed = false

    private func closeInner() {
        if innerClosed { return }
        innerClosed = true
        inner.close()
    }

    /// A closed transport's socket became writable: send what is held, then close it.
    private func drainAfterClose() {
        flush()
        if hasUnsent && writeErrno == 0 { return }
        closeInner()
    }

    /// The connect's errno, then EPROTO for a failed handshake; 0 once TLS is up.
    public func connectError() -> Int32 {
        if connecting { return inner.connectError() }
        if connectErrno != 0 { return connectErrno }
        return session.handshakeState == .failed ? EPROTO : 0
    }

    // MARK: inner readiness

    /// The inner transport's handler. A separate object so the transport's public face is only
    /// `ByteTransport`; it holds the transport until the inner transport lets it go in `close`.
    private final class InnerEvents: EventHandler {
        let transport: TLSTransport
        init(_ transport: TLSTransport) { self.transport = transport }
        func onReadable() { transport.innerReadable() }
        func onWritable() { transport.innerWritable() }
    }

    private func innerWritable() {
        if closed {
            if !innerClosed { drainAfterClose() }
            return
        }
        if connecting {
            connecting = false
            let e = inner.connectError()
            if e != 0 {
                connectErrno = e
                updateInterest()
                deliver()
                return
            }
            session.advanceHandshake()
        }
        flush()
        finishShutdownIfFlushed()
        if session.handshakeState == .inProgress {
            updateInterest()
            return
        }
        if !handshakeReported {
            handshakeFinished()
            return
        }
        if wantsWrite && !hasUnsent, let handler { handler.onWritable() }
        if closed { return }
        updateInterest()
        scheduleIfPending()
    }

    private func innerReadable() {
        if closed {
            // Only a hang-up or an error: reading stopped at close. The write will tell.
            if !innerClosed { drainAfterClose() }
            return
        }
        if session.handshakeState == .inProgress {
            if connecting { return }
            while session.handshakeState == .inProgress {
                let r = readCiphertext()
                session.advanceHandshake()
                if case .bytes = r { continue }
                if case .error(let e) = r, session.handshakeState == .inProgress {
                    session.failHandshake(
                        TLSError(.connectionClosed, "TLS handshake failed: \(String(cString: strerror(e)))"))
                }
                break
            }
            if innerEOF && session.handshakeState == .inProgress {
                session.failHandshake(TLSError(.connectionClosed, "TLS handshake failed: the connection closed"))
            }
            flush()
            if session.handshakeState == .inProgress {
                updateInterest()
                return
            }
        }
        if !handshakeReported {
            handshakeFinished()
            return
        }
        if wantsRead, let handler { handler.onReadable() }
        if closed { return }
        updateInterest()
        scheduleIfPending()
    }

    /// Reports the outcome to the owner, then tells the handler what it was waiting for: writable
    /// (a connector waits for that), readable if the last flight carried plaintext too, or either
    /// for a failure.
    private func handshakeFinished() {
        handshakeReported = true
        inputMayBeBuffered = session.hasBufferedInput
        updateInterest()
        if let report = onHandshake {
            if let info = session.info {
                report(.success(info))
            } else if let failure = session.failure {
                report(.failure(failure))
            }
        }
        if closed { return }
        deliver()
    }

    // MARK: delivery

    /// Readable that epoll will not report: input held inside the session, or a failure.
    private var readablePending: Bool {
        guard wantsRead, !closed else { return false }
        switch session.handshakeState {
        case .inProgress: return connectErrno != 0
        case .failed: return true
        case .done: return inputMayBeBuffered
        }
    }

    /// Writable that epoll will not report: a failed connect, handshake or socket write.
    private var writablePending: Bool {
        guard wantsWrite, !closed else { return false }
        return connectErrno != 0 || writeErrno != 0 || session.handshakeState == .failed
    }

    /// One round of what is ready now, from an inner event (or a scheduled delivery).
    private func deliver() {
        let writable =
            writablePending || (wantsWrite && session.handshakeState == .done && !hasUnsent && !writeShut)
        if writable, let handler { handler.onWritable() }
        if closed { return }
        if readablePending, let handler { handler.onReadable() }
        if closed { return }
        updateInterest()
        scheduleIfPending()
    }

    private func scheduleIfPending() {
        guard !deliveryScheduled, readablePending || writablePending else { return }
        deliveryScheduled = true
        scheduler.runLater { [weak self] in
            guard let self else { return }
            self.deliveryScheduled = false
            if self.closed { return }
            if self.writablePending, let handler = self.handler { handler.onWritable() }
            if self.closed { return }
            if self.readablePending, let handler = self.handler { handler.onReadable() }
            if self.closed { return }
            self.updateInterest()
            self.scheduleIfPending()
        }
    }

    // MARK: bytes to and from the socket

    private var hasUnsent: Bool { !unsent.isEmpty || session.pendingCiphertextCount > 0 }

    /// The socket is watched for reading while the handshake needs input or the handler wants
    /// plaintext, and for writing while connecting, while ciphertext waits (even when the handler
    /// only reads: a key update's answer must go out), or for the handler's writes.
    private func updateInterest() {
        if closed { return }
        let readable: Bool
        switch session.handshakeState {
        case .inProgress: readable = !connecting && !innerEOF
        case .done: readable = wantsRead
        case .failed: readable = false
        }
        let established = session.handshakeState == .done
        let writable =
            connecting || (writeErrno == 0 && hasUnsent) || (established && wantsWrite && !writeShut && writeErrno == 0)
        inner.setInterest(readable: readable, writable: writable)
    }

    /// One read from the socket into the session.
    private func readCiphertext() -> Socket.IOResult {
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { scratch in
            let r = inner.read(into: scratch)
            switch r {
            case .bytes(let n): session.feedCiphertext(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
            case .eof:
                innerEOF = true
                session.feedEOF()
            case .wouldBlock, .error: break
            }
            return r
        }
    }

    /// Sends what the socket takes: the held bytes first, then the session's output through a
    /// stack buffer; only what the socket refuses is copied into `unsent`.
    private func flush() {
        while writeErrno == 0 && !unsent.isEmpty {
            switch unsent.write(to: inner) {
            case .bytes: continue
            case .wouldBlock: return
            case .eof: writeFailed(EPIPE)
            case .error(let e): writeFailed(e)
            }
        }
        if writeErrno != 0 { return }
        unsent.release()
        while session.pendingCiphertextCount > 0 {
            let blocked = withUnsafeTemporaryAllocation(byteCount: 32 * 1024, alignment: 16) { scratch -> Bool in
                let n = session.takeCiphertext(into: scratch)
                var offset = 0
                while offset < n {
                    let rest = UnsafeRawBufferPointer(rebasing: scratch[offset..<n])
                    switch inner.write(rest) {
                    case .bytes(let k): offset += k
                    case .wouldBlock:
                        unsent.append(rest)
                        return true
                    case .eof:
                        writeFailed(EPIPE)
                        return true
                    case .error(let e):
                        writeFailed(e)
                        return true
                    }
                }
                return false
            }
            if blocked { return }
        }
    }

    /// Records a socket write error. A peer that refuses us (a missing client certificate under
    /// TLS 1.3, found after our handshake ended) sends its alert and resets the connection, and the
    /// reset can reach our write before we read: the alert is still readable, so read it to know why.
    private func writeFailed(_ e: Int32) {
        writeErrno = e
        guard session.handshakeState == .done, session.failure == nil, !innerEOF else { return }
        while case .bytes = readCiphertext() {}
        _ = session.noticePeerAlert()
        inputMayBeBuffered = session.hasBufferedInput
    }

    private func finishShutdownIfFlushed() {
        guard shutdownPending, !hasUnsent || writeErrno != 0 else { return }
        shutdownPending = false
        writeShut = true
        inner.shutdownWrite()
    }
}
