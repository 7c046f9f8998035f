import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// TLS over a connected socket on a thread that may block (the reporter worker talking to a
/// collector), every step bounded by a deadline. Each socket call is non-blocking (MSG_DONTWAIT)
/// after a `poll` for the time left, so it works on blocking and non-blocking descriptors alike,
/// and a peer that stops mid-record costs at most the deadline.
///
/// The descriptor stays the caller's: `shutdown` says close_notify, the caller closes it.
public final class BlockingTLSConnection {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case timedOut
        case io(Int32)
        /// The peer closed before the exchange finished.
        case closedByPeer
        case tls(TLSError)

        public var description: String {
            switch self {
            case .timedOut: return "timed out"
            case .io(let e): return String(cString: strerror(e))
            case .closedByPeer: return "connection closed by peer"
            case .tls(let e): return e.message
            }
        }
    }

    public let fd: Int32
    public let session: TLSSession

    /// Runs the handshake. A failed one is `.tls` with the session's reason.
    public init(fd: Int32, session: TLSSession, deadline: DispatchTime) throws(Failure) {
        self.fd = fd
        self.session = session
        while true {
            let state = session.advanceHandshake()
            if state == .failed {
                // The alert saying why is worth one attempt; the failure is what matters.
                try? flush(deadline: DispatchTime.now())
                throw .tls(session.failure!)
            }
            try flush(deadline: deadline)
            if state == .done { return }
            if try !receiveCiphertext(deadline: deadline) { session.feedEOF() }
        }
    }

    /// What the handshake agreed.
    public var info: TLSHandshakeInfo { session.info! }

    public func sendAll(_ bytes: [UInt8], deadline: DispatchTime) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes {
                session.writePlaintext(UnsafeRawBufferPointer(rebasing: $0[offset...]))
            }
            switch result {
            case .bytes(let n): offset += n
            case .wantMore: throw .tls(TLSError(.other, "TLS write before the handshake finished"))
            case .error(let e): throw .tls(e)
            }
            do {
                try flush(deadline: deadline)
            } catch {
                // A TLS 1.3 server checks the client's certificate after the client has finished
                // its handshake: its refusal arrives as an alert, then a close, and the first
                // write after it fails with EPIPE. The alert already here says why.
                switch error {
                case .io, .closedByPeer: throw peerAlert().map { .tls($0) } ?? error
                default: throw error
                }
            }
        }
    }

    /// What the peer sent before it went away, read without waiting, if it was an alert.
    private func peerAlert() -> TLSError? {
        var chunk = [UInt8](repeating: 0, count: 17 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                chunk.withUnsafeBytes { session.feedCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } else if !(n < 0 && errno == EINTR) {
                break
            }
        }
        var plaintext = [UInt8](repeating: 0, count: 16 * 1024)
        if case .error(let e) = session.readPlaintext(into: &plaintext) { return e }
        return nil
    }

    /// Appends the plaintext one read yields to `buffer`; false at the end of the stream.
    public func receive(into buffer: inout [UInt8], deadline: DispatchTime) throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let result = session.readPlaintext(into: &chunk)
            if session.pendingCiphertextCount > 0 { try flush(deadline: deadline) }
            switch result {
            case .bytes(let n):
                buffer.append(contentsOf: chunk[0..<n])
                return true
            case .closed: return false
            case .error(let e): throw .tls(e)
            case .wantMore:
                if try !receiveCiphertext(deadline: deadline) { session.feedEOF() }
            }
        }
    }

    /// close_notify, sent if the socket takes it before `deadline`.
    public func shutdown(deadline: DispatchTime) {
        session.shutdown()
        try? flush(deadline: deadline)
    }

    /// Sends all pending ciphertext.
    private func flush(deadline: DispatchTime) throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while session.pendingCiphertextCount > 0 {
            let n = chunk.withUnsafeMutableBytes { session.takeCiphertext(into: $0) }
            var offset = 0
            while offset < n {
                // Send first, wait only when the socket is full: a deadline already due still
                // gets one attempt (the alert after a failed handshake).
                let sent = chunk.withUnsafeBytes { raw in
                    send(fd, raw.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
                if sent > 0 {
                    offset += sent
                } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    try wait(for: Int16(POLLOUT), deadline: deadline)
                } else if sent < 0 && errno != EINTR {
                    throw .io(errno)
                }
            }
        }
    }

    /// One read into the session; false at end of stream.
    private func receiveCiphertext(deadline: DispatchTime) throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 17 * 1024)
        while true {
            try wait(for: Int16(POLLIN), deadline: deadline)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                chunk.withUnsafeBytes { session.feedCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                return true
            }
            if n == 0 { return false }
            if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
            if errno == ECONNRESET { throw .closedByPeer }
            throw .io(errno)
        }
    }

    private func wait(for events: Int16, deadline: DispatchTime) throws(Failure) {
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let end = deadline.uptimeNanoseconds
            guard end > now else { throw .timedOut }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&pfd, 1, Int32(clamping: (end - now + 999_999) / 1_000_000))
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw .io(errno) }
        }
    }
}
