import Propagation
import Spans

/// Jaeger's Thrift model (`jaeger.thrift`) and the agent's `emitBatch` message (`agent.thrift`),
/// written in the compact protocol that jaeger-agent reads on UDP port 6831.
///
/// Every struct is written field by field in id order; optional fields are left out when empty.
/// Ids and times are Thrift i64 (signed), so an id at or above 2^63 goes out negative: the bits are
/// reinterpreted, never converted.
public enum JaegerThrift {
    /// `jaeger.thrift` `enum TagType { STRING, DOUBLE, BOOL, LONG, BINARY }`.
    enum TagType: Int32 {
        case string = 0
        case double = 1
        case bool = 2
        case long = 3
        case binary = 4
    }

    /// `span.kind` values, as bytes once rather than per span.
    static let serverKind = Array(SpanKind.server.rawValue.utf8)
    static let clientKind = Array(SpanKind.client.rawValue.utf8)

    /// `SpanRefType.CHILD_OF`.
    static let childOf: Int32 = 0
    /// `Span.flags`: 1 sampled, 2 debug. A recorded span is always a sampled one.
    static let flagSampled: Int32 = 1
    static let flagDebug: Int32 = 2

    /// `Tag { 1 key, 2 vType, 3 vStr | 4 vDouble | 5 vBool | 6 vLong }`.
    public static func writeTag(_ tag: Tag, into w: inout ThriftCompactWriter) {
        switch tag.value {
        case .string(let s):
            let text = Array(s.utf8)
            writeTag(key: tag.key, .text(0..<text.count), text: text[...], into: &w)
        case .double(let d): writeTag(key: tag.key, .double(d), text: [], into: &w)
        case .bool(let b): writeTag(key: tag.key, .bool(b), text: [], into: &w)
        case .long(let l): writeTag(key: tag.key, .long(l), text: [], into: &w)
        }
    }

    /// A tag whose text value is a range of `text`.
    ///
    /// A Tag is a struct of its own (a list element), so its field ids start again from 0 and every
    /// header takes the short form: the bytes are fixed and written straight out, without the
    /// writer's field-id stack. This is the reporter thread's hottest path (about fifteen tags a
    /// span); the golden bytes in `JaegerThriftTests` and the interop checks (jaeger-client's own
    /// Thrift decoder) hold it to the protocol.
    static func writeTag(
        key: String, _ value: RenderedSpan.Value, text: ArraySlice<UInt8>, into w: inout ThriftCompactWriter
    ) {
        w.appendByte(tagKeyHeader)
        w.writeString(key)
        switch value {
        case .text(let r):
            w.appendBytes(tagType(.string), tagStringHeader)
            w.writeBinary(text[r])
        case .double(let d):
            w.appendBytes(tagType(.double), tagDoubleHeader)
            w.writeDouble(d)
        case .bool(let b):
            w.appendBytes(tagType(.bool), b ? tagTrueHeader : tagFalseHeader)
        case .long(let l):
            w.appendBytes(tagType(.long), tagLongHeader)
            w.writeI64(l)
        }
        w.appendByte(0x00)  // stop
    }

    /// Short-form field headers, `delta << 4 | type`, for Tag's fields written in id order.
    static let tagKeyHeader = 1 << 4 | ThriftCompactType.binary.rawValue
    static let tagStringHeader = 1 << 4 | ThriftCompactType.binary.rawValue
    static let tagDoubleHeader = 2 << 4 | ThriftCompactType.double.rawValue
    static let tagTrueHeader = 3 << 4 | ThriftCompactType.boolTrue.rawValue
    static let tagFalseHeader = 3 << 4 | ThriftCompactType.boolFalse.rawValue
    static let tagLongHeader = 4 << 4 | ThriftCompactType.i64.rawValue

    /// Field 2 (`vType`, i32) with its zigzag value: two bytes.
    @inline(__always)
    static func tagType(_ t: TagType) -> (UInt8, UInt8) {
        (1 << 4 | ThriftCompactType.i32.rawValue, UInt8(ThriftCompactWriter.zigzag(Int64(t.rawValue))))
    }

    /// `Process { 1 serviceName, 2 tags }`.
    public static func writeProcess(_ process: ServiceProcess, into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeStringField(id: 1, process.serviceName)
        if !process.tags.isEmpty {
            w.writeFieldBegin(id: 2, type: .list)
            w.writeListBegin(elementType: .struct, count: process.tags.count)
            for tag in process.tags { writeTag(tag, into: &w) }
        }
        w.writeStructEnd()
    }

    /// Whether a span tag goes on the wire. `error=false` is dropped: OpenTracing's `error` tag
    /// marks a failed span by its presence in most backends, and an absent tag already means "no
    /// error". (`span.kind` is never among a rendered span's tags: it is written from `kind`, so it
    /// appears exactly once.)
    @inline(__always)
    static func isWritten(_ tag: RenderedSpan.Field) -> Bool {
        !(tag.key == "error" && tag.value == .bool(false))
    }

