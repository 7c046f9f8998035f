import Dispatch
import Reactor
import SpanEncoding
import Spans
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// Sends spans to a Jaeger agent as Thrift-compact `Agent.emitBatch` datagrams (port 6831).
///
/// One connected, non-blocking UDP socket: connecting lets the kernel report ICMP port-unreachable
/// as ECONNREFUSED on a later send, so a missing agent is counted instead of silently absorbed.
/// `Batch.seqNo` and `Batch.stats` (jaeger.thrift, `ClientStats`) let the backend see our losses;
/// the stats are cumulative, as the Jaeger agent computes deltas between batches.
public final class JaegerUDPReporter: SpanReporter {
    public let name: String

    private struct State {
        var packer: JaegerBatchPacker
        var seqNo: Int64 = 0
        var stats = JaegerBatchPacker.ClientStats()
        var fd: Int32 = -1
        /// The agent name's generation the socket is connected under.
        var generation: UInt64 = 0
        var closed = false
        var failure: String?
        var dropReason = SpanDropReason.sendFailed
    }

    private let state: Locked<State>
    /// The agent's host, kept resolved in the background.
    private let agent: ResolvedName
    /// The pipeline's queue-full drops, reported to the agent as `fullQueueDroppedSpans`.
    private let queueFullDrops: Counter

    /// How long a send waits for room in the socket buffer before the datagram counts as failed.
    static let sendBufferWaitMs: Int32 = 100

    /// Resolves `host` and opens the socket towards it; fails when the socket cannot be opened.
    /// A host that does not resolve yet is kept trying (`options.names`); its batches are lost
    /// (`lastDropReason` `.unresolved`) until it does, and the socket follows the agent when its
    /// address changes.
    public init(
        name: String, host: String, port: UInt16, options: ReporterOptions, metrics: MetricsRegistry
    ) throws(ReporterURLError) {
        self.name = name
        self.queueFullDrops = ReporterMetrics.queueFullDrops(metrics, reporter: name)
        agent = options.names.resolve(host: host, port: port, preferringIPv4: true)
        var s = State(packer: JaegerBatchPacker(process: options.process, maxPacketSize: options.maxPacketSize))
        if let problem = Self.connect(&s, to: agent.current) {
            agent.stop()
            throw ReporterURLError("reporter \"\(name)\": \(problem)")
        }
        self.state = Locked(s)
    }

    /// (Re)opens the socket when the agent's address is new; the problem when that failed.
    private static func connect(_ s: inout State, to current: ResolvedName.Snapshot) -> String? {
        guard let address = current.address, s.fd < 0 || s.generation != current.generation else { return nil }
        if s.fd >= 0 { Glibc.close(s.fd) }
        s.fd = -1
        let fd = socket(
            address.family, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0
        )
        guard fd >= 0 else { return "cannot open a UDP socket (errno \(errno))" }
        let connected = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard connected == 0 else {
            let code = errno
            Glibc.close(fd)
            return "cannot connect UDP socket (errno \(code))"
        }
        s.fd = fd
        s.generation = current.generation
        return nil
    }

    public var lastFailure: String? { state.withLock { $0.failure } }

    public var lastDropReason: SpanDropReason { state.withLock { $0.dropReason } }

    /// Returns false when any datagram of the batch was lost: not handed to the kernel, or
    /// refused by the agent's host (ECONNREFUSED reports an earlier datagram's ICMP
    /// port-unreachable). The lost share of the spans (by datagram count: the packer does not say
    /// which span went where) is reported to the agent as `failedToEmitSpans` in later batches.
    public func send(_ spans: [SpanRecord]) -> Bool {
        guard !spans.isEmpty else { return true }
        let current = agent.current
        return state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.dropReason = .sendFailed
            s.failure = Self.connect(&s, to: current)
            if current.address == nil {
                s.dropReason = .unresolved
                s.failure = "\(agent.unresolvedError())"
            }
            guard s.fd >= 0 else { return false }
            s.stats.fullQueueDroppedSpans = Int64(queueFullDrops.value)
            s.stats.tooLargeDroppedSpans = Int64(s.packer.droppedSpans)
            let datagrams = s.packer.pack(spans, seqNo: &s.seqNo, stats: s.stats)
            var lost = 0
            for datagram in datagrams {
                let outcome = Self.sendDatagram(datagram, fd: s.fd)
                lost += (outcome.sent ? 0 : 1) + outcome.refusals
            }
            if lost > 0 {
                let perDatagram = (spans.count + datagrams.count - 1) / max(1, datagrams.count)
                s.stats.failedToEmitSpans += Int64(min(spans.count, lost * perDatagram))
            }
            return lost == 0
        }
    }

    public func close() {
        agent.stop()
        state.withLock { s in
            if s.fd >= 0 { Glibc.close(s.fd) }
            s.fd = -1
            s.closed = true
        }
    }

    deinit { close() }

    /// One `send`. ECONNREFUSED belongs to an earlier datagram (the kernel reports the ICMP
    /// reply on the next call and does not send this one), so it is counted and the send retried
    /// once; a full socket buffer gets a short wait and one retry.
    private static func sendDatagram(_ datagram: [UInt8], fd: Int32) -> (sent: Bool, refusals: Int) {
        var refusals = 0
        for _ in 0..<3 {
            let n = datagram.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if n == datagram.count { return (true, refusals) }
            if n >= 0 { return (false, refusals) }
            switch errno {
            case EINTR:
                continue
            case ECONNREFUSED:
                refusals += 1
            case EAGAIN, EWOULDBLOCK, ENOBUFS:
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, sendBufferWaitMs)
            default:
                return (false, refusals)
            }
        }
        return (false, refusals)
    }
}
