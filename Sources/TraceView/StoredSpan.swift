import Propagation
import Spans

/// A finished span as the trace view keeps it. Immutable but for the store's bookkeeping, shared
/// by the store's rings.
///
/// What the list, the filters and the statistics read (ids, timings, the operation name, status,
/// the error flag) is set at arrival. The rest (method, path, tags, logs) is made only when the
/// API asks for this span (`details()`): a span from the proxy keeps its compact `SpanRecord`
/// (the head's bytes by reference, not copied) and is rendered then, the same tags and logs a
/// collector receives, nothing else (no header the proxy would not put on a span). Every text
/// value is cut to `maxValueBytes`. A record whose retained text exceeds `maxRetainedBytes` (a
/// huge head) is rendered at arrival instead and its bytes let go, so a span's memory is bounded
/// whatever the request carried.
public final class StoredSpan: Sendable {
    public enum Value: Sendable, Equatable {
        case text(String)
        case bool(Bool)
        case long(Int64)
        case double(Double)
    }

    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: Value
    }

    public struct Log: Sendable, Equatable {
        public var timestampMicros: Int64
        public var fields: [Field]
    }

    /// What is shown beyond the summary: the span's method and path (cut), tags and logs.
    public struct Details: Sendable, Equatable {
        public var method: String
        /// The request path without the query (the tags carry the query as the reporters would).
        public var path: String
        public var tags: [Field]
        public var logs: [Log]
    }

    /// The process a record is rendered for (the reporter's, at the time the span arrived): one
    /// object per reporter, shared by its spans.
    public final class Renderer: Sendable {
        public let process: ServiceProcess

        public init(process: ServiceProcess) { self.process = process }

        func details(_ record: SpanRecord) -> Details {
            var rendered = RenderedSpan()
            rendered.render(record, process: process)
            return StoredSpan.details(record, rendered: rendered)
        }
    }

    private enum Source: Sendable {
        case rendered(Details)
        case record(SpanRecord, Renderer)
    }

    public static let maxValueBytes = 512
    /// The most text a span may keep unrendered (the head's bytes and the record's strings); a
    /// larger record is rendered at arrival, its values cut, and the record let go.
    public static let maxRetainedBytes = 4096
    /// The object and its fixed fields, as counted in `approxBytes`.
    static let fixedBytes = 160
    /// A record kept unrendered: its fixed-size value in the object, plus the array and string
    /// headers of what it references.
    static let recordBytes = MemoryLayout<SpanRecord>.stride + 64

    public let traceID: TraceID
    public let spanID: SpanID
    public let parentSpanID: SpanID
    public let kind: SpanKind
    /// The operation name, which is also the route the statistics use.
    public let name: String
    /// 0 when no response was sent.
    public let status: Int
    public let isError: Bool
    public let startMicros: Int64
    public let durationMicros: Int64
    public let upstreamConnectedMicros: Int64?
    public let firstResponseByteMicros: Int64?
    /// An estimate of the memory this object holds, for the store's gauge.
    public let approxBytes: Int
    private let source: Source
    /// How many of the store's places hold the span: read and written only under the store's
    /// lock (a span belongs to one store).
    nonisolated(unsafe) var holders = 0

    /// A span given whole (tests, tools): text is cut to `maxValueBytes`.
    public convenience init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, kind: SpanKind = .server, name: String,
        method: String, path: String, status: Int, isError: Bool, startMicros: Int64, durationMicros: Int64,
        upstreamConnectedMicros: Int64? = nil, firstResponseByteMicros: Int64? = nil, tags: [Field] = [],
        logs: [Log] = []
    ) {
        self.init(
            traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, kind: kind, name: Self.cut(name.utf8),
            status: status, isError: isError, startMicros: startMicros, durationMicros: durationMicros,
            upstreamConnectedMicros: upstreamConnectedMicros, firstResponseByteMicros: firstResponseByteMicros,
            details: Details(method: Self.cut(method.utf8), path: Self.cut(path.utf8), tags: tags, logs: logs))
    }

    private init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, kind: SpanKind, name: String, status: Int,
        isError: Bool, startMicros: Int64, durationMicros: Int64, upstreamConnectedMicros: Int64?,
        firstResponseByteMicros: Int64?, details: Details
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.name = name
        self.status = status
        self.isError = isError
        self.startMicros = startMicros
        self.durationMicros = durationMicros
        self.upstreamConnectedMicros = upstreamConnectedMicros
        self.firstResponseByteMicros = firstResponseByteMicros
        source = .rendered(details)
        var bytes = Self.fixedBytes + name.utf8.count + details.method.utf8.count + details.path.utf8.count
        func size(_ f: Field) -> Int {
            if case .text(let s) = f.value { return 48 + f.key.utf8.count + s.utf8.count }
            return 48 + f.key.utf8.count
        }
        for f in details.tags { bytes += size(f) }
        for l in details.logs {
            bytes += 32
            for f in l.fields { bytes += size(f) }
        }
        approxBytes = bytes
    }

    /// A record kept as it is, to be rendered by `renderer` when asked; `name` is its operation
    /// name as `renderer` would render it (cut), given by the caller, which may share one string
    /// among the spans of a route. Only for records within `maxRetainedBytes`.
    init(_ record: consuming SpanRecord, name: String, retainedBytes: Int, renderer: Renderer) {
        traceID = record.traceID
        spanID = record.spanID
        parentSpanID = record.parentSpanID
        kind = record.kind
        self.name = name
        status = record.status
        isError = record.isError
        startMicros = record.startMicros
        durationMicros = record.durationMicros
        upstreamConnectedMicros = record.upstreamConnectedOffsetMicros
        firstResponseByteMicros = record.firstResponseByteOffsetMicros
        source = .record(consume record, renderer)
        // The name's bytes are not counted: a route's spans share one string.
        approxBytes = Self.fixedBytes + Self.recordBytes + retainedBytes
    }

    /// The proxy's record rendered now (`rendered` is `record` rendered for the reporter's
    /// process): what a record too large to keep becomes, and the reference for on-demand
    /// rendering.
    public convenience init(_ record: SpanRecord, rendered r: RenderedSpan) {
        self.init(
            traceID: r.traceID, spanID: r.spanID, parentSpanID: r.parentSpanID, kind: r.kind,
            name: Self.cut(r.bytes(r.name)), status: record.status, isError: r.isError, startMicros: r.startMicros,
            durationMicros: r.durationMicros, upstreamConnectedMicros: record.upstreamConnectedOffsetMicros,
            firstResponseByteMicros: record.firstResponseByteOffsetMicros,
            details: Self.details(record, rendered: r))
    }

    /// The text a record holds on to: the head's buffer (its capacity) and the strings it
    /// references. The TLS facts are shared by a connection's spans but counted with each.
    public static func retainedBytes(_ r: SpanRecord) -> Int {
        var bytes = r.headBytes.capacity
        for (name, value) in r.capturedResponseHeaders { bytes += 32 + name.utf8.count + value.utf8.count }
        bytes += r.errorMessage?.utf8.count ?? 0
        bytes += r.traceState?.utf8.count ?? 0
        if let tls = r.tls {
            bytes += 64 + tls.protocolVersion.utf8.count + tls.cipher.utf8.count
            bytes += (tls.serverName?.utf8.count ?? 0) + (tls.clientSubject?.utf8.count ?? 0)
        }
        return bytes
    }

    static func details(_ record: SpanRecord, rendered r: RenderedSpan) -> Details {
        func value(_ v: RenderedSpan.Value) -> Value {
            switch v {
            case .text(let range): return .text(Self.cut(r.bytes(range)))
            case .bool(let b): return .bool(b)
            case .long(let l): return .long(l)
            case .double(let d): return .double(d)
            }
        }
        return Details(
            method: Self.cut(record.methodBytes), path: Self.path(record),
            tags: r.tags.map { Field(key: $0.key, value: value($0.value)) },
            logs: r.logs.map { log in
                Log(
                    timestampMicros: log.timestampMicros,
                    fields: r.logFields[log.fields].map { Field(key: $0.key, value: value($0.value)) })
            })
    }

    private static func path(_ record: SpanRecord) -> String {
        cut(record.target.prefix { $0 != UInt8(ascii: "?") })
    }

    /// Method, path, tags and logs: rendered now for a span kept as a record (cost: one
    /// rendering, as a collector's), else those given.
    public func details() -> Details {
        switch source {
        case .rendered(let d): return d
        case .record(let record, let renderer): return renderer.details(record)
        }
    }

    /// The method and path alone (the list's columns), without rendering the tags.
    public var methodAndPath: (method: String, path: String) {
        switch source {
        case .rendered(let d): return (d.method, d.path)
        case .record(let record, _): return (Self.cut(record.methodBytes), Self.path(record))
        }
    }

    public var method: String { methodAndPath.method }
    public var path: String { methodAndPath.path }
    public var tags: [Field] { details().tags }
    public var logs: [Log] { details().logs }

    /// Whether the span is kept as the proxy's record, to be rendered when asked.
    public var isDeferred: Bool {
        if case .record = source { return true }
        return false
    }

    /// UTF-8 text cut to `maxValueBytes` (at a character boundary, with an ellipsis); invalid
    /// sequences become U+FFFD.
    static func cut(_ bytes: some Collection<UInt8>) -> String {
        guard bytes.count > maxValueBytes else { return String(decoding: bytes, as: UTF8.self) }
        var s = String(decoding: bytes.prefix(maxValueBytes), as: UTF8.self)
        while s.utf8.count > maxValueBytes - 3 { s.removeLast() }
        return s + "\u{2026}"
    }

    public var endMicros: Int64 { startMicros + durationMicros }

    /// "2xx" ... "5xx", or "other" for no status.
    public var statusClass: String {
        Self.statusClasses[(1...5).contains(status / 100) ? status / 100 : 0]
    }

    private static let statusClasses = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"]
}
