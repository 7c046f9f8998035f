import Propagation
import Spans

/// What every OTLP batch says about who sent it: the resource (`service.name` and the rest) and
/// the instrumentation scope. Encoded once per reporter, not per batch.
public struct OTLPResource: Sendable {
    public var attributes: [Tag]
    public var scopeName: String
    public var scopeVersion: String

    public init(attributes: [Tag], scopeName: String, scopeVersion: String) {
        self.attributes = attributes
        self.scopeName = scopeName
        self.scopeVersion = scopeVersion
    }
}

/// `ExportTraceServiceRequest` in protobuf (opentelemetry-proto `trace/v1/trace.proto`,
/// `collector/trace/v1/trace_service.proto`), one resource and one scope per batch.
///
/// Each span is rendered into a reused `RenderedSpan` and written field by field: ids as raw bytes,
/// times as fixed64 nanoseconds, tags as attributes, logs as events (the `event` field names
/// them), and the `error` tag as the span status (code ERROR, the error log's message).
public enum OTLPProtobufEncoder {
    /// Field numbers (trace.proto, common.proto, resource.proto).
    enum Field {
        static let resourceSpans: UInt32 = 1
        static let resource: UInt32 = 1, scopeSpans: UInt32 = 2
        static let resourceAttributes: UInt32 = 1
        static let scope: UInt32 = 1, spans: UInt32 = 2
        static let scopeName: UInt32 = 1, scopeVersion: UInt32 = 2
        static let traceID: UInt32 = 1, spanID: UInt32 = 2, traceState: UInt32 = 3, parentSpanID: UInt32 = 4
        static let name: UInt32 = 5
        static let kind: UInt32 = 6, start: UInt32 = 7, end: UInt32 = 8, attributes: UInt32 = 9
        static let events: UInt32 = 11, links: UInt32 = 13, status: UInt32 = 15, flags: UInt32 = 16
        static let eventTime: UInt32 = 1, eventName: UInt32 = 2, eventAttributes: UInt32 = 3
        static let statusMessage: UInt32 = 2, statusCode: UInt32 = 3
        static let key: UInt32 = 1, value: UInt32 = 2
        static let stringValue: UInt32 = 1, boolValue: UInt32 = 2, intValue: UInt32 = 3, doubleValue: UInt32 = 4
    }

    /// Buffers reused across the spans of a batch (and across batches by a reporter).
    public struct Scratch: Sendable {
        var rendered = RenderedSpan()
        var span: [UInt8] = []
        var spans: [UInt8] = []
        var event: [UInt8] = []

        public init() {
            span.reserveCapacity(1024)
        }
    }

    /// The resource and scope messages, encoded once.
    public struct EncodedResource: Sendable {
        let resource: [UInt8]
        let scope: [UInt8]

        public init(_ r: OTLPResource) {
            var resource: [UInt8] = []
            for tag in r.attributes {
                OTLPProtobufEncoder.appendAttribute(tag, field: Field.resourceAttributes, to: &resource)
            }
            var scope: [UInt8] = []
            ProtobufWriter.appendBytesField(Field.scopeName, r.scopeName.utf8, to: &scope)
            ProtobufWriter.appendBytesField(Field.scopeVersion, r.scopeVersion.utf8, to: &scope)
            self.resource = resource
            self.scope = scope
        }
    }

    /// Appends the request for `spans` to `out`.
    public static func encode(
        _ spans: some Collection<SpanRecord>, process: ServiceProcess, resource: EncodedResource,
        scratch: inout Scratch, into out: inout [UInt8]
    ) {
        scratch.spans.removeAll(keepingCapacity: true)
        for record in spans {
            scratch.rendered.render(record, process: process, names: process.spanFacts.attributeNames ?? .stable)
            scratch.span.removeAll(keepingCapacity: true)
            encodeSpan(&scratch)
            ProtobufWriter.appendHeader(Field.spans, length: scratch.span.count, to: &scratch.spans)
            scratch.spans.append(contentsOf: scratch.span)
        }
        let scopeSpans =
            ProtobufWriter.fieldSize(Field.scope, length: resource.scope.count) + scratch.spans.count
        let resourceSpans =
            ProtobufWriter.fieldSize(Field.resource, length: resource.resource.count)
            + ProtobufWriter.fieldSize(Field.scopeSpans, length: scopeSpans)
        ProtobufWriter.appendHeader(Field.resourceSpans, length: resourceSpans, to: &out)
        ProtobufWriter.appendHeader(Field.resource, length: resource.resource.count, to: &out)
        out.append(contentsOf: resource.resource)
        ProtobufWriter.appendHeader(Field.scopeSpans, length: scopeSpans, to: &out)
        ProtobufWriter.appendHeader(Field.scope, length: resource.scope.count, to: &out)
        out.append(contentsOf: resource.scope)
        out.append(contentsOf: scratch.spans)
    }

