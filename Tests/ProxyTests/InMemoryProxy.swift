import Foundation
import HTTP1
import Propagation
import Reactor
import Reporters
import Spans
import Stats
import TestSupport

@testable import Proxy

/// One loop's worth of the proxy with every seam in memory: clients and upstream connections are
/// `MemoryTransport`s, time is a `ManualTime`, finished spans land in `spans`. The test plays
/// client and upstream byte by byte and moves the clock; nothing sleeps and no socket is opened.
final class InMemoryProxy {
    let time = ManualTime()
    let loop = MemoryLoop()
    let connector: MemoryConnector
    let ctx: LoopContext
    private let sink = CollectingSink()

    init(accessLog: String? = nil, _ configure: (inout ProxyConfig) -> Void = { _ in }) throws {
        var config = ProxyConfig()
        config.upstream = HostPort(host: "127.0.0.1", port: 8081)
        config.admin = nil
        config.threads = 1
        config.headerTimeoutMs = 10_000
        config.idleTimeoutMs = 60_000
        config.bodyTimeoutMs = 20_000
        config.upstreamConnectTimeoutMs = 5_000
        config.upstreamTimeoutMs = 30_000
        config.accessLog = accessLog
        configure(&config)
        let registry = MetricsRegistry()
        let pipeline = SpanPipeline(
            reporters: [], maxBatchSpans: 100, maxQueueSpans: 1000, flushIntervalMs: 1000, metrics: registry)
        let shared = SharedState(
            config: config, registry: registry, pipeline: pipeline, upstream: config.upstream!,
            upstreamName: ResolvedName(host: "127.0.0.1", port: 8081),
            accessLog: accessLog.flatMap { AccessLogWriter(path: $0) })
        connector = MemoryConnector(loop: loop)
        ctx = LoopContext(shared: shared, buffers: BufferPool(), time: time, connector: connector, spanSink: sink)
    }

    var metrics: ProxyMetrics { ctx.metrics }

    /// A new client connection, accepted.
    func connect() -> MemoryTransport {
        let t = MemoryTransport(loop: loop)
        ctx.adopt(
            t, peer: ClientPeer(host: "192.0.2.7", address: PeerAddress(numericHost: "192.0.2.7", port: 40_000)!))
        return t
    }

    /// Lets every pending readiness play out.
    func run() { loop.run() }

    /// `client` sends `text`, and the proxy reacts.
    func send(_ client: MemoryTransport, _ text: String) {
        client.receive(text)
        run()
    }

    /// The upstream connection `index` (in order of opening) answers `text`.
    func answer(_ text: String, on index: Int? = nil) {
        let up = index.map { connector.opened[$0] } ?? connector.last!
        up.receive(text)
        run()
    }

    /// Moves the clock and lets the loop's tick run, as the real loop does every 100 ms.
    func advance(ms: Int64) {
        time.advance(ms: ms)
        ctx.tick(time.monotonicMs())
        run()
    }

    /// Spans finished so far (handed off as the loop would on its next tick), rendered as the
    /// reporters render them.
    var spans: [TestSpan] {
        ctx.flushSpans()
        return sink.spans.map(TestSpan.init)
    }

    func beginDrain() {
        ctx.beginDrain()
        run()
    }

    func drainTimedOut() {
        ctx.finalClose()
        run()
    }
}

private final class CollectingSink: SpanSink {
    var spans: [SpanRecord] = []
    func submit(_ batch: [SpanRecord]) { spans += batch }
}

/// A recorded span with its tags rendered, for assertions.
struct TestSpan {
    let record: SpanRecord
    let operationName: String
    let tags: [String: TagValue]

    init(_ record: SpanRecord) {
        self.record = record
        var rendered = RenderedSpan()
        rendered.render(
            record,
            process: ServiceProcess(
                serviceName: "test", spanFacts: SpanFacts(upstreamAddress: "127.0.0.1:8081", upstreamHost: "up")))
        operationName = String(decoding: rendered.bytes(rendered.name), as: UTF8.self)
        var tags: [String: TagValue] = [:]
        for f in rendered.tags {
            switch f.value {
            case .text(let r): tags[f.key] = .string(String(decoding: rendered.bytes(r), as: UTF8.self))
            case .bool(let b): tags[f.key] = .bool(b)
            case .long(let l): tags[f.key] = .long(l)
            case .double(let d): tags[f.key] = .double(d)
            }
        }
        self.tags = tags
    }

    func tag(_ key: String) -> TagValue? { tags[key] }
    var errorKind: String? { record.errorKind?.rawValue }
    var traceID: TraceID { record.traceID }
    var spanID: SpanID { record.spanID }
    var durationMicros: Int64 { record.durationMicros }
    var startMicros: Int64 { record.startMicros }
}

/// The status code of the first response in `text`, if any.
func statusCode(_ text: String) -> Int? {
    guard text.hasPrefix("HTTP/1.1 "), text.count >= 12 else { return nil }
    return Int(text.dropFirst(9).prefix(3))
}
