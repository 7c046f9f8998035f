import CSSL

/// Turns a failed OpenSSL call into a `TLSError`: one category from the error queue and the
/// verification result, and the message in OpenSSL's words. Knowing which category is whose
/// (our verification failed vs. the peer's alert told us it refused ours) lives only here.
enum TLSFailureClassifier {
    static func classify(ssl: OpaquePointer, serverName: String?, duringHandshake: Bool) -> TLSError {
        let entries = OpenSSLErrorQueue.drain()
        let when = duringHandshake ? "TLS handshake failed" : "TLS session failed"
        let sslReasons = entries.filter { $0.library == ERR_LIB_SSL }.map(\.reason)
        if entries.isEmpty || sslReasons.contains(SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            // SSL_ERROR_SYSCALL with an empty queue is end of input on older OpenSSL releases.
            return TLSError(.connectionClosed, "\(when): the connection closed")
        }
        let text = OpenSSLErrorQueue.describe(entries)
        if sslReasons.contains(SSL_R_CERTIFICATE_VERIFY_FAILED) {
            return verificationFailure(Int32(SSL_get_verify_result(ssl)), serverName: serverName, when: when)
        }
        for reason in sslReasons {
            if let category = category(ofSSLReason: reason) {
                let hint = category == .protocol ? " (the peer is not speaking TLS)" : ""
                return TLSError(category, "\(when): \(text)\(hint)")
            }
        }
        return TLSError(.other, "\(when): \(text)")
    }

    /// The chain or name check failed on our side.
    private static func verificationFailure(_ result: Int32, serverName: String?, when: String) -> TLSError {
        let what = String(cString: X509_verify_cert_error_string(Int(result)))
        let message = "\(when): certificate verify failed: \(what)"
        switch result {
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            let expected = serverName.map { " (the certificate does not name \($0))" } ?? ""
            return TLSError(.hostnameMismatch, message + expected)
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_CERT_UNTRUSTED,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return TLSError(.unknownCA, message)
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
            return TLSError(.certificateExpired, message)
        default:
            return TLSError(.certificateVerifyFailed, message)
        }
    }

    /// Alerts from the peer arrive as reasons SSL_AD_REASON_OFFSET + the alert number.
    private static func category(ofSSLReason reason: Int32) -> TLSFailureReason? {
        switch reason {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return .certificateRequired
        case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_CIPHERS_AVAILABLE, SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS,
            SSL_R_NO_SUITABLE_KEY_SHARE:
            return .noSharedCipher
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_VERSION_TOO_LOW, SSL_R_VERSION_TOO_HIGH:
            return .version
        // Not TLS at all: "GET / HTTP/1.1" to a server, "HTTP/1.1 400" back to a client.
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_WRONG_VERSION_NUMBER, SSL_R_UNKNOWN_PROTOCOL,
            SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_UNEXPECTED_RECORD,
            SSL_R_UNEXPECTED_MESSAGE, SSL_R_BAD_RECORD_TYPE:
            return .protocol
        default:
            break
        }
        guard reason > SSL_AD_REASON_OFFSET else { return nil }
        switch reason - SSL_AD_REASON_OFFSET {
        case SSL_AD_BAD_CERTIFICATE, SSL_AD_UNSUPPORTED_CERTIFICATE, SSL_AD_CERTIFICATE_UNKNOWN,
            SSL_AD_CERTIFICATE_REVOKED:
            return .badCertificate
        case SSL_AD_UNKNOWN_CA: return .unknownCA
        case SSL_AD_CERTIFICATE_EXPIRED: return .certificateExpired
        case SSL_AD_CERTIFICATE_REQUIRED: return .certificateRequired
        case SSL_AD_PROTOCOL_VERSION: return .version
        // OpenSSL's server answers "no shared cipher" with this alert; the client sees only the alert.
        case SSL_AD_HANDSHAKE_FAILURE, SSL_AD_INSUFFICIENT_SECURITY: return .noSharedCipher
        default: return nil
        }
    }
}
