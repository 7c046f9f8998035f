import Propagation
import Spans

/// A finished span as the trace view keeps it: rendered once on the reporter's thread (the same
/// tags and logs a collector receives, nothing else: no header the proxy would not put on a
/// span), with every text value cut to `maxValueBytes` so that a span's memory is bounded
/// whatever the request carried. Immutable, shared by the store's rings.
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

    public static let maxValueBytes = 512

    public let traceID: TraceID
    public let spanID: SpanID
    public let parentSpanID: SpanID
    public let kind: SpanKind
    /// The operation name, which is also the route the statistics use.
    public let name: String
    public let method: String
    /// The request path without the query (the tags carry the query as the reporters would).
    public let path: String
    /// 0 when no response was sent.
    public let status: Int
    public let isError: Bool
    public let startMicros: Int64
    public let durationMicros: Int64
    public let upstreamConnectedMicros: Int64?
    public let firstResponseByteMicros: Int64?
    public let tags: [Field]
    public let logs: [Log]
    /// An estimate of the memory this object holds, for the store's gauge.
    public let approxBytes: Int

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, kind: SpanKind = .server, name: String,
        method: String, path: String, status: Int, isError: Bool, startMicros: Int64, durationMicros: Int64,
        upstreamConnectedMicros: Int64? = nil, firstResponseByteMicros: Int64? = nil, tags: [Field] = [],
        logs: [Log] = []
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.name = Self.cut(name.utf8)
        self.method = Self.cut(method.utf8)
        self.path = Self.cut(path.utf8)
        self.status = status
        self.isError = isError
        self.startMicros = startMicros
        self.durationMicros = durationMicros
        self.upstreamConnectedMicros = upstreamConnectedMicros
        self.firstResponseByteMicros = firstResponseByteMicros
        self.tags = tags
        self.logs = logs
        var bytes = 160 + self.name.utf8.count + self.method.utf8.count + self.path.utf8.count
        func size(_ f: Field) -> Int {
            if case .text(let s) = f.value { return 48 + f.key.utf8.count + s.utf8.count }
            return 48 + f.key.utf8.count
        }
        for f in tags { bytes += size(f) }
        for l in logs {
            bytes += 32
            for f in l.fields { bytes += size(f) }
        }
        approxBytes = bytes
    }

    /// From the proxy's record and its rendering (`rendered` is `record` rendered for `process`).
    public convenience init(_ record: SpanRecord, rendered r: RenderedSpan) {
        func value(_ v: RenderedSpan.Value) -> Value {
            switch v {
            case .text(let range): return .text(Self.cut(r.bytes(range)))
            case .bool(let b): return .bool(b)
            case .long(let l): return .long(l)
            case .double(let d): return .double(d)
            }
        }
        let target = record.target
        self.init(
            traceID: r.traceID, spanID: r.spanID, parentSpanID: r.parentSpanID, kind: r.kind,
            name: String(decoding: r.bytes(r.name), as: UTF8.self),
            method: String(decoding: record.methodBytes, as: UTF8.self),
            path: String(decoding: target.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self), status: record.status,
            isError: r.isError, startMicros: r.startMicros, durationMicros: r.durationMicros,
            upstreamConnectedMicros: record.upstreamConnectedOffsetMicros,
            firstResponseByteMicros: record.firstResponseByteOffsetMicros,
            tags: r.tags.map { Field(key: $0.key, value: value($0.value)) },
            logs: r.logs.map { log in
                Log(
                    timestampMicros: log.timestampMicros,
                    fields: r.logFields[log.fields].map { Field(key: $0.key, value: value($0.value)) })
            })
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
        (1...5).contains(status / 100) ? "\(status / 100)xx" : "other"
    }
}
