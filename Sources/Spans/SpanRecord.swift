import HTTP1
import Propagation

#if canImport(Glibc)
    import Glibc
#endif

/// Why an exchange ended early. A closed set rather than a String, so that the loop stores one
/// byte and a new failure mode cannot reach the span without a name.
public enum SpanErrorKind: String, Sendable, CaseIterable {
    case clientReset = "client_reset"
    case clientClosed = "client_closed"
    case clientProtocol = "client_protocol"
    case clientTimeout = "client_timeout"
    case upstreamConnect = "upstream_connect"
    /// The upstream's host name has no address (yet).
    case upstreamUnresolved = "upstream_unresolved"
    case upstreamConnectTimeout = "upstream_connect_timeout"
    case upstreamTimeout = "upstream_timeout"
    case upstreamProtocol = "upstream_protocol"
    case upstreamReset = "upstream_reset"
    /// The upstream's TLS handshake failed (certificate not trusted, wrong name, expired, ...).
    case upstreamTLS = "upstream_tls"
    /// SIGTERM's drain ran out of time with the exchange in flight.
    case drainTimeout = "drain_timeout"

    /// The client went away (reset or closed its connection) before the exchange completed.
    /// OpenTelemetry's HTTP conventions do not count a request the client cancelled as an error of
    /// the server hop, so such spans get a `client_aborted` event instead of the error flag.
    public var isClientAbort: Bool { self == .clientReset || self == .clientClosed }

    /// The client broke its side: it went away, stalled, or sent what the parser refuses.
    public var isClientSide: Bool { isClientAbort || self == .clientTimeout || self == .clientProtocol }
}

/// The client's socket address as 16 address bytes, port and family: a fixed value, so a span
/// carries its peer without a String; the text form is made on the reporter's thread.
public struct PeerAddress: Sendable, Equatable {
    public enum Family: UInt8, Sendable { case unknown, ipv4, ipv6 }

    public var family: Family
    public var port: UInt16
    /// IPv6 scope (interface index) of a link-local peer, shown as `%name` like getnameinfo does.
    public var scopeID: UInt32
    /// Network order; an IPv4 address fills the first 4 bytes.
    public var bytes: (UInt64, UInt64)

    public static let unknown = PeerAddress(family: .unknown, port: 0, scopeID: 0, bytes: (0, 0))

    public init(family: Family, port: UInt16, scopeID: UInt32 = 0, bytes: (UInt64, UInt64)) {
        self.family = family
        self.port = port
        self.scopeID = scopeID
        self.bytes = bytes
    }

    /// From a `sockaddr_in` or `sockaddr_in6` (the accept(2) result); anything else is `.unknown`.
    public init(_ address: UnsafePointer<sockaddr>) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let sin = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
            var b: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &b) { $0.storeBytes(of: sin.sin_addr, as: in_addr.self) }
            self.init(family: .ipv4, port: UInt16(bigEndian: sin.sin_port), bytes: b)
        case AF_INET6:
            let sin6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
            var b: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &b) { $0.storeBytes(of: sin6.sin6_addr, as: in6_addr.self) }
            self.init(
                family: .ipv6, port: UInt16(bigEndian: sin6.sin6_port), scopeID: sin6.sin6_scope_id, bytes: b)
        default:
            self = .unknown
        }
    }

    /// From a numeric IPv4 or IPv6 host (no brackets), for tests and tools; nil for anything else.
    public init?(numericHost: String, port: UInt16) {
        var b: (UInt64, UInt64) = (0, 0)
        if withUnsafeMutableBytes(of: &b, { inet_pton(AF_INET, numericHost, $0.baseAddress) }) == 1 {
            self.init(family: .ipv4, port: port, bytes: b)
        } else if withUnsafeMutableBytes(of: &b, { inet_pton(AF_INET6, numericHost, $0.baseAddress) }) == 1 {
            self.init(family: .ipv6, port: port, bytes: b)
        } else {
            return nil
        }
    }

    public static func == (a: PeerAddress, b: PeerAddress) -> Bool {
        a.family == b.family && a.port == b.port && a.scopeID == b.scopeID && a.bytes == b.bytes
    }

    /// Appends the numeric host (getnameinfo's `NI_NUMERICHOST` form, as the access log and
    /// X-Forwarded-For show it; `?` when it cannot be formatted).
    public func appendHost(to out: inout [UInt8]) {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch family {
        case .ipv4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            withUnsafeBytes(of: bytes) { sin.sin_addr = $0.loadUnaligned(as: in_addr.self) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_scope_id = scopeID
            withUnsafeBytes(of: bytes) { sin6.sin6_addr = $0.loadUnaligned(as: in6_addr.self) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        case .unknown:
            out.append(UInt8(ascii: "?"))
            return
        }
        // A numeric host is at most INET6_ADDRSTRLEN plus `%` and an interface name: small
        // enough for the stack, where NI_MAXHOST (1025) would be a heap allocation per span.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { host in
            let rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, length, host.baseAddress, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
                }
            }
            guard rc == 0 else {
                out.append(UInt8(ascii: "?"))
                return
            }
            out.append(contentsOf: UnsafeRawBufferPointer(start: host.baseAddress, count: strlen(host.baseAddress!)))
        }
    }
}

