import Spans

/// Packs spans into Thrift-compact `Agent.emitBatch` datagrams of at most `maxPacketSize` bytes,
/// measuring each encoded span (as jaeger-client-go does) rather than counting spans.
///
/// The envelope overhead is computed exactly for each candidate datagram, not estimated: the
/// message header and pre-encoded Process are a fixed prefix, the span list's header grows from one
/// byte to 1 + varint(count) at 15 elements (compact spec, "List and Set"), and the seqNo and stats
/// fields are zigzag varints whose size depends on their values.
public struct JaegerBatchPacker: Sendable {
    public let maxPacketSize: Int
    /// Spans whose string values were cut so that they fit a datagram on their own.
    public private(set) var truncatedSpans: Int = 0
    /// Spans that could not be made to fit even with every string emptied and every tag and log
    /// removed (only possible when the Process alone nearly fills `maxPacketSize`).
    public private(set) var droppedSpans: Int = 0

    private let process: ServiceProcess
    private let processBytes: [UInt8]
    /// Bytes before the span list header; independent of the spans, seqNo and stats.
    private let prefixSize: Int
    private var scratch = ThriftCompactWriter()
    /// Reused for every span, so rendering allocates only while its buffers grow.
    private var rendered = RenderedSpan()

    public init(process: ServiceProcess, maxPacketSize: Int = 65000) {
        precondition(maxPacketSize > 0, "maxPacketSize must be positive")
        self.maxPacketSize = maxPacketSize
        self.process = process
        var p = ThriftCompactWriter()
        JaegerThrift.writeProcess(process, into: &p)
        processBytes = p.bytes
        var w = ThriftCompactWriter()
        JaegerThrift.writeEnvelopePrefix(processBytes: processBytes, into: &w)
        prefixSize = w.bytes.count
    }

    /// Client-side loss statistics carried in `Batch.stats`.
    public struct ClientStats: Equatable, Sendable {
        public var fullQueueDroppedSpans: Int64 = 0
        public var tooLargeDroppedSpans: Int64 = 0
        public var failedToEmitSpans: Int64 = 0
        public init() {}
    }

    /// One datagram per element. `seqNo` is incremented before each datagram and the datagram
    /// carries the new value (so a sender starting from 0 numbers its batches 1, 2, ... as
    /// jaeger-client-go does). Every datagram carries `stats`. A span too large for any datagram has
    /// its largest string values truncated until it fits (counted in `truncatedSpans`).
    public mutating func pack(_ spans: [SpanRecord], seqNo: inout Int64, stats: ClientStats) -> [[UInt8]] {
        let process = self.process
        return pack(count: spans.count, seqNo: &seqNo, stats: stats) { $1.render(spans[$0], process: process) }
    }

    /// The same for spans given as tags (tests, tools).
    public mutating func pack(_ spans: [FinishedSpan], seqNo: inout Int64, stats: ClientStats) -> [[UInt8]] {
        pack(count: spans.count, seqNo: &seqNo, stats: stats) { $1.render(spans[$0]) }
    }

    private mutating func pack(
        count spanCount: Int, seqNo: inout Int64, stats: ClientStats, render: (Int, inout RenderedSpan) -> Void
    ) -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        var body: [UInt8] = []
        var count = 0
        var suffixSize = JaegerThrift.envelopeSuffixSize(seqNo: seqNo &+ 1, stats: stats)

        func total(count: Int, bodySize: Int) -> Int {
            prefixSize + ThriftCompactWriter.listHeaderSize(count: count) + bodySize + suffixSize
        }

