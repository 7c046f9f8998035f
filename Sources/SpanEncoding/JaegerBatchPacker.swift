import Spans

/// Packs spans into Thrift-compact `Agent.emitBatch` datagrams of at most `maxPacketSize` bytes,
/// measuring each encoded span (as jaeger-client-go does) rather than counting spans.
public struct JaegerBatchPacker: Sendable {
    public init(process: ServiceProcess, maxPacketSize: Int = 65000) {
        fatalError("implemented by the SpanEncoding work")
    }

    /// Client-side loss statistics carried in `Batch.stats`.
    public struct ClientStats: Equatable, Sendable {
        public var fullQueueDroppedSpans: Int64 = 0
        public var tooLargeDroppedSpans: Int64 = 0
        public var failedToEmitSpans: Int64 = 0
        public init() {}
    }

    /// One datagram per element; `seqNo` is incremented per datagram. A span too large for any
    /// datagram has its largest tag values truncated until it fits (counted in `truncatedSpans`).
    public mutating func pack(_ spans: [FinishedSpan], seqNo: inout Int64, stats: ClientStats) -> [[UInt8]] {
        fatalError("implemented by the SpanEncoding work")
    }
}
