/// The one writer of HTTP/1.1 head syntax for what the proxy sends: forwarded request heads,
/// relayed response heads and the proxy's own answers. Bytes go straight into the caller's
/// buffer (no String per field), and the framing fields are always the proxy's own: the incoming
/// `Content-Length`/`Transfer-Encoding` are dropped by `appendForwardableFields` and rewritten here
/// from the parsed framing, so a message is never passed on with the sender's framing bytes.
public enum HeadWriter {
    public static let crlf: [UInt8] = [ASCII.cr, ASCII.lf]

    /// How a relayed response body is framed towards the client.
    public enum RelayFraming: Equatable, Sendable {
        /// No body (HEAD, 1xx, 204, 304, 101).
        case none
        case length
        case chunked
        /// Close-delimited: an HTTP/1.0 client cannot take chunked, so the connection ends the body.
        case close
    }

    /// What happens to a request field whose name holds `_` (nginx's `underscores_in_headers`,
    /// Envoy's `headers_with_underscores_action`; refusing the request is the proxy's to do).
    public enum UnderscorePolicy: Sendable {
        /// Forwarded like any other field (responses).
        case keepAll
        /// Left out.
        case drop
        /// Forwarded, except a name that folds (`_` to `-`) into a framing or hop-by-hop field or
        /// one the proxy writes itself: that one is left out.
        case allow
    }

    /// The `Connection` field the proxy writes on a head it sends.
    public enum ConnectionOption: Sendable {
        /// None: HTTP/1.1's default, keep-alive.
        case none
        case close
        /// HTTP/1.0 clients need keep-alive spelled out.
        case keepAlive
        case upgrade
    }

    /// Request line (`METHOD target HTTP/1.1`), end-to-end fields, `extraFields`, framing and
    /// `Connection: upgrade` for an upgrade request, and the empty line. An absolute-form target
    /// goes upstream in origin-form with its authority as the only Host (RFC 9112 section 3.2.2);
    /// a fragment never goes. Returns how many underscore fields `underscores` left out.
    @discardableResult
    public static func appendRequestHead(
        _ head: HTTPHead, excluding: Set<String>, underscores: UnderscorePolicy = .keepAll, to out: inout [UInt8],
        extraFields: (inout [UInt8]) -> Void
    ) -> Int {
        out.append(contentsOf: head.bytes[head.methodRange])
        out.append(ASCII.sp)
        let target = head.forwardTargetRange
        let absolute = head.targetForm == .absolute
        if absolute && (target.isEmpty || head.bytes[target.lowerBound] != UInt8(ascii: "/")) {
            // An empty path is `/`, or `*` for OPTIONS with no query (RFC 9112 section 3.2.4).
            out.append(target.isEmpty && head.method == .options ? UInt8(ascii: "*") : UInt8(ascii: "/"))
        }
        out.append(contentsOf: head.bytes[target])
        out.append(contentsOf: httpVersionLineEnd)
        if absolute, let authority = head.authorityRange {
            out.append(contentsOf: hostPrefix)
            out.append(contentsOf: head.bytes[authority])
            out.append(contentsOf: crlf)
        }
        let leftOut = head.appendForwardableFields(
            to: &out, excluding: excluding, keepUpgrade: head.isUpgrade, underscores: underscores, dropHost: absolute)
        extraFields(&out)
        switch head.framing {
        case .length(let n): appendContentLength(n, to: &out)
        case .chunked: out.append(contentsOf: chunkedField)
        case .none, .untilClose: break
        }
        if head.isUpgrade { out.append(contentsOf: connectionUpgrade) }
        out.append(contentsOf: crlf)
        return leftOut
    }

    /// How `response` is framed towards a client that sent `requestMethod` over HTTP/1.`requestMinor`.
    public static func relayFraming(
        for response: HTTPHead, requestMethod: HTTPMethod, requestMinor: Int
    ) -> RelayFraming {
        if requestMethod == .head || response.status == 204 || response.status == 304 || response.isUpgrade {
            return .none
        }
        switch response.framing {
        case .length, .none: return .length
        case .chunked, .untilClose: return requestMinor >= 1 ? .chunked : .close
        }
    }

