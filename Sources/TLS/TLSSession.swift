import CSSL

/// One TLS connection as a byte machine over two memory BIOs: ciphertext from the network goes in
/// with `feedCiphertext`, ciphertext for the network comes out with `takeCiphertext`, plaintext
/// goes through `readPlaintext`/`writePlaintext`. It never touches a socket, so the same session
/// serves the event-loop transport, the blocking collector client and socket-free tests; whoever
/// drives it decides when bytes move.
///
/// Memory BIOs instead of a BIO pair: OpenSSL then never reports WANT_WRITE (its output just
/// accumulates), so a plaintext write is taken or refused, never left half-done with OpenSSL
/// insisting on a retry with the same buffer. The driver bounds the output instead, by not writing
/// while earlier ciphertext is still unsent.
///
/// Not thread-safe: one connection, one loop (or one reporter thread).
public final class TLSSession {
    public enum HandshakeState: Equatable, Sendable {
        case inProgress
        case done
        case failed
    }

    public enum ReadResult: Equatable {
        case bytes(Int)
        /// Needs more ciphertext (or, before the handshake is done, the handshake to progress).
        case wantMore
        /// The peer ended the stream: close_notify, or end of input without one (see
        /// `receivedCloseNotify`).
        case closed
        case error(TLSError)
    }

    public enum WriteResult: Equatable {
        /// How many plaintext bytes were taken (at least one record's worth unless fewer were given).
        case bytes(Int)
        /// The handshake is not done yet.
        case wantMore
        case error(TLSError)
    }

    public let context: TLSContext
    public let role: TLSConfiguration.Role
    /// The client's name for the server (nil on servers; see `TLSConfiguration.serverName`).
    public let serverName: String?
    public private(set) var handshakeState = HandshakeState.inProgress
    /// Set when the handshake finishes.
    public private(set) var info: TLSHandshakeInfo?
    /// Why the session failed; every later call reports it again.
    public private(set) var failure: TLSError?
    /// The peer ended its side with close_notify. False after `.closed` means the connection just
    /// ended: a truncation only the framing above (Content-Length, chunked) can tell.
    public private(set) var receivedCloseNotify = false
    public private(set) var sentCloseNotify = false

    private let ssl: OpaquePointer
    /// Network to OpenSSL.
    private let input: OpaquePointer
    /// OpenSSL to network.
    private let output: OpaquePointer
    private var inputEnded = false
    private var readClosed = false
    /// After a fatal error OpenSSL forbids further calls such as SSL_shutdown.
    private var fatal = false