        for index in 0..<spanCount {
            render(index, &rendered)
            scratch.removeAll()
            JaegerThrift.writeSpan(rendered, into: &scratch)
            if count > 0
                && total(count: count + 1, bodySize: body.count + scratch.bytes.count)
                    > maxPacketSize
            {
                seqNo &+= 1
                datagrams.append(assemble(body: body, count: count, seqNo: seqNo, stats: stats))
                body.removeAll(keepingCapacity: true)
                count = 0
                suffixSize = JaegerThrift.envelopeSuffixSize(seqNo: seqNo &+ 1, stats: stats)
            }
            if count == 0 && total(count: 1, bodySize: scratch.bytes.count) > maxPacketSize {
                let budget = maxPacketSize - total(count: 1, bodySize: 0)
                guard shrink(rendered, toFit: budget) else {
                    droppedSpans += 1
                    continue
                }
                truncatedSpans += 1
            }
            body.append(contentsOf: scratch.bytes)
            count += 1
        }
        if count > 0 {
            seqNo &+= 1
            datagrams.append(assemble(body: body, count: count, seqNo: seqNo, stats: stats))
        }
        return datagrams
    }

    private func assemble(body: [UInt8], count: Int, seqNo: Int64, stats: ClientStats) -> [UInt8] {
        var w = ThriftCompactWriter(
            reservingCapacity: prefixSize + 6 + body.count
                + JaegerThrift.envelopeSuffixSize(seqNo: seqNo, stats: stats))
        JaegerThrift.writeEnvelopePrefix(processBytes: processBytes, into: &w)
        w.writeListBegin(elementType: .struct, count: count)
        w.appendRaw(body)
        JaegerThrift.writeEnvelopeSuffix(seqNo: seqNo, stats: stats, into: &w)
        return w.bytes
    }

    /// Re-encodes ever smaller copies of `span` into `scratch` until the encoding is at most
    /// `budget` bytes. Each round cuts the largest string (a string tag value, a string log field
    /// or the operation name) by the excess, on a UTF-8 scalar boundary; when no string is left to
    /// cut it drops the last log, then the last tag. Every round shrinks the span, so this ends.
    private mutating func shrink(_ original: RenderedSpan, toFit budget: Int) -> Bool {
        guard budget > 0 else { return false }
        var span = original
        while true {
            scratch.removeAll()
            JaegerThrift.writeSpan(span, into: &scratch)
            let excess = scratch.bytes.count - budget
            if excess <= 0 { return true }
            if Self.cutLargestString(of: &span, by: excess) { continue }
            if !span.logs.isEmpty {
                span.logs.removeLast()
            } else if !span.tags.isEmpty {
                span.tags.removeLast()
            } else {
                return false
            }
        }
    }

    private enum StringSlot {
        case operationName
        case tag(Int)
        case logField(Int)
    }

    /// Finds the longest non-empty string in `span` and shortens it by `excess` bytes (or empties
    /// it). Returns false when every string is already empty.
    static func cutLargestString(of span: inout RenderedSpan, by excess: Int) -> Bool {
        var best = StringSlot.operationName
        var bestLength = span.name.count
        for (i, tag) in span.tags.enumerated() {
            if case .text(let r) = tag.value, r.count > bestLength {
                best = .tag(i)
                bestLength = r.count
            }
        }
        for log in span.logs {
            for j in log.fields {
                if case .text(let r) = span.logFields[j].value, r.count > bestLength {
                    best = .logField(j)
                    bestLength = r.count
                }
            }
        }
        guard bestLength > 0 else { return false }
        let newLength = max(0, bestLength - excess)
        func cut(_ r: Range<Int>) -> Range<Int> {
            r.lowerBound..<(r.lowerBound + utf8PrefixLength(span.bytes(r), maxBytes: newLength))
        }
        switch best {
        case .operationName:
            span.name = cut(span.name)
        case .tag(let i):
            if case .text(let r) = span.tags[i].value { span.tags[i].value = .text(cut(r)) }
        case .logField(let j):
            if case .text(let r) = span.logFields[j].value { span.logFields[j].value = .text(cut(r)) }
        }
        return true
    }

    /// The length of the longest prefix of `utf8` of at most `maxBytes` bytes that ends on a
    /// scalar boundary (never splits a multi-byte sequence, so the result is still valid UTF-8).
    static func utf8PrefixLength(_ utf8: ArraySlice<UInt8>, maxBytes: Int) -> Int {
        if utf8.count <= maxBytes { return utf8.count }
        var end = maxBytes
        while end > 0 && utf8[utf8.startIndex + end] & 0xC0 == 0x80 { end -= 1 }
        return end
    }
}