    /// `scratch.rendered` as a `Span` message into `scratch.span`.
    static func encodeSpan(_ scratch: inout Scratch) {
        let s = scratch.rendered
        ProtobufWriter.appendHeader(Field.traceID, length: 16, to: &scratch.span)
        appendBigEndian(s.traceID.high, to: &scratch.span)
        appendBigEndian(s.traceID.low, to: &scratch.span)
        ProtobufWriter.appendHeader(Field.spanID, length: 8, to: &scratch.span)
        appendBigEndian(s.spanID.value, to: &scratch.span)
        if s.parentSpanID.isValid {
            ProtobufWriter.appendHeader(Field.parentSpanID, length: 8, to: &scratch.span)
            appendBigEndian(s.parentSpanID.value, to: &scratch.span)
        }
        ProtobufWriter.appendBytesField(Field.name, UTF8Text.repaired(s.text[s.name]), to: &scratch.span)
        if let state = s.traceState, !state.isEmpty {
            ProtobufWriter.appendBytesField(Field.traceState, state.utf8, to: &scratch.span)
        }
        ProtobufWriter.appendVarintField(Field.kind, s.kind == .server ? 2 : 3, to: &scratch.span)
        let startNs = UInt64(max(0, s.startMicros)) &* 1000
        ProtobufWriter.appendFixed64Field(Field.start, startNs, to: &scratch.span)
        ProtobufWriter.appendFixed64Field(
            Field.end, startNs &+ UInt64(max(1, s.durationMicros)) &* 1000, to: &scratch.span)
        let isError = s.isError
        for tag in s.tags {
            // The status carries it.
            if tag.key == "error" { continue }
            appendAttribute(key: tag.key, tag.value, text: s.text, field: Field.attributes, to: &scratch.span)
        }
        for log in s.logs {
            scratch.event.removeAll(keepingCapacity: true)
            ProtobufWriter.appendFixed64Field(
                Field.eventTime, UInt64(max(0, log.timestampMicros)) &* 1000, to: &scratch.event)
            let name = s.eventName(log)
            ProtobufWriter.appendBytesField(Field.eventName, name.map { s.text[$0] } ?? [], to: &scratch.event)
            for f in s.logFields[log.fields] where f.key != "event" {
                appendAttribute(key: f.key, f.value, text: s.text, field: Field.eventAttributes, to: &scratch.event)
            }
            ProtobufWriter.appendHeader(Field.events, length: scratch.event.count, to: &scratch.span)
            scratch.span.append(contentsOf: scratch.event)
        }
        if isError {
            let message = s.errorMessage.map { UTF8Text.repaired(s.text[$0]) } ?? []
            let length =
                (message.isEmpty ? 0 : ProtobufWriter.fieldSize(Field.statusMessage, length: message.count)) + 2
            ProtobufWriter.appendHeader(Field.status, length: length, to: &scratch.span)
            if !message.isEmpty { ProtobufWriter.appendBytesField(Field.statusMessage, message, to: &scratch.span) }
            ProtobufWriter.appendVarintField(Field.statusCode, 2, to: &scratch.span)
        }
        if let l = s.link {
            // Link { trace_id = 1, span_id = 2, flags = 6 (a remote context, sampled or not) }.
            ProtobufWriter.appendHeader(Field.links, length: 18 + 10 + 5, to: &scratch.span)
            ProtobufWriter.appendHeader(1, length: 16, to: &scratch.span)
            appendBigEndian(l.traceID.high, to: &scratch.span)
            appendBigEndian(l.traceID.low, to: &scratch.span)
            ProtobufWriter.appendHeader(2, length: 8, to: &scratch.span)
            appendBigEndian(l.spanID.value, to: &scratch.span)
            ProtobufWriter.appendFixed32Field(6, l.sampled ? 0x301 : 0x300, to: &scratch.span)
        }
        // W3C trace flags (sampled) and, for a span continuing a caller's trace, "parent is remote".
        ProtobufWriter.appendFixed32Field(Field.flags, s.parentSpanID.isValid ? 0x301 : 0x101, to: &scratch.span)
    }

    /// A `KeyValue` in `field`.
    static func appendAttribute(
        key: String, _ value: RenderedSpan.Value, text: [UInt8], field: UInt32, to out: inout [UInt8]
    ) {
        let any: Int
        switch value {
        case .text(let r): any = ProtobufWriter.fieldSize(Field.stringValue, length: UTF8Text.repaired(text[r]).count)
        case .bool: any = 2
        case .long(let v): any = 1 + ProtobufWriter.varintSize(UInt64(bitPattern: v))
        case .double: any = 9
        }
        let keyBytes = key.utf8
        let length =
            ProtobufWriter.fieldSize(Field.key, length: keyBytes.count)
            + ProtobufWriter.fieldSize(Field.value, length: any)
        ProtobufWriter.appendHeader(field, length: length, to: &out)
        ProtobufWriter.appendBytesField(Field.key, keyBytes, to: &out)
        ProtobufWriter.appendHeader(Field.value, length: any, to: &out)
        switch value {
        case .text(let r): ProtobufWriter.appendBytesField(Field.stringValue, UTF8Text.repaired(text[r]), to: &out)
        case .bool(let b): ProtobufWriter.appendVarintField(Field.boolValue, b ? 1 : 0, to: &out)
        case .long(let v): ProtobufWriter.appendVarintField(Field.intValue, UInt64(bitPattern: v), to: &out)
        case .double(let d):
            ProtobufWriter.appendTag(Field.doubleValue, .fixed64, to: &out)
            withUnsafeBytes(of: d.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
    }

    /// A resource attribute, from a process tag.
    static func appendAttribute(_ tag: Tag, field: UInt32, to out: inout [UInt8]) {
        var text: [UInt8] = []
        let value: RenderedSpan.Value
        switch tag.value {
        case .string(let s):
            text = Array(s.utf8)
            value = .text(0..<text.count)
        case .bool(let b): value = .bool(b)
        case .long(let v): value = .long(v)
        case .double(let d): value = .double(d)
        }
        appendAttribute(key: tag.key, value, text: text, field: field, to: &out)
    }

    /// Ids are bytes in network order (trace.proto: "big-endian").
    @inline(__always)
    static func appendBigEndian(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }
}