    /// `Span` (jaeger.thrift): ids as bit-cast i64, a CHILD_OF reference that repeats
    /// `parentSpanId` for a non-root span (so references and parent always agree), flags, µs times,
    /// tags (led by `span.kind`) and logs.
    public static func writeSpan(_ span: RenderedSpan, into w: inout ThriftCompactWriter) {
        let traceLow = Int64(bitPattern: span.traceID.low)
        let traceHigh = Int64(bitPattern: span.traceID.high)
        let parent = Int64(bitPattern: span.parentSpanID.value)
        w.writeStructBegin()
        w.writeI64Field(id: 1, traceLow)
        w.writeI64Field(id: 2, traceHigh)
        w.writeI64Field(id: 3, Int64(bitPattern: span.spanID.value))
        w.writeI64Field(id: 4, parent)
        w.writeBinaryField(id: 5, span.bytes(span.name))
        if parent != 0 {
            w.writeFieldBegin(id: 6, type: .list)
            w.writeListBegin(elementType: .struct, count: 1)
            w.writeStructBegin()
            w.writeI32Field(id: 1, childOf)
            w.writeI64Field(id: 2, traceLow)
            w.writeI64Field(id: 3, traceHigh)
            w.writeI64Field(id: 4, parent)
            w.writeStructEnd()
        }
        w.writeI32Field(id: 7, span.debug ? flagSampled | flagDebug : flagSampled)
        w.writeI64Field(id: 8, span.startMicros)
        w.writeI64Field(id: 9, span.durationMicros)

        var tagCount = 1
        for tag in span.tags where isWritten(tag) { tagCount += 1 }
        w.writeFieldBegin(id: 10, type: .list)
        w.writeListBegin(elementType: .struct, count: tagCount)
        let kindText = span.kind == .server ? serverKind : clientKind
        writeTag(key: "span.kind", .text(kindText.indices), text: kindText[...], into: &w)
        for tag in span.tags where isWritten(tag) { writeTag(key: tag.key, tag.value, text: span.text[...], into: &w) }

        if !span.logs.isEmpty {
            w.writeFieldBegin(id: 11, type: .list)
            w.writeListBegin(elementType: .struct, count: span.logs.count)
            for log in span.logs {
                // Log { 1 timestamp, 2 fields }
                w.writeStructBegin()
                w.writeI64Field(id: 1, log.timestampMicros)
                w.writeFieldBegin(id: 2, type: .list)
                w.writeListBegin(elementType: .struct, count: log.fields.count)
                for field in span.logFields[log.fields] {
                    writeTag(key: field.key, field.value, text: span.text[...], into: &w)
                }
                w.writeStructEnd()
            }
        }
        w.writeStructEnd()
    }

    /// The same for a span given as tags (tests, tools): rendered first.
    public static func writeSpan(_ span: FinishedSpan, into w: inout ThriftCompactWriter) {
        var rendered = RenderedSpan()
        rendered.render(span)
        writeSpan(rendered, into: &w)
    }

    // MARK: - emitBatch envelope

    /// Everything before the span list's header: the message header (ONEWAY `emitBatch`, seqid 0),
    /// the args struct's field 1 (Batch), Batch field 1 (the pre-encoded Process) and the field
    /// header of Batch field 2 (the span list).
    static func writeEnvelopePrefix(processBytes: [UInt8], into w: inout ThriftCompactWriter) {
        w.writeMessageBegin(name: "emitBatch", type: .oneway, seqID: 0)
        w.writeStructBegin()  // emitBatch_args
        w.writeFieldBegin(id: 1, type: .struct)
        w.writeStructBegin()  // Batch
        w.writeFieldBegin(id: 1, type: .struct)
        w.appendRaw(processBytes)
        w.writeFieldBegin(id: 2, type: .list)
    }

    /// Everything after the last span: Batch field 3 (seqNo), field 4 (ClientStats), the Batch's
    /// stop and the args struct's stop. Must follow `writeEnvelopePrefix` on the same writer.
    static func writeEnvelopeSuffix(
        seqNo: Int64, stats: JaegerBatchPacker.ClientStats, into w: inout ThriftCompactWriter
    ) {
        w.writeI64Field(id: 3, seqNo)
        w.writeFieldBegin(id: 4, type: .struct)
        w.writeStructBegin()
        w.writeI64Field(id: 1, stats.fullQueueDroppedSpans)
        w.writeI64Field(id: 2, stats.tooLargeDroppedSpans)
        w.writeI64Field(id: 3, stats.failedToEmitSpans)
        w.writeStructEnd()
        w.writeStructEnd()  // Batch
        w.writeStructEnd()  // emitBatch_args
    }

    /// Size of `writeEnvelopeSuffix`'s output, computed from the field layout (short-form headers
    /// throughout): seqNo field, stats field header, three i64 fields, three stop bytes.
    static func envelopeSuffixSize(seqNo: Int64, stats: JaegerBatchPacker.ClientStats) -> Int {
        ThriftCompactWriter.i64FieldSize(seqNo) + 1
            + ThriftCompactWriter.i64FieldSize(stats.fullQueueDroppedSpans)
            + ThriftCompactWriter.i64FieldSize(stats.tooLargeDroppedSpans)
            + ThriftCompactWriter.i64FieldSize(stats.failedToEmitSpans) + 3
    }

    /// One complete `Agent.emitBatch` datagram for `spans` (no size limit applied; the packer is
    /// what keeps datagrams under the agent's limit).
    public static func encodeEmitBatch(
        process: ServiceProcess, spans: [FinishedSpan], seqNo: Int64,
        stats: JaegerBatchPacker.ClientStats = .init()
    ) -> [UInt8] {
        var p = ThriftCompactWriter()
        writeProcess(process, into: &p)
        var w = ThriftCompactWriter()
        writeEnvelopePrefix(processBytes: p.bytes, into: &w)
        w.writeListBegin(elementType: .struct, count: spans.count)
        for span in spans { writeSpan(span, into: &w) }
        writeEnvelopeSuffix(seqNo: seqNo, stats: stats, into: &w)
        return w.bytes
    }
}