    /// Status line (the upstream's reason phrase, or the standard one when it sent none),
    /// end-to-end fields, framing for `framing`, `connection`, `extraFields`, the empty line.
    /// A response to HEAD and a 304 keep the upstream's `Content-Length` (RFC 9110 section 8.6).
    public static func appendResponseHead(
        _ response: HTTPHead, framing: RelayFraming, requestMethod: HTTPMethod, connection: ConnectionOption,
        excluding: Set<String>, to out: inout [UInt8], extraFields: (inout [UInt8]) -> Void
    ) {
        out.append(contentsOf: statusLinePrefix)
        appendDecimal(response.status, to: &out)
        out.append(ASCII.sp)
        if response.reasonRange.isEmpty {
            out.append(contentsOf: StatusText.reason(response.status).utf8)
        } else {
            out.append(contentsOf: response.bytes[response.reasonRange])
        }
        out.append(contentsOf: crlf)
        response.appendForwardableFields(to: &out, excluding: excluding, keepUpgrade: response.status == 101)
        switch framing {
        case .none:
            if requestMethod == .head || response.status == 304, let n = response.contentLength {
                appendContentLength(n, to: &out)
            }
        case .length:
            if case .length(let n) = response.framing {
                appendContentLength(n, to: &out)
            } else {
                appendContentLength(0, to: &out)
            }
        case .chunked: out.append(contentsOf: chunkedField)
        case .close: break
        }
        appendConnection(connection, to: &out)
        extraFields(&out)
        out.append(contentsOf: crlf)
    }

    /// A complete answer of the proxy's own: plain-text body, `Content-Length`, `connection`, then
    /// `extraFields`. `contentType` nil means `text/plain`.
    public static func appendSimpleResponse(
        status: Int, body: String, connection: ConnectionOption, contentType: String? = nil,
        to out: inout [UInt8], extraFields: (inout [UInt8]) -> Void = { _ in }
    ) {
        out.append(contentsOf: statusLinePrefix)
        appendDecimal(status, to: &out)
        out.append(ASCII.sp)
        out.append(contentsOf: StatusText.reason(status).utf8)
        out.append(contentsOf: crlf)
        appendField("Content-Type", contentType ?? "text/plain", to: &out)
        appendContentLength(body.utf8.count, to: &out)
        appendConnection(connection, to: &out)
        extraFields(&out)
        out.append(contentsOf: crlf)
        out.append(contentsOf: body.utf8)
    }

    /// `name: value CRLF`. The caller vouches for both (they come from the proxy, not a peer).
    public static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        out.append(contentsOf: name.utf8)
        out.append(ASCII.colon)
        out.append(ASCII.sp)
        out.append(contentsOf: value.utf8)
        out.append(contentsOf: crlf)
    }

    public static func appendContentLength(_ n: Int, to out: inout [UInt8]) {
        out.append(contentsOf: contentLengthPrefix)
        appendDecimal(n, to: &out)
        out.append(contentsOf: crlf)
    }

    static func appendConnection(_ option: ConnectionOption, to out: inout [UInt8]) {
        switch option {
        case .none: break
        case .close: out.append(contentsOf: connectionClose)
        case .keepAlive: out.append(contentsOf: connectionKeepAlive)
        case .upgrade: out.append(contentsOf: connectionUpgrade)
        }
    }

    /// A non-negative integer in decimal, without a String.
    @inline(__always)
    public static func appendDecimal(_ v: Int, to out: inout [UInt8]) {
        precondition(v >= 0, "negative decimal")
        var divisor = 1
        while divisor <= v / 10 { divisor *= 10 }
        var x = v
        while divisor > 0 {
            out.append(UInt8(truncatingIfNeeded: 0x30 + x / divisor))
            x %= divisor
            divisor /= 10
        }
    }

    static let httpVersionLineEnd = Array(" HTTP/1.1\r\n".utf8)
    static let statusLinePrefix = Array("HTTP/1.1 ".utf8)
    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let hostPrefix = Array("Host: ".utf8)
    static let chunkedField = Array("Transfer-Encoding: chunked\r\n".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    static let connectionUpgrade = Array("Connection: upgrade\r\n".utf8)
    /// The interim answer relayed to a client that sent `Expect: 100-continue`.
    public static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
