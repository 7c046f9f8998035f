import Propagation

/// A span's operation name, tags and logs as the encoders write them, with every text value a
/// range of one byte buffer.
///
/// This is where a `SpanRecord` becomes tags, on the reporter's thread: one value is reused for
/// every span of a batch, so after the first span rendering allocates nothing. A `FinishedSpan`
/// (arbitrary tags, for tests and tools) renders into the same form, so each encoder has one
/// writer for both.
public struct RenderedSpan: Sendable {
    public enum Value: Equatable, Sendable {
        /// UTF-8 bytes, a range of `text`.
        case text(Range<Int>)
        case bool(Bool)
        case long(Int64)
        case double(Double)
    }

    public struct Field: Equatable, Sendable {
        public var key: String
        public var value: Value
    }

    public struct Log: Equatable, Sendable {
        public var timestampMicros: Int64
        /// Indices into `logFields`.
        public var fields: Range<Int>
    }

    public var traceID = TraceID(high: 0, low: 0)
    public var spanID = SpanID.zero
    public var parentSpanID = SpanID.zero
    public var kind = SpanKind.server
    public var startMicros: Int64 = 0
    public var durationMicros: Int64 = 1
    public var debug = false
    /// The operation name, a range of `text`.
    public var name: Range<Int> = 0..<0
    /// Leaves out `span.kind` (the encoders write it from `kind`).
    public var tags: [Field] = []
    /// In time order.
    public var logs: [Log] = []
    public var logFields: [Field] = []
    public private(set) var text: [UInt8] = []
    /// The span failed (OpenTelemetry's status ERROR; `error=true` in the legacy names).
    public var isError = false
    /// The context the span did not continue (`--ignore-incoming-context`): OTLP's `Span.links`;
    /// the legacy names carry it as `link.trace_id`/`link.span_id` tags.
    public var link: SpanLink?
    /// The W3C `tracestate` the span was continued with (OTLP's `Span.trace_state`).
    public var traceState: String?

    /// Reserves room for a typical proxy span, so the first span does not grow every buffer
    /// step by step.
    public init() {
        text.reserveCapacity(512)
        tags.reserveCapacity(16)
        logs.reserveCapacity(4)
        logFields.reserveCapacity(8)
    }

    public func bytes(_ r: Range<Int>) -> ArraySlice<UInt8> { text[r] }

    /// A log's `event` field: what OTLP calls the event's name.
    public func eventName(_ log: Log) -> Range<Int>? {
        for f in logFields[log.fields] where f.key == "event" {
            if case .text(let r) = f.value { return r }
        }
        return nil
    }

    /// The `message` of the `event=error` log: OTLP's span status message.
    public var errorMessage: Range<Int>? {
        for log in logs {
            guard let name = eventName(log), text[name].elementsEqual("error".utf8) else { continue }
            for f in logFields[log.fields] where f.key == "message" {
                if case .text(let r) = f.value { return r }
            }
        }
        return nil
    }

    private mutating func reset(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, kind: SpanKind, startMicros: Int64,
        durationMicros: Int64, debug: Bool
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.startMicros = startMicros
        self.durationMicros = durationMicros
        self.debug = debug
        isError = false
        link = nil
        traceState = nil
        text.removeAll(keepingCapacity: true)
        tags.removeAll(keepingCapacity: true)
        logs.removeAll(keepingCapacity: true)
        logFields.removeAll(keepingCapacity: true)
    }

    private mutating func appendText(_ bytes: some Sequence<UInt8>) -> Range<Int> {
        let start = text.count
        text.append(contentsOf: bytes)
        return start..<text.count
    }

    private mutating func tag(_ key: String, _ bytes: some Sequence<UInt8>) {
        tags.append(Field(key: key, value: .text(appendText(bytes))))
    }

    private mutating func tag(_ key: String, _ value: Value) {
        tags.append(Field(key: key, value: value))
    }