/// The caller's context that a span is not the child of (`--ignore-incoming-context` starts a new
/// trace): what a span link needs (OpenTelemetry `Span.links`, Jaeger `FOLLOWS_FROM`).
public struct SpanLink: Sendable, Equatable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// The caller's sampled flag; false when it sent none.
    public var sampled: Bool

    public init(traceID: TraceID, spanID: SpanID, sampled: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
    }
}

/// The finished span of one proxied request, as the event loop records it: a fixed-size value
/// that costs no allocation to build. The request's text (target, Host, User-Agent, an unknown
/// method) stays in the head's own byte buffer, held by reference with offsets, and is turned into
/// tags, logs and the operation name on the reporter's thread (see `RenderedSpan`).
public struct SpanRecord: Sendable, Equatable {
    public static func == (a: SpanRecord, b: SpanRecord) -> Bool {
        a.traceID == b.traceID && a.spanID == b.spanID && a.parentSpanID == b.parentSpanID && a.debug == b.debug
            && a.kind == b.kind && a.startMicros == b.startMicros && a.durationMicros == b.durationMicros
            && a.upstreamConnectedOffsetMicros == b.upstreamConnectedOffsetMicros
            && a.firstResponseByteOffsetMicros == b.firstResponseByteOffsetMicros && a.status == b.status
            && a.method == b.method && a.requestBodyBytes == b.requestBodyBytes
            && a.responseBodyBytes == b.responseBodyBytes && a.peer == b.peer && a.errorKind == b.errorKind
            && a.errorMessage == b.errorMessage && a.tls == b.tls && a.headBytes == b.headBytes
            && a.capturedResponseHeaders.elementsEqual(b.capturedResponseHeaders, by: { $0 == $1 })
            && a.generatedRequestID == b.generatedRequestID && a.link == b.link
    }

    public var traceID: TraceID
    public var spanID: SpanID
    /// Zero for a root span.
    public var parentSpanID: SpanID
    public var debug: Bool
    public var kind: SpanKind
    /// Microseconds since the Unix epoch.
    public var startMicros: Int64
    /// At least 1.
    public var durationMicros: Int64
    /// Microseconds after the start when the upstream connection was ready; nil when never.
    public var upstreamConnectedOffsetMicros: Int64?
    /// Microseconds after the start when the response's first byte arrived; nil when never.
    public var firstResponseByteOffsetMicros: Int64?
    /// The status the client was sent (499 when it went away first), 0 when none.
    public var status: Int
    public var method: HTTPMethod
    public var requestBodyBytes: Int64
    public var responseBodyBytes: Int64
    public var peer: PeerAddress
    public var errorKind: SpanErrorKind?
    /// Only set on the (rare) failed exchanges, where it was built already.
    public var errorMessage: String?
    /// The client connection's TLS, nil for plain HTTP.
    public var tls: TLSFacts?
    /// Response fields named by `--capture-response-header` (lower-case name, value), copied when
    /// the response head was relayed; empty unless asked for.
    public var capturedResponseHeaders: [(name: String, value: String)] = []
    /// The `tracestate` the proxy passed on (its own span continues the caller's trace state).
    public var traceState: String?
    /// The `X-Request-Id` the proxy made (the client sent none), 32 hex digits when written.
    public var generatedRequestID: TraceID?
    /// The incoming context the proxy did not continue (`--ignore-incoming-context`), when it
    /// was valid; nil otherwise.
    public var link: SpanLink?
    /// The request head's bytes, shared with the parsed head (a retain, not a copy).
    public var headBytes: [UInt8]
    var methodRange: TextRange
    var targetRange: TextRange
    var hostRange: TextRange
    var userAgentRange: TextRange
    /// The first `X-Forwarded-Host`, `X-Forwarded-For` and `Forwarded` values (for `server.address`
    /// and a trusted `client.address`).
    var forwardedHostRange: TextRange
    var forwardedForRange: TextRange
    var forwardedRange: TextRange
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (`network.protocol.version`).
    public var versionMinor: UInt8

