import Dispatch
import Gzip
import Reactor
import SpanEncoding
import Spans
import Stats
import TLS

#if canImport(Glibc)
    import Glibc
#endif

/// POSTs Zipkin v2 JSON (`ListOfSpans`) to a collector (zipkin2-api.yaml, `POST /spans`).
///
/// One keep-alive connection, reopened when the collector closes it. Each batch gets a bounded
/// number of tries with a doubling backoff; past that, or past the caller's deadline, it is lost
/// and the pipeline counts it. Requests carry `b3: 0` (B3 single header, "not sampled") so that a
/// traced collector does not trace our uploads and feed its own spans back to us.
public final class ZipkinHTTPReporter: SpanReporter {
    /// Bounds on the time one batch may take. The defaults keep a hung collector's cost per batch
    /// near `tries * attemptTimeoutMs + backoff`, about 6.3 s.
    public struct Timeouts: Sendable {
        public var connectTimeoutMs: Int
        /// Whole request and response, connect included.
        public var attemptTimeoutMs: Int
        public var tries: Int
        /// Waits `initialBackoffMs`, then twice that, ... between tries.
        public var initialBackoffMs: Int

        public init(
            connectTimeoutMs: Int = 1000, attemptTimeoutMs: Int = 2000, tries: Int = 3,
            initialBackoffMs: Int = 100
        ) {
            self.connectTimeoutMs = connectTimeoutMs
            self.attemptTimeoutMs = attemptTimeoutMs
            self.tries = max(1, tries)
            self.initialBackoffMs = initialBackoffMs
        }
    }

    public let name: String
    private let requestHeadPrefix: [UInt8]
    private let process: ServiceProcess
    private let gzip: Bool
    private let timeouts: Timeouts
    private let client: CollectorHTTPClient
    private let failure = Locked<(reason: String?, unresolved: Bool)>((nil, false))

    /// Resolves `host` now and keeps it resolved (`options.names`); `path` is the request target,
    /// e.g. `/api/v2/spans`. With `tls`, the collector is verified as `options.collectorTLS` says
    /// (its server name defaulting to `host`); a context that cannot be built (unreadable files)
    /// fails here, at start-up.
    public init(
        name: String, host: String, port: UInt16, path: String, tls: Bool = false, options: ReporterOptions,
        timeouts: Timeouts = Timeouts()
    ) throws(ReporterURLError) {
        client = try CollectorHTTPClient(
            name: name, host: host, port: port, tls: tls, configuration: options.collectorTLS,
            connectTimeoutMs: timeouts.connectTimeoutMs, names: options.names)
        self.name = name
        self.process = options.process
        self.gzip = options.zipkinGzip
        self.timeouts = timeouts
        let hostHeader = HostPortSyntax.format(host: host, port: port)
        var head = "POST \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\n"
        head += "User-Agent: traceproxy\r\nContent-Type: application/json\r\n"
        head += "b3: 0\r\nConnection: keep-alive\r\n"
        if options.zipkinGzip { head += "Content-Encoding: gzip\r\n" }
        self.requestHeadPrefix = Array(head.utf8)
    }

    public func send(_ spans: [SpanRecord]) -> Bool {
        send(spans, before: .distantFuture)
    }

    public func send(_ spans: [SpanRecord], before deadline: DispatchTime) -> Bool {
        guard !spans.isEmpty else { return true }
        var body: [UInt8] = []
        ZipkinJSONEncoder.encode(spans, process: process, into: &body)
        if gzip { body = Gzip.compress(body) }
        var request = requestHeadPrefix
        request += Array("Content-Length: \(body.count)\r\n\r\n".utf8)
        request += body

        var backoffMs = timeouts.initialBackoffMs
        for attempt in 0..<timeouts.tries {
            if attempt > 0 {
                let wakeAt = DispatchTime.now() + .milliseconds(backoffMs)
                guard wakeAt < deadline else { return false }
                usleep(UInt32(backoffMs) * 1000)
                backoffMs *= 2
            }
            switch post(request, before: deadline) {
            case .delivered: return true
            case .refused, .unresolved: return false
            case .retry: continue
            }
        }
        return false
    }

    public var lastFailure: String? { failure.withLock { $0.reason } }

    public var lastDropReason: SpanDropReason { failure.withLock { $0.unresolved ? .unresolved : .sendFailed } }

    public func close() { client.close() }

    private enum Attempt { case delivered, refused, retry, unresolved }

    /// One try. A 4xx other than 408 and 429 says the batch itself is unacceptable (it would be
    /// refused again): not retried.
    private func post(_ request: [UInt8], before deadline: DispatchTime) -> Attempt {
        let attemptEnd = min(deadline, DispatchTime.now() + .milliseconds(timeouts.attemptTimeoutMs))
        switch client.post(request, deadline: attemptEnd) {
        case .answered(let response):
            let status = response.status
            if (200...299).contains(status) {
                failure.withLock { $0 = (nil, false) }
                return .delivered
            }
            failure.withLock { $0 = ("collector answered \(status)", false) }
            return (400...499).contains(status) && status != 408 && status != 429 ? .refused : .retry
        case .failed(let reason):
            failure.withLock { $0 = (reason, false) }
            return .retry
        case .unresolved(let reason):
            // Not retried within the batch: the name is retried in the background.
            failure.withLock { $0 = (reason, true) }
            return .unresolved
        }
    }
}