    /// Appends a log and moves it before any later one; the stable order keeps equal timestamps
    /// in the order the logs were added.
    private mutating func log(at timestamp: Int64, _ fields: (inout [Field], inout [UInt8]) -> Void) {
        let start = logFields.count
        fields(&logFields, &text)
        logs.append(Log(timestampMicros: timestamp, fields: start..<logFields.count))
        var i = logs.count - 1
        while i > 0 && logs[i - 1].timestampMicros > logs[i].timestampMicros {
            logs.swapAt(i - 1, i)
            i -= 1
        }
    }

    private static func field(_ key: String, _ s: some Sequence<UInt8>, in text: inout [UInt8]) -> Field {
        let start = text.count
        text.append(contentsOf: s)
        return Field(key: key, value: .text(start..<text.count))
    }

    /// The proxy's span of one request. Tags: `component`, `http.method`, `http.url`, `http.path`,
    /// `http.status_code`, `http.user_agent`, `peer.ipv4`/`peer.ipv6`, `peer.port`,
    /// `upstream.address`, the body sizes, `tls.*` for an HTTPS client, `error=true` on a failed exchange and
    /// `client.aborted=true` when the client went away. Logs: the failure (`event=error` with
    /// `error.kind` and `message`) or the client's abort (`event=client_aborted` with `message`),
    /// `upstream_connected` and `first_response_byte`.
    ///
    /// With `names` `.stable` (or `.both`), OpenTelemetry's stable HTTP attributes instead of (or
    /// beside) those: see `renderStable`.
    /// `names` nil: the process's choice, else legacy.
    public mutating func render(_ r: SpanRecord, process: ServiceProcess, names: AttributeNames? = nil) {
        let names = names ?? process.spanFacts.attributeNames ?? .legacy
        reset(
            traceID: r.traceID, spanID: r.spanID, parentSpanID: r.parentSpanID, kind: r.kind,
            startMicros: r.startMicros, durationMicros: r.durationMicros, debug: r.debug)
        let facts = process.spanFacts
        let nameStart = text.count
        let route = Self.appendName(of: r, facts: facts, to: &text)
        name = nameStart..<text.count
        if let route { tag("http.route", route.utf8) }
        if names != .legacy { renderStable(r, facts: facts) }
        if names != .stable { renderLegacy(r, facts: facts) }
        tag("upstream.address", facts.upstreamAddress.utf8)
        for name in facts.capturedRequestHeaders { captureRequestHeader(r, name) }
        if facts.recordRequestID && !facts.capturedRequestHeaders.contains("x-request-id") {
            if let id = r.generatedRequestID {
                tag("http.request.header.x-request-id", id.hex32.utf8)
            } else {
                captureRequestHeader(r, "x-request-id")
            }
        }
        for (name, value) in r.capturedResponseHeaders {
            tag("http.response.header." + name, value.utf8)
        }
        tag("http.request.body.size", .long(r.requestBodyBytes))
        tag("http.response.body.size", .long(r.responseBodyBytes))
        if let tls = r.tls {
            tag("tls.protocol.version", tls.protocolVersion.utf8)
            tag("tls.cipher", tls.cipher.utf8)
            if let name = tls.serverName { tag("tls.client.server_name", name.utf8) }
            if let subject = tls.clientSubject { tag("tls.client.subject", subject.utf8) }
        }
        renderOutcome(r, names: names)
    }

