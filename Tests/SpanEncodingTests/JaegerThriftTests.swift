import Propagation
import Spans
import XCTest

@testable import SpanEncoding

/// Golden bytes worked out by hand from jaeger.thrift / agent.thrift field ids and the compact
/// protocol spec.
final class JaegerThriftTests: XCTestCase {
    private func encode(_ span: FinishedSpan) -> [UInt8] {
        var w = ThriftCompactWriter()
        JaegerThrift.writeSpan(span, into: &w)
        return w.bytes
    }

    private func str(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }

    private let rootSpan = FinishedSpan(
        traceID: TraceID(high: 0, low: 1), spanID: SpanID(2), parentSpanID: .zero, operationName: "op",
        kind: .server, startMicros: 10, durationMicros: 5)

    /// Span.tags begins with span.kind, from FinishedSpan.kind.
    private var spanKindServerTag: [UInt8] {
        [0x18] + str("span.kind") + [0x15, 0x00, 0x18] + str("server") + [0x00]
    }

    func test_writeSpan_rootSpan_goldenBytes() {
        let expected: [UInt8] =
            [0x16, 0x02]  // 1 traceIdLow 1
            + [0x16, 0x00]  // 2 traceIdHigh 0
            + [0x16, 0x04]  // 3 spanId 2
            + [0x16, 0x00]  // 4 parentSpanId 0
            + [0x18] + str("op")  // 5 operationName
            + [0x25, 0x02]  // 7 flags = 1 (sampled); no references for a root span
            + [0x16, 0x14]  // 8 startTime 10
            + [0x16, 0x0A]  // 9 duration 5
            + [0x19, 0x1C] + spanKindServerTag  // 10 tags: one struct
            + [0x00]
        XCTAssertEqual(encode(rootSpan), expected)
    }

    func test_writeSpan_childWithHighBitIdsAndDebug_childOfReferenceAndNegativeI64() {
        var span = rootSpan
        span.traceID = TraceID(high: 0x8000_0000_0000_0000, low: 1)
        span.spanID = SpanID(0xFFFF_FFFF_FFFF_FFFF)  // -1 as i64
        span.parentSpanID = SpanID(3)
        span.debug = true
        span.kind = .client
        let int64Min: [UInt8] = [UInt8](repeating: 0xFF, count: 9) + [0x01]
        let expected: [UInt8] =
            [0x16, 0x02]
            + [0x16] + int64Min  // traceIdHigh 2^63 -> Int64.min
            + [0x16, 0x01]  // spanId -1
            + [0x16, 0x06]  // parentSpanId 3
            + [0x18] + str("op")
            + [0x19, 0x1C]  // 6 references: one SpanRef
            + [0x15, 0x00, 0x16, 0x02, 0x16] + int64Min + [0x16, 0x06, 0x00]  // CHILD_OF, low, high, 3
            + [0x15, 0x06]  // 7 flags = 3 (sampled | debug)
            + [0x16, 0x14, 0x16, 0x0A]
            + [0x19, 0x1C, 0x18] + str("span.kind") + [0x15, 0x00, 0x18] + str("client") + [0x00]
            + [0x00]
        XCTAssertEqual(encode(span), expected)
    }

    func test_writeTag_eachValueType_goldenBytes() {
        func tag(_ t: Tag) -> [UInt8] {
            var w = ThriftCompactWriter()
            JaegerThrift.writeTag(t, into: &w)
            return w.bytes
        }
        // vType is an i32 enum: STRING 0, DOUBLE 1, BOOL 2, LONG 3 (zigzag 0, 2, 4, 6)
        XCTAssertEqual(
            tag(Tag("s", .string("v"))), [0x18] + str("s") + [0x15, 0x00, 0x18] + str("v") + [0x00])
        XCTAssertEqual(
            tag(Tag("d", .double(1.0))),
            [0x18] + str("d") + [0x15, 0x02, 0x27, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x00])
        XCTAssertEqual(tag(Tag("b", .bool(true))), [0x18] + str("b") + [0x15, 0x04, 0x31, 0x00])
        XCTAssertEqual(tag(Tag("b", .bool(false))), [0x18] + str("b") + [0x15, 0x04, 0x32, 0x00])
        XCTAssertEqual(tag(Tag("l", .long(-2))), [0x18] + str("l") + [0x15, 0x06, 0x46, 0x03, 0x00])
    }