    init(context: TLSContext, serverName: String?) throws(TLSError) {
        self.context = context
        role = context.configuration.role
        self.serverName = role == .client ? serverName : nil
        let name = try serverName.map { (n) throws(TLSError) in try ServerName(n) }
        if role == .client && context.configuration.verifyPeer && name == nil {
            throw TLSError(
                .configuration, "a TLS client that verifies the server needs the server's name or IP address")
        }
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.handle) else {
            throw OpenSSLErrorQueue.configurationError("cannot create a TLS session")
        }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw OpenSSLErrorQueue.configurationError("cannot create memory BIOs")
        }
        // An empty input BIO means "more later", not end of stream, until `feedEOF`.
        _ = traceproxy_BIO_set_mem_eof_return(input, -1)
        _ = traceproxy_BIO_set_mem_eof_return(output, -1)
        SSL_set_bio(ssl, input, output)
        self.ssl = ssl
        self.input = input
        self.output = output
        switch role {
        case .server: SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let name { try configureClient(for: name, verify: context.configuration.verifyPeer) }
        }
    }

    deinit { SSL_free(ssl) }

    private func configureClient(for name: ServerName, verify: Bool) throws(TLSError) {
        let param = SSL_get0_param(ssl)
        switch name {
        case .ip(let address):
            if verify && X509_VERIFY_PARAM_set1_ip_asc(param, address) != 1 {
                throw OpenSSLErrorQueue.configurationError("cannot check IP address \(address)")
            }
        case .dns(let host):
            if verify {
                X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                if X509_VERIFY_PARAM_set1_host(param, host, 0) != 1 {
                    throw OpenSSLErrorQueue.configurationError("cannot check host name \(host)")
                }
            }
            if traceproxy_SSL_set_tlsext_host_name(ssl, host) != 1 {
                throw OpenSSLErrorQueue.configurationError("cannot send host name \(host) as SNI")
            }
        }
    }

    // MARK: ciphertext

    /// Bytes received from the peer. All are taken (a memory BIO grows).
    public func feedCiphertext(_ bytes: UnsafeRawBufferPointer) {
        precondition(!inputEnded, "ciphertext fed after feedEOF")
        var rest = bytes
        while !rest.isEmpty {
            let n = BIO_write(input, rest.baseAddress, Int32(clamping: rest.count))
            if n <= 0 { break }
            rest = UnsafeRawBufferPointer(rebasing: rest[Int(n)...])
        }
    }

    public func feedCiphertext(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feedCiphertext($0) } }

    /// The peer closed the connection: once the fed bytes are used up, reads report `.closed`
    /// (or, during the handshake, the `connection_closed` failure).
    public func feedEOF() {
        if inputEnded { return }
        inputEnded = true
        _ = traceproxy_BIO_set_mem_eof_return(input, 0)
    }

    /// Ciphertext waiting to be sent.
    public var pendingCiphertextCount: Int { Int(traceproxy_BIO_pending(output)) }

    /// Moves up to `buffer.count` bytes of ciphertext to send into `buffer`; returns how many.
    public func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        if buffer.isEmpty { return 0 }
        let n = BIO_read(output, buffer.baseAddress, Int32(clamping: buffer.count))
        return n > 0 ? Int(n) : 0
    }

    /// All ciphertext waiting to be sent.
    public func takeCiphertext() -> [UInt8] {
        let count = pendingCiphertextCount
        if count == 0 { return [] }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { takeCiphertext(into: $0) }
        out.removeLast(count - n)
        return out
    }

    /// Received bytes not yet turned into plaintext, or plaintext not yet read: a reader that
    /// stopped early must be offered the rest although the socket has nothing new. It may be a
    /// partial record that yields nothing until more arrives.
    public var hasBufferedInput: Bool {
        SSL_has_pending(ssl) == 1 || traceproxy_BIO_pending(input) > 0
    }

    // MARK: handshake

    /// Runs the handshake as far as the fed ciphertext allows (its output then waits in
    /// `takeCiphertext`). Reads and writes also advance it, so calling this is optional.
    @discardableResult
    public func advanceHandshake() -> HandshakeState {
        guard handshakeState == .inProgress else { return handshakeState }
        OpenSSLErrorQueue.clear()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeState = .done
            info = collectInfo()
            return .done
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .inProgress
        default:
            fail(TLSFailureClassifier.classify(ssl: ssl, serverName: serverName, duringHandshake: true))
            return .failed
        }
    }

    /// The connection under the handshake failed (reset, or an I/O error of the blocking helper).
    func failHandshake(_ error: TLSError) {
        guard handshakeState == .inProgress else { return }
        fail(error)
    }

    private func fail(_ error: TLSError) {
        failure = error
        fatal = true
        if handshakeState == .inProgress { handshakeState = .failed }
    }

    private func collectInfo() -> TLSHandshakeInfo {
        let version = String(cString: SSL_get_version(ssl))
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? ""
        var alpnData: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnData, &alpnLength)
        let alpn = alpnData.map {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self)
        }
        let sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
        return TLSHandshakeInfo(
            protocolVersion: version, cipher: cipher, applicationProtocol: alpn, serverName: sni,
            peerSubject: peerSubject())
    }

    private func peerSubject() -> String? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let name = X509_get_subject_name(certificate),
            let bio = BIO_new(BIO_s_mem())
        else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, TRACEPROXY_XN_FLAG_RFC2253) >= 0 else { return nil }
        var data: UnsafeMutablePointer<CChar>?
        let length = traceproxy_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    // MARK: plaintext

    public func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        if let failure { return .error(failure) }
        if readClosed { return .closed }
        if handshakeState == .inProgress {
            switch advanceHandshake() {
            case .inProgress: return .wantMore
            case .failed: return .error(failure!)
            case .done: break
            }
        }
        if buffer.isEmpty { return .bytes(0) }
        OpenSSLErrorQueue.clear()
        var n = 0
        let rc = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &n)
        if rc == 1 { return .bytes(n) }
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            receivedCloseNotify = true
            readClosed = true
            return .closed
        default:
            let error = TLSFailureClassifier.classify(ssl: ssl, serverName: serverName, duringHandshake: false)
            fatal = true
            // End of input without close_notify is how most HTTP peers hang up; the framing above
            // decides whether anything was cut short.
            if error.reason == .connectionClosed {
                readClosed = true
                return .closed
            }
            failure = error
            return .error(error)
        }
    }

    public func readPlaintext(into buffer: inout [UInt8]) -> ReadResult {
        buffer.withUnsafeMutableBytes { readPlaintext(into: $0) }
    }

    /// Encrypts `bytes` (or a prefix: at least one record) into the output. The caller should
    /// send the output before writing much more: nothing here bounds it.
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) -> WriteResult {
        if let failure { return .error(failure) }
        if sentCloseNotify { return .error(TLSError(.other, "write after close_notify was sent")) }
        if handshakeState == .inProgress {
            switch advanceHandshake() {
            case .inProgress: return .wantMore
            case .failed: return .error(failure!)
            case .done: break
            }
        }
        if bytes.isEmpty { return .bytes(0) }
        OpenSSLErrorQueue.clear()
        var n = 0
        let rc = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &n)
        if rc == 1 { return .bytes(n) }
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantMore
        default:
            let error = TLSFailureClassifier.classify(ssl: ssl, serverName: serverName, duringHandshake: false)
            fail(error)
            return .error(error)
        }
    }

    public func writePlaintext(_ bytes: [UInt8]) -> WriteResult { bytes.withUnsafeBytes { writePlaintext($0) } }

    /// Lets OpenSSL process what was fed without taking plaintext, to find a fatal alert the peer
    /// sent before resetting the connection (a server refusing our missing client certificate).
    /// Returns the failure it found; nil when the input holds plaintext first, or nothing.
    func noticePeerAlert() -> TLSError? {
        guard handshakeState == .done, failure == nil, !readClosed else { return failure }
        OpenSSLErrorQueue.clear()
        var byte: UInt8 = 0
        var n = 0
        let rc = SSL_peek_ex(ssl, &byte, 1, &n)
        if rc == 1 { return nil }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE, SSL_ERROR_ZERO_RETURN:
            return nil
        default:
            let error = TLSFailureClassifier.classify(ssl: ssl, serverName: serverName, duringHandshake: false)
            fatal = true
            if error.reason == .connectionClosed {
                readClosed = true
                return nil
            }
            failure = error
            return error
        }
    }

    /// Queues close_notify (our side is done writing). A no-op before the handshake finished or
    /// after a failure, when OpenSSL has nothing orderly to say.
    public func shutdown() {
        guard handshakeState == .done, !fatal, !sentCloseNotify else { return }
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
        sentCloseNotify = true
    }

    /// OpenSSL's object, for tests that make a session misbehave as no configuration can (a TLS
    /// 1.2 peer asking to renegotiate).
    var handleForTesting: OpaquePointer { ssl }

    /// Asks for a TLS 1.3 key update, ours and the peer's in return (OpenSSL 3.0 answers with the
    /// next write, later releases while reading). Tests use it to exercise that path.
    func requestKeyUpdate() -> Bool {
        guard handshakeState == .done, !fatal else { return false }
        OpenSSLErrorQueue.clear()
        guard SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1 else {
            OpenSSLErrorQueue.clear()
            return false
        }
        // The update goes out with the next write or handshake call.
        return SSL_do_handshake(ssl) == 1
    }
}