    /// Appends the operation name `render` gives `r` (`METHOD /route/template` when a `--route`
    /// matches, else the method and the path with ids collapsed) and returns the matched route.
    /// A consumer that needs only the name (the trace view's statistics) calls this alone.
    @discardableResult
    public static func appendName(of r: SpanRecord, facts: SpanFacts, to out: inout [UInt8]) -> String? {
        let target = r.target
        let route = facts.routes.isEmpty ? nil : facts.routes.match(target[OperationName.pathRange(target)])
        if let route {
            out.append(contentsOf: r.methodBytes)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: route.utf8)
        } else {
            OperationName.append(method: r.methodBytes, target: target, collapseIDs: facts.collapsePathIDs, to: &out)
        }
        return route
    }

    /// OpenTracing's names, as Jaeger and Zipkin users know them.
    private mutating func renderLegacy(_ r: SpanRecord, facts: SpanFacts) {
        let target = r.target
        tag("component", "traceproxy".utf8)
        tag("http.method", r.methodBytes)
        let urlStart = text.count
        text.append(contentsOf: (r.tls == nil ? "http://" : "https://").utf8)
        if let host = r.host { text.append(contentsOf: host) } else { text.append(contentsOf: facts.upstreamHost.utf8) }
        if facts.redactQuery, let q = target.firstIndex(of: UInt8(ascii: "?")) {
            text.append(contentsOf: target[...q])
            appendQuery(target[(q + 1)...], redact: true)
        } else {
            text.append(contentsOf: target)
        }
        tag("http.url", .text(urlStart..<text.count))
        tag("http.path", target.prefix { $0 != UInt8(ascii: "?") })
        if r.status > 0 { tag("http.status_code", .long(Int64(r.status))) }
        if let ua = r.userAgent { tag("http.user_agent", ua) }
        let peerStart = text.count
        r.peer.appendHost(to: &text)
        tag(r.peer.family == .ipv6 ? "peer.ipv6" : "peer.ipv4", .text(peerStart..<text.count))
        tag("peer.port", .long(Int64(r.peer.port)))
    }

    /// OpenTelemetry's stable HTTP server attributes (semantic conventions, "HTTP spans"):
    /// `http.request.method` (`_OTHER` and `http.request.method_original` for a method outside
    /// RFC 9110's and PATCH), `url.path`, `url.query`, `url.scheme`, `http.response.status_code`,
    /// `server.address`/`server.port` (from `X-Forwarded-Host` or `Forwarded` first, then Host),
    /// `client.address` (the peer, or with `--trust-forwarded` the first `Forwarded: for=` or
    /// `X-Forwarded-For` entry), `network.peer.address`/`.port`, `network.protocol.version`,
    /// `user_agent.original`, and `error.type` on a failed exchange.
    private mutating func renderStable(_ r: SpanRecord, facts: SpanFacts) {
        let method = r.methodBytes
        if r.method == .other {
            tag("http.request.method", "_OTHER".utf8)
            tag("http.request.method_original", method)
        } else {
            tag("http.request.method", method)
        }
        let target = r.target
        let query = target.firstIndex(of: UInt8(ascii: "?"))
        tag("url.path", target[..<(query ?? target.endIndex)])
        if let query {
            let start = text.count
            appendQuery(target[(query + 1)...], redact: facts.redactQuery)
            tag("url.query", .text(start..<text.count))
        }
        tag("url.scheme", (r.tls == nil ? "http" : "https").utf8)
        if r.status > 0 { tag("http.response.status_code", .long(Int64(r.status))) }
        let server = ForwardedFields.host(r.forwardedHost, forwarded: r.forwarded) ?? r.host
        if let server, let (host, port) = ForwardedFields.splitHostPort(server) {
            tag("server.address", host)
            if let port {
                tag("server.port", .long(port))
            } else {
                tag("server.port", .long(r.tls == nil ? 80 : 443))
            }
        }
        let peerStart = text.count
        r.peer.appendHost(to: &text)
        let peer = peerStart..<text.count
        if facts.trustForwarded, let client = ForwardedFields.client(r.forwardedFor, forwarded: r.forwarded) {
            tag("client.address", client)
        } else {
            tag("client.address", .text(peer))
        }
        tag("network.peer.address", .text(peer))
        tag("network.peer.port", .long(Int64(r.peer.port)))
        tag("network.protocol.version", (r.versionMinor == 0 ? "1.0" : "1.1").utf8)
        if let ua = r.userAgent { tag("user_agent.original", ua) }
        if r.isError {
            if let kind = r.errorKind, !kind.isClientSide {
                tag("error.type", kind.rawValue.utf8)
            } else {
                let start = text.count
                text.append(contentsOf: "\(r.status)".utf8)
                tag("error.type", .text(start..<text.count))
            }
        }
    }

    /// `http.request.header.<name>`: the field's values joined by `, ` (absent when the request
    /// had none).
    private mutating func captureRequestHeader(_ r: SpanRecord, _ name: String) {
        let start = text.count
        var found = false
        r.forEachHeader(name) { value in
            if found { text.append(contentsOf: ", ".utf8) }
            found = true
            text.append(contentsOf: value)
        }
        if found { tag("http.request.header." + name, .text(start..<text.count)) }
    }

    /// `a=1&b=2` as `a=REDACTED&b=REDACTED` (`--redact-query`): the keys say what was asked, the
    /// values (tokens, e-mail addresses) stay out of the trace backend.
    private mutating func appendQuery(_ query: ArraySlice<UInt8>, redact: Bool) {
        guard redact else { return text.append(contentsOf: query) }
        var first = true
        for param in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
            if !first { text.append(UInt8(ascii: "&")) }
            first = false
            if let eq = param.firstIndex(of: UInt8(ascii: "=")) {
                text.append(contentsOf: param[..<eq])
                text.append(contentsOf: "=REDACTED".utf8)
            } else {
                text.append(contentsOf: param)
            }
        }
    }

    /// The error flag (legacy names) and the logs every naming shares.
    private mutating func renderOutcome(_ r: SpanRecord, names: AttributeNames) {
        isError = r.isError
        link = r.link
        traceState = r.traceState
        if let l = r.link, names != .stable {
            tag("link.trace_id", l.traceID.hex32.utf8)
            tag("link.span_id", l.spanID.hex16.utf8)
        }
        if r.isError && names != .stable { tag("error", .bool(true)) }
        if let kind = r.errorKind {
            let message = r.errorMessage ?? kind.rawValue
            if kind.isClientAbort {
                tag("client.aborted", .bool(true))
                log(at: r.startMicros + r.durationMicros) { fields, text in
                    fields.append(Self.field("event", "client_aborted".utf8, in: &text))
                    fields.append(Self.field("message", message.utf8, in: &text))
                }
            } else {
                log(at: r.startMicros + r.durationMicros) { fields, text in
                    fields.append(Self.field("event", "error".utf8, in: &text))
                    fields.append(Self.field("error.kind", kind.rawValue.utf8, in: &text))
                    fields.append(Self.field("message", message.utf8, in: &text))
                }
            }
        }
        if let offset = r.upstreamConnectedOffsetMicros {
            log(at: r.startMicros + max(0, offset)) { fields, text in
                fields.append(Self.field("event", "upstream_connected".utf8, in: &text))
            }
        }
        if let offset = r.firstResponseByteOffsetMicros {
            log(at: r.startMicros + max(0, offset)) { fields, text in
                fields.append(Self.field("event", "first_response_byte".utf8, in: &text))
            }
        }
    }

    /// A span given as tags and logs; `span.kind` tags are left to `kind`, logs keep their order.
    public mutating func render(_ span: FinishedSpan) {
        reset(
            traceID: span.traceID, spanID: span.spanID, parentSpanID: span.parentSpanID, kind: span.kind,
            startMicros: span.startMicros, durationMicros: span.durationMicros, debug: span.debug)
        name = appendText(span.operationName.utf8)
        for t in span.tags where t.key != "span.kind" {
            tags.append(Field(key: t.key, value: value(t.value)))
            if t.key == "error" && t.value == .bool(true) { isError = true }
        }
        for l in span.logs {
            let start = logFields.count
            for f in l.fields { logFields.append(Field(key: f.key, value: value(f.value))) }
            logs.append(Log(timestampMicros: l.timestampMicros, fields: start..<logFields.count))
        }
    }

    private mutating func value(_ v: TagValue) -> Value {
        switch v {
        case .string(let s): return .text(appendText(s.utf8))
        case .bool(let b): return .bool(b)
        case .long(let l): return .long(l)
        case .double(let d): return .double(d)
        }
    }
}
