import Propagation
import Spans
import XCTest

@testable import SpanEncoding

final class JaegerBatchPackerTests: XCTestCase {
    private let process = ServiceProcess(
        serviceName: "packer-test", tags: [Tag("hostname", .string("h"))])

    private func span(_ i: Int, opLength: Int = 8, tags: [Tag] = []) -> FinishedSpan {
        FinishedSpan(
            traceID: TraceID(high: 0, low: UInt64(1000 + i)), spanID: SpanID(UInt64(i + 1)),
            parentSpanID: .zero,
            operationName: String(repeating: "o", count: opLength), kind: .server,
            startMicros: 1_700_000_000_000_000 + Int64(i), durationMicros: 10, tags: tags)
    }

    /// Decoded view of a datagram: (Batch.seqNo, the spans' Span structs).
    private func decode(_ datagram: [UInt8], file: StaticString = #filePath, line: UInt = #line)
        throws -> (seqNo: Int64?, spans: [[Int16: ThriftValue]])
    {
        var r = CompactTestReader(datagram)
        let (name, type, _, args) = try r.readMessage()
        XCTAssertTrue(r.atEnd, "trailing bytes", file: file, line: line)
        XCTAssertEqual(name, "emitBatch", file: file, line: line)
        XCTAssertEqual(type, 4, file: file, line: line)
        let batch = try XCTUnwrap(args[1]?.fields, file: file, line: line)
        XCTAssertEqual(batch[1]?.fields?[1]?.string, "packer-test", file: file, line: line)
        let spans = try XCTUnwrap(batch[2]?.elements, file: file, line: line).map {
            try XCTUnwrap($0.fields)
        }
        return (batch[3]?.int, spans)
    }

    private func spanIDs(_ datagrams: [[UInt8]]) throws -> [Int64] {
        try datagrams.flatMap { try decode($0).spans.map { $0[3]?.int ?? 0 } }
    }

    func test_pack_smallBatch_oneDatagramWithAllSpans() throws {
        var packer = JaegerBatchPacker(process: process)
        var seqNo: Int64 = 0
        let spans = (0..<20).map { span($0) }
        let out = packer.pack(spans, seqNo: &seqNo, stats: .init())
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(seqNo, 1)
        XCTAssertEqual(try decode(out[0]).seqNo, 1)
        XCTAssertEqual(try spanIDs(out), (1...20).map { Int64($0) })
        XCTAssertEqual(out[0], JaegerThrift.encodeEmitBatch(process: process, spans: spans, seqNo: 1))
    }

    func test_pack_empty_noDatagramAndSeqNoUnchanged() {
        var packer = JaegerBatchPacker(process: process)
        var seqNo: Int64 = 7
        XCTAssertTrue(packer.pack([SpanRecord](), seqNo: &seqNo, stats: .init()).isEmpty)
        XCTAssertEqual(seqNo, 7)
    }

    func test_pack_variedSizesAcrossLimits_everyDatagramWithinLimitAllSpansInOrderSeqNoIncrements()
        throws
    {
        var rng = SplitMix64(seed: 42)
        let spans = (0..<300).map { i in span(i, opLength: Int(rng.next() % 120)) }
        for maxSize in [200, 257, 500, 1000, 4096] {
            var packer = JaegerBatchPacker(process: process, maxPacketSize: maxSize)
            var seqNo: Int64 = 100
            let out = packer.pack(spans, seqNo: &seqNo, stats: .init())
            XCTAssertGreaterThan(out.count, 1)
            for d in out { XCTAssertLessThanOrEqual(d.count, maxSize, "max \(maxSize)") }
            XCTAssertEqual(try spanIDs(out), (1...300).map { Int64($0) }, "max \(maxSize)")
            XCTAssertEqual(
                try out.map { try decode($0).seqNo }, (101...Int64(100 + out.count)).map { $0 })
            XCTAssertEqual(seqNo, Int64(100 + out.count))
            // at 200 bytes the longest operation names cannot fit beside the envelope
            if maxSize >= 500 { XCTAssertEqual(packer.truncatedSpans, 0) }
        }
    }

    /// The packer's arithmetic against an independent measurement: the size of the one-datagram
    /// encoding. At exactly that limit everything fits; one byte less forces a split.
    func test_pack_limitExactlyOneDatagramSize_fitsAndOneByteLessSplits() throws {
        for n in [2, 3, 14, 15, 16, 40] {
            let spans = (0..<n).map { span($0) }
            let exact = JaegerThrift.encodeEmitBatch(process: process, spans: spans, seqNo: 1).count
            var packer = JaegerBatchPacker(process: process, maxPacketSize: exact)
            var seqNo: Int64 = 0
            let fits = packer.pack(spans, seqNo: &seqNo, stats: .init())
            XCTAssertEqual(fits.map(\.count), [exact], "n=\(n)")

            var tight = JaegerBatchPacker(process: process, maxPacketSize: exact - 1)
            seqNo = 0
            let split = tight.pack(spans, seqNo: &seqNo, stats: .init())
            XCTAssertEqual(split.count, 2, "n=\(n)")
            XCTAssertTrue(split.allSatisfy { $0.count <= exact - 1 }, "n=\(n)")
            XCTAssertEqual(try spanIDs(split).count, n)
            XCTAssertEqual(tight.truncatedSpans, 0)
        }
    }

    func test_pack_singleSpanOneByteOverLimit_truncatedByAtLeastOneByte() throws {
        let exact = JaegerThrift.encodeEmitBatch(process: process, spans: [span(0)], seqNo: 1).count
        var packer = JaegerBatchPacker(process: process, maxPacketSize: exact - 1)
        var seqNo: Int64 = 0
        let out = packer.pack([span(0)], seqNo: &seqNo, stats: .init())
        XCTAssertEqual(out.map(\.count), [exact - 1])
        XCTAssertEqual(packer.truncatedSpans, 1)
        XCTAssertEqual(try decode(out[0]).spans[0][5]?.string, "ooooooo")
    }

    /// 15 spans need a two-byte list header where 14 need one: a packer that assumed a fixed
    /// one-byte header would put 15 spans into a datagram one byte too large.
    func test_pack_fifteenthSpanGrowsListHeader_accountedFor() throws {
        let spans = (0..<15).map { span($0) }
        let fourteen = JaegerThrift.encodeEmitBatch(
            process: process, spans: Array(spans.prefix(14)), seqNo: 1)
        let fifteen = JaegerThrift.encodeEmitBatch(process: process, spans: spans, seqNo: 1)
        let spanSize = fifteen.count - fourteen.count - 1
        // a limit that 15 spans would meet with a 1-byte header, but not with the real 2-byte one
        var packer = JaegerBatchPacker(process: process, maxPacketSize: fourteen.count + spanSize)
        var seqNo: Int64 = 0
        let out = packer.pack(spans, seqNo: &seqNo, stats: .init())
        XCTAssertEqual(out.count, 2)
        XCTAssertEqual(try out.map { try decode($0).spans.count }, [14, 1])
    }

    func test_pack_seqNoVarintGrows_limitStillHeld() throws {
        // seqNo 64 zigzags to 128, a two-byte varint where 63 takes one
        let spans = (0..<5).map { span($0) }
        let exact = JaegerThrift.encodeEmitBatch(process: process, spans: spans, seqNo: 64).count
        var packer = JaegerBatchPacker(process: process, maxPacketSize: exact - 1)
        var seqNo: Int64 = 63
        let out = packer.pack(spans, seqNo: &seqNo, stats: .init())
        XCTAssertEqual(out.count, 2)
        XCTAssertTrue(out.allSatisfy { $0.count <= exact - 1 })
        XCTAssertEqual(try out.map { try decode($0).seqNo }, [64, 65])
    }

    func test_pack_statsCarriedInEveryDatagram() throws {
        var stats = JaegerBatchPacker.ClientStats()
        stats.fullQueueDroppedSpans = 5
        stats.tooLargeDroppedSpans = 6
        stats.failedToEmitSpans = 7
        var packer = JaegerBatchPacker(process: process, maxPacketSize: 200)
        var seqNo: Int64 = 0
        let out = packer.pack((0..<10).map { span($0) }, seqNo: &seqNo, stats: stats)
        XCTAssertGreaterThan(out.count, 1)
        for d in out {
            var r = CompactTestReader(d)
            let args = try r.readMessage().3
            let s = try XCTUnwrap(args[1]?.fields?[4]?.fields)
            XCTAssertEqual([s[1]?.int, s[2]?.int, s[3]?.int], [5, 6, 7])
        }
    }

    func test_pack_oversizedStringTag_truncatedToFitAndKept() throws {
        let big = String(repeating: "x", count: 5000)
        let spans = [
            span(0), span(1, tags: [Tag("http.url", .string(big)), Tag("k", .long(1))]), span(2),
        ]
        var packer = JaegerBatchPacker(process: process, maxPacketSize: 500)
        var seqNo: Int64 = 0
        let out = packer.pack(spans, seqNo: &seqNo, stats: .init())
        XCTAssertTrue(out.allSatisfy { $0.count <= 500 })
        XCTAssertEqual(try spanIDs(out), [1, 2, 3])
        XCTAssertEqual(packer.truncatedSpans, 1)
        let decoded = try out.flatMap { try decode($0).spans }
        let tags = try XCTUnwrap(decoded[1][10]?.elements).compactMap(\.fields)
        let url = try XCTUnwrap(tags.first { $0[1]?.string == "http.url" }?[3]?.string)
        XCTAssertTrue(big.hasPrefix(url))
        XCTAssertGreaterThan(url.count, 300, "cut only as much as needed")
        XCTAssertTrue(tags.contains { $0[1]?.string == "k" && $0[6]?.int == 1 })
    }

    func test_pack_oversizedMultibyteValue_truncatedOnScalarBoundary() throws {
        let big = String(repeating: "é", count: 3000)  // 2 bytes each
        var packer = JaegerBatchPacker(process: process, maxPacketSize: 401)
        var seqNo: Int64 = 0
        var s = span(0)
        s.logs = [SpanLog(timestampMicros: 1, fields: [Tag("message", .string(big))])]
        let out = packer.pack([s], seqNo: &seqNo, stats: .init())
        XCTAssertEqual(out.count, 1)
        XCTAssertLessThanOrEqual(out[0].count, 401)
        let decoded = try decode(out[0]).spans[0]
        let field = try XCTUnwrap(decoded[11]?.elements?.first?.fields?[2]?.elements?.first?.fields)
        guard case .binary(let raw) = field[3] else { return XCTFail("no vStr") }
        let value = try XCTUnwrap(String(validating: raw, as: UTF8.self), "valid UTF-8")
        XCTAssertTrue(value.allSatisfy { $0 == "é" })
        XCTAssertFalse(value.isEmpty)
    }

    func test_pack_manySmallTagsTooLarge_tagsDroppedSpanKept() throws {
        let tags = (0..<100).map { Tag("tag\($0)", .long(Int64($0))) }
        var packer = JaegerBatchPacker(process: process, maxPacketSize: 300)
        var seqNo: Int64 = 0
        let out = packer.pack([span(0, tags: tags)], seqNo: &seqNo, stats: .init())
        XCTAssertEqual(out.count, 1)
        XCTAssertLessThanOrEqual(out[0].count, 300)
        XCTAssertEqual(try spanIDs(out), [1])
        XCTAssertEqual(packer.truncatedSpans, 1)
    }

    func test_pack_processFillsPacket_spanDroppedAndCounted() {
        let hugeProcess = ServiceProcess(serviceName: String(repeating: "s", count: 300))
        var packer = JaegerBatchPacker(process: hugeProcess, maxPacketSize: 300)
        var seqNo: Int64 = 0
        XCTAssertTrue(packer.pack([span(0)], seqNo: &seqNo, stats: .init()).isEmpty)
        XCTAssertEqual(packer.droppedSpans, 1)
        XCTAssertEqual(seqNo, 0)
    }

    func test_utf8Prefix_neverSplitsScalar() {
        func prefix(_ s: String, maxBytes: Int) -> String {
            let utf8 = Array(s.utf8)
            return String(
                decoding: utf8.prefix(JaegerBatchPacker.utf8PrefixLength(utf8[...], maxBytes: maxBytes)), as: UTF8.self)
        }
        XCTAssertEqual(prefix("aé", maxBytes: 2), "a")
        XCTAssertEqual(prefix("aé", maxBytes: 3), "aé")
        XCTAssertEqual(prefix("😀x", maxBytes: 3), "")
        XCTAssertEqual(prefix("abc", maxBytes: 0), "")
    }
}

/// Deterministic generator for test inputs (SplitMix64, Steele et al. 2014).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
