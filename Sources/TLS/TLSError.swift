/// Why a TLS context could not be built or a session failed: a category small enough to be a
/// metrics label (`reason.rawValue`) and the full text for logs and start-up exit messages.
public struct TLSError: Error, CustomStringConvertible, Equatable, Sendable {
    public let reason: TLSFailureReason
    /// What OpenSSL said, after what we were doing ("cannot read certificate chain /x.pem: No such
    /// file or directory").
    public let message: String

    public init(_ reason: TLSFailureReason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

/// Failure categories. Few on purpose: each becomes a label value on a counter, so the set must stay
/// bounded and stable; the message carries the detail. A handshake timeout is not here: only the
/// caller, who owns the clock, can tell one.
public enum TLSFailureReason: String, CaseIterable, Sendable {
    /// Building a context: unreadable files, a key that does not match, a bad cipher list.
    case configuration
    /// The peer's chain does not lead to a trusted CA, or the peer said ours does not.
    case unknownCA = "unknown_ca"
    /// The peer rejected our certificate (alert bad_certificate / unsupported_certificate).
    case badCertificate = "bad_certificate"
    /// A certificate in the chain has expired (or is not valid yet), either side telling.
    case certificateExpired = "certificate_expired"
    /// The server requires a client certificate and the client sent none (mTLS).
    case certificateRequired = "certificate_required"
    /// Any other chain verification failure (bad signature, unsuitable purpose, revoked...).
    case certificateVerifyFailed = "certificate_verify_failed"
    /// The certificate is valid but names neither the DNS name nor the IP address we asked for.
    case hostnameMismatch = "hostname_mismatch"
    /// No protocol version both sides accept (an old client against our TLS 1.2 minimum).
    case version
    /// No cipher suite both sides accept (also the peer's generic handshake_failure alert).
    case noSharedCipher = "no_shared_cipher"
    /// The bytes were not TLS: plain HTTP sent to a TLS port, or a plain-text answer to a ClientHello.
    case `protocol`
    /// The connection closed or was reset before the handshake finished.
    case connectionClosed = "connection_closed"
    case other
}
