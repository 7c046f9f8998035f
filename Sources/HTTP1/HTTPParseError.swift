/// Why a message was rejected; each maps to the status the proxy answers with before closing.
public enum HTTPParseError: Error, Equatable, Sendable {
    case invalidRequestLine
    /// A request-target of none of the four forms, a form the method does not take, bytes RFC 3986
    /// does not allow (raw non-ASCII included), or broken percent-encoding (RFC 9112 section 3.2).
    case invalidTarget
    case invalidStatusLine
    case unsupportedVersion
    case invalidHeaderField
    /// Obsolete line folding (RFC 9112 section 5.2).
    case obsoleteLineFolding
    case headerTooLarge
    case tooManyHeaders
    case targetTooLong
    case invalidContentLength
    /// Content-Length together with Transfer-Encoding, or differing Content-Length values.
    case ambiguousFraming
    /// A Transfer-Encoding whose final coding is not chunked (request).
    case unsupportedTransferEncoding
    case invalidChunk
    /// An HTTP/1.1 request without Host, a request with several, or a Host value that is not
    /// `host[:port]` (RFC 9112 section 3.2, RFC 9110 section 7.2). The parser does not raise it
    /// (a codec can be used by clients too); the proxy does.
    case invalidHost
    /// The peer closed mid-message.
    case truncated

    /// RFC 9112 section 3.2's rule for a server: nil when `head` may be served. An empty Host is
    /// refused too: the proxy only serves http, whose URIs must have a host (RFC 9110 4.2.1).
    public static func checkHost(_ head: HTTPHead) -> HTTPParseError? {
        if head.hostFieldCount > 1 || (head.hostFieldCount == 0 && head.versionMinor >= 1) { return .invalidHost }
        guard let value = head.hostValueRange else { return nil }
        let valid = head.bytes.withUnsafeBufferPointer { URIGrammar.isAuthority($0, value, requirePort: false) }
        return valid ? nil : .invalidHost
    }

    /// The status code the proxy answers a client with.
    public var status: Int {
        switch self {
        case .headerTooLarge, .tooManyHeaders: return 431
        case .targetTooLong: return 414
        case .unsupportedVersion: return 505
        default: return 400
        }
    }
}
