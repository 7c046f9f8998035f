/// How a message body is delimited (RFC 9112 section 6).
public enum BodyFraming: Equatable, Sendable {
    /// No body: GET without Content-Length, HEAD responses, 1xx/204/304.
    case none
    case length(Int)
    case chunked
    /// Response only: the body runs until the upstream closes the connection.
    case untilClose
}

/// One header field line as offsets into `HTTPHead.bytes` (no String per header).
public struct HeaderField: Equatable, Sendable {
    public var nameStart: Int32
    public var nameEnd: Int32
    /// Value without leading/trailing OWS.
    public var valueStart: Int32
    public var valueEnd: Int32
}

/// A parsed request or response head. The raw bytes are kept (a reused buffer in the parser is
/// copied once per head) and everything else points into them.
public struct HTTPHead: Sendable {
    /// Start line through the final CRLF CRLF, exactly as received.
    public internal(set) var bytes: [UInt8] = []
    public internal(set) var fields: [HeaderField] = []

    // Request heads.
    public internal(set) var method: HTTPMethod = .get
    /// Offsets of the method token and the request target in `bytes`.
    public internal(set) var methodRange: Range<Int> = 0..<0
    public internal(set) var targetRange: Range<Int> = 0..<0
    public internal(set) var targetForm: RequestTargetForm = .origin
    /// The part of the target that goes upstream: no fragment, and for absolute-form only the
    /// path and query (empty when the target had neither; `HeadWriter` supplies the `/`).
    public internal(set) var forwardTargetRange: Range<Int> = 0..<0
    /// The target's authority (absolute and authority forms).
    public internal(set) var authorityRange: Range<Int>?

    // Response heads.
    public internal(set) var status: Int = 0
    /// Offsets of the reason phrase.
    public internal(set) var reasonRange: Range<Int> = 0..<0

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public internal(set) var versionMinor: Int = 1
    public internal(set) var framing: BodyFraming = .none
    /// The Content-Length the message declares, even where it does not frame a body (a response
    /// to HEAD, a 304): the proxy re-frames and needs it to write the same value back.
    public internal(set) var contentLength: Int?
    /// Whether the connection may be reused after this message, from the version and `Connection`.
    public internal(set) var keepAlive: Bool = true
    /// `Expect: 100-continue` (request).
    public internal(set) var expectsContinue: Bool = false
    /// How many Host fields a request carried. The codec accepts any number; a server applies
    /// RFC 9112 section 3.2 (see `HTTPParseError.invalidHost`).
    public internal(set) var hostFieldCount = 0
    /// The first Host field's value.
    public internal(set) var hostValueRange: Range<Int>?
    /// Field lines whose name holds `_`: CGI-style back ends fold `_` into `-`, so such a name
    /// can pass for another field (see `HeadWriter.UnderscorePolicy`).
    public internal(set) var underscoreFieldCount = 0
    /// Request: `Connection: upgrade` with an `Upgrade` field. Response: status 101, or a 2xx to
    /// CONNECT (a tunnel follows either).
    public internal(set) var isUpgrade: Bool = false

    public init() {}
}

/// Methods the proxy treats specially; everything else is `.other` and forwarded as written.
public enum HTTPMethod: Equatable, Sendable {
    case get, head, post, put, delete, patch, options, connect, trace
    case other

    /// Safe to retry on a fresh upstream connection (RFC 9110 section 9.2.2).
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: return true
        default: return false
        }
    }
}