    func test_writeSpan_tagsAndLogs_spanKindOnceErrorFalseDropped() {
        var span = rootSpan
        span.tags = [
            Tag("span.kind", .string("server")), Tag("error", .bool(false)),
            Tag("http.status_code", .long(200)),
        ]
        span.logs = [SpanLog(timestampMicros: 11, fields: [Tag("event", .string("x"))])]
        let expected: [UInt8] =
            [0x16, 0x02, 0x16, 0x00, 0x16, 0x04, 0x16, 0x00, 0x18] + str("op")
            + [0x25, 0x02, 0x16, 0x14, 0x16, 0x0A]
            + [0x19, 0x2C] + spanKindServerTag  // two tags
            + [0x18] + str("http.status_code") + [0x15, 0x06, 0x46, 0x90, 0x03, 0x00]  // zigzag 400
            + [0x19, 0x1C]  // 11 logs: one Log
            + [0x16, 0x16]  // Log.timestamp 11
            + [0x19, 0x1C, 0x18] + str("event") + [0x15, 0x00, 0x18] + str("x") + [0x00]  // fields
            + [0x00]  // end Log
            + [0x00]
        XCTAssertEqual(encode(span), expected)
    }

    func test_writeProcess_withTags_goldenBytes() {
        var w = ThriftCompactWriter()
        JaegerThrift.writeProcess(
            ServiceProcess(serviceName: "svc", tags: [Tag("ip", .string("1.2.3.4"))]), into: &w)
        let expected: [UInt8] =
            [0x18] + str("svc") + [0x19, 0x1C, 0x18] + str("ip") + [0x15, 0x00, 0x18] + str("1.2.3.4") + [
                0x00, 0x00,
            ]
        XCTAssertEqual(w.bytes, expected)
    }

    func test_encodeEmitBatch_oneSpan_goldenEnvelope() {
        var stats = JaegerBatchPacker.ClientStats()
        stats.failedToEmitSpans = 2
        let out = JaegerThrift.encodeEmitBatch(
            process: ServiceProcess(serviceName: "s"), spans: [rootSpan], seqNo: 1, stats: stats)
        let expected: [UInt8] =
            [0x82, 0x81, 0x00, 0x09] + Array("emitBatch".utf8)  // ONEWAY emitBatch, seqid 0
            + [0x1C]  // emitBatch_args.1 batch
            + [0x1C, 0x18] + str("s") + [0x00]  // Batch.1 process
            + [0x19, 0x1C] + encode(rootSpan)  // Batch.2 spans (span bytes checked above)
            + [0x16, 0x02]  // Batch.3 seqNo 1
            + [0x1C, 0x16, 0x00, 0x16, 0x00, 0x16, 0x04, 0x00]  // Batch.4 stats
            + [0x00, 0x00]  // end Batch, end args
        XCTAssertEqual(out, expected)
    }

    func test_envelopeSuffixSize_matchesWrittenSuffix() {
        for seqNo: Int64 in [0, 63, 64, 8191, 8192, Int64.max, -1] {
            var stats = JaegerBatchPacker.ClientStats()
            stats.fullQueueDroppedSpans = seqNo
            var w = ThriftCompactWriter()
            w.writeStructBegin()
            w.writeStructBegin()
            w.writeFieldBegin(id: 2, type: .list)
            let before = w.bytes.count
            JaegerThrift.writeEnvelopeSuffix(seqNo: seqNo, stats: stats, into: &w)
            XCTAssertEqual(
                w.bytes.count - before, JaegerThrift.envelopeSuffixSize(seqNo: seqNo, stats: stats))
        }
    }
}