    /// A range of `headBytes` in 32-bit offsets (heads are far below 4 GiB); `start < 0` marks a
    /// field the request did not carry, which differs from an empty one.
    struct TextRange: Sendable, Equatable {
        var start: Int32
        var end: Int32
        static let absent = TextRange(start: -1, end: -1)

        init(start: Int32, end: Int32) {
            self.start = start
            self.end = end
        }

        init(_ r: Range<Int>?) {
            guard let r else {
                self = .absent
                return
            }
            start = Int32(truncatingIfNeeded: r.lowerBound)
            end = Int32(truncatingIfNeeded: r.upperBound)
        }

        var range: Range<Int>? { start < 0 ? nil : Int(start)..<Int(end) }
    }

    /// What RequestTracer records per request: ids and timings by value, text by offsets into
    /// `head.bytes`.
    public init(
        head: HTTPHead, context: OutgoingContext, kind: SpanKind, startMicros: Int64, durationMicros: Int64,
        upstreamConnectedOffsetMicros: Int64?, firstResponseByteOffsetMicros: Int64?, status: Int,
        requestBodyBytes: Int, responseBodyBytes: Int, peer: PeerAddress, errorKind: SpanErrorKind?,
        errorMessage: String?, tls: TLSFacts? = nil, capturedResponseHeaders: [(name: String, value: String)] = [],
        generatedRequestID: TraceID? = nil, link: SpanLink? = nil
    ) {
        self.tls = tls
        self.generatedRequestID = generatedRequestID
        self.capturedResponseHeaders = capturedResponseHeaders
        self.link = link
        traceState = context.traceState
        traceID = context.traceID
        spanID = context.spanID
        parentSpanID = context.parentSpanID
        debug = context.debug
        self.kind = kind
        self.startMicros = startMicros
        self.durationMicros = max(1, durationMicros)
        self.upstreamConnectedOffsetMicros = upstreamConnectedOffsetMicros
        self.firstResponseByteOffsetMicros = firstResponseByteOffsetMicros
        self.status = status
        method = head.method
        self.requestBodyBytes = Int64(requestBodyBytes)
        self.responseBodyBytes = Int64(responseBodyBytes)
        self.peer = peer
        self.errorKind = errorKind
        self.errorMessage = errorMessage
        headBytes = head.bytes
        methodRange = TextRange(head.methodRange)
        // What the upstream was asked for: no fragment, an absolute-form target's authority as host.
        targetRange = TextRange(head.forwardTargetRange)
        hostRange = TextRange(head.effectiveHostRange)
        versionMinor = UInt8(truncatingIfNeeded: head.versionMinor)
        // One pass over the fields for the four the span reads.
        var userAgent = TextRange.absent
        var forwardedHost = TextRange.absent
        var forwardedFor = TextRange.absent
        var forwarded = TextRange.absent
        head.bytes.withUnsafeBufferPointer { p in
            for f in head.fields {
                let length = f.nameEnd - f.nameStart
                guard length == 10 || length == 9 || length == 15 || length == 16 else { continue }
                let name = Int(f.nameStart)..<Int(f.nameEnd)
                let value = TextRange(start: f.valueStart, end: f.valueEnd)
                if length == 10, userAgent == .absent, Self.equals(p, name, "user-agent") {
                    userAgent = value
                } else if length == 16, forwardedHost == .absent, Self.equals(p, name, "x-forwarded-host") {
                    forwardedHost = value
                } else if length == 15, forwardedFor == .absent, Self.equals(p, name, "x-forwarded-for") {
                    forwardedFor = value
                } else if length == 9, forwarded == .absent, Self.equals(p, name, "forwarded") {
                    forwarded = value
                }
            }
        }
        userAgentRange = userAgent
        forwardedHostRange = forwardedHost
        forwardedForRange = forwardedFor
        forwardedRange = forwarded
    }

    /// ASCII case-insensitive comparison with a lower-case name.
    private static func equals(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ lower: StaticString) -> Bool {
        lower.withUTF8Buffer { l in
            guard l.count == r.count else { return false }
            var i = r.lowerBound
            for c in l {
                let b = p[i]
                if (b &- UInt8(ascii: "A") < 26 ? b | 0x20 : b) != c { return false }
                i += 1
            }
            return true
        }
    }

    /// For tests and tools that have no parsed head: the request line and fields are written out
    /// and parsed, so the record is what the proxy would have recorded. The text must make a
    /// valid request head (no spaces in `target`, no line breaks anywhere).
    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID = .zero, debug: Bool = false,
        kind: SpanKind = .server, startMicros: Int64, durationMicros: Int64, method: String = "GET",
        target: String = "/", host: String? = nil, userAgent: String? = nil, status: Int = 200,
        requestBodyBytes: Int = 0, responseBodyBytes: Int = 0, peer: PeerAddress = .unknown,
        upstreamConnectedOffsetMicros: Int64? = nil, firstResponseByteOffsetMicros: Int64? = nil,
        errorKind: SpanErrorKind? = nil, errorMessage: String? = nil, link: SpanLink? = nil
    ) {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        if let host { text += "Host: \(host)\r\n" }
        if let userAgent { text += "User-Agent: \(userAgent)\r\n" }
        text += "\r\n"
        var parser = HTTPParser(kind: .request)
        let parsed = Array(text.utf8).withUnsafeBytes { try? parser.next($0).event }
        guard case .head(let head)? = parsed else { preconditionFailure("not a request head: \(text)") }
        self.init(
            head: head,
            context: OutgoingContext(
                traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, sampled: true, debug: debug,
                traceState: nil),
            kind: kind, startMicros: startMicros, durationMicros: durationMicros,
            upstreamConnectedOffsetMicros: upstreamConnectedOffsetMicros,
            firstResponseByteOffsetMicros: firstResponseByteOffsetMicros, status: status,
            requestBodyBytes: requestBodyBytes, responseBodyBytes: responseBodyBytes, peer: peer,
            errorKind: errorKind, errorMessage: errorMessage, link: link)
    }

    /// The request target exactly as received.
    public var target: ArraySlice<UInt8> { text(targetRange) ?? [] }
    /// The first Host value, nil when the request had none.
    public var host: ArraySlice<UInt8>? { text(hostRange) }
    public var userAgent: ArraySlice<UInt8>? { text(userAgentRange) }
    public var forwardedHost: ArraySlice<UInt8>? { text(forwardedHostRange) }
    public var forwardedFor: ArraySlice<UInt8>? { text(forwardedForRange) }
    public var forwarded: ArraySlice<UInt8>? { text(forwardedRange) }

    /// Calls `body` with the value of every field named `lowercasedName`, in order: read from the
    /// head's bytes on the reporter's thread (the record keeps no field list).
    public func forEachHeader(_ lowercasedName: String, _ body: (ArraySlice<UInt8>) -> Void) {
        let name = Array(lowercasedName.utf8)
        var i = headBytes.firstIndex(of: 0x0A).map { $0 + 1 } ?? headBytes.count
        while i < headBytes.count {
            var end = i
            while end < headBytes.count && headBytes[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > i && headBytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if lineEnd - i > name.count, headBytes[i + name.count] == UInt8(ascii: ":"),
                zip(headBytes[i..<i + name.count], name).allSatisfy({ (a, b) in
                    (a &- UInt8(ascii: "A") < 26 ? a | 0x20 : a) == b
                })
            {
                var v = i + name.count + 1
                var e = lineEnd
                while v < e && (headBytes[v] == 0x20 || headBytes[v] == 0x09) { v += 1 }
                while e > v && (headBytes[e - 1] == 0x20 || headBytes[e - 1] == 0x09) { e -= 1 }
                body(headBytes[v..<e])
            }
            i = end + 1
        }
    }
    /// The method as received (known methods could be named from `method` alone; an `.other` one
    /// exists only as these bytes).
    public var methodBytes: ArraySlice<UInt8> { text(methodRange) ?? [] }

    private func text(_ r: TextRange) -> ArraySlice<UInt8>? { r.range.map { headBytes[$0] } }

    /// Whether the span carries OpenTracing's `error=true`: a 5xx (the upstream's or the proxy's
    /// 502/503/504), no status at all, or a failure of the upstream's or the proxy's while the
    /// exchange ran. What the client did (went away, stalled, sent a malformed body) is not this
    /// hop's failure, as a 4xx is not (OpenTelemetry's rule for server spans).
    ///
    /// For a client span (`--span-kind client`) a 4xx is an error too: the call this hop made
    /// failed (OpenTelemetry's rule for client spans).
    public var isError: Bool {
        if status >= 500 || status == 0 { return true }
        if kind == .client && status >= 400 && status != 499 { return true }
        guard let kind = errorKind else { return false }
        return !kind.isClientSide && status != 499
    }
}
