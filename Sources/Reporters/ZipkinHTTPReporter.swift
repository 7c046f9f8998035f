import Dispatch
import Gzip
import Reactor
import SpanEncoding
import Spans
import Stats

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
    private let address: SocketAddress
    private let requestHeadPrefix: [UInt8]
    private let process: ServiceProcess
    private let gzip: Bool
    private let timeouts: Timeouts
    /// The kept-alive connection; only the worker thread uses it, the lock satisfies Sendable.
    private let connection = Locked<BlockingTCPConnection?>(nil)

    /// Resolves `host` now; `path` is the request target, e.g. `/api/v2/spans`.
    public init(
        name: String, host: String, port: UInt16, path: String, options: ReporterOptions,
        timeouts: Timeouts = Timeouts()
    ) throws(ReporterURLError) {
        let address = try ReporterURLError.resolving(name, host: host, port: port)
        self.name = name
        self.address = address
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
            if post(request, before: deadline) { return true }
        }
        return false
    }

    public func close() {
        connection.withLock { c in
            c?.close()
            c = nil
        }
    }

    deinit { close() }

    /// One try: true on a 2xx answer. A kept-alive connection the collector has meanwhile closed
    /// fails before any response byte; that gets one immediate retry on a fresh connection.
    private func post(_ request: [UInt8], before deadline: DispatchTime) -> Bool {
        let attemptEnd = min(deadline, DispatchTime.now() + .milliseconds(timeouts.attemptTimeoutMs))
        return connection.withLock { kept -> Bool in
            var reused = kept != nil
            while true {
                let conn: BlockingTCPConnection
                if let existing = kept {
                    conn = existing
                } else {
                    let connectEnd = min(
                        attemptEnd, DispatchTime.now() + .milliseconds(timeouts.connectTimeoutMs))
                    guard let fresh = try? BlockingTCPConnection.connect(to: address, deadline: connectEnd)
                    else { return false }
                    conn = fresh
                    kept = fresh
                }
                switch exchange(request, on: conn, deadline: attemptEnd) {
                case .answered(let status, let keepAlive):
                    if !keepAlive || !(200...299).contains(status) {
                        conn.close()
                        kept = nil
                    }
                    return (200...299).contains(status)
                case .failed(let sawResponseBytes):
                    conn.close()
                    kept = nil
                    guard reused && !sawResponseBytes else { return false }
                    reused = false
                }
            }
        }
    }

    private enum Outcome {
        case answered(status: Int, keepAlive: Bool)
        case failed(sawResponseBytes: Bool)
    }

    private func exchange(_ request: [UInt8], on conn: BlockingTCPConnection, deadline: DispatchTime)
        -> Outcome
    {
        var response: [UInt8] = []
        var reader = CollectorResponseReader()
        do {
            try conn.sendAll(request, deadline: deadline)
            while true {
                let open = try conn.receive(into: &response, deadline: deadline)
                switch try reader.feed(response, atEOF: !open) {
                case .incomplete:
                    continue
                case .complete(let status, let keepAlive, let end):
                    // Bytes beyond the response were not asked for: don't trust the connection.
                    return .answered(status: status, keepAlive: keepAlive && open && end == response.count)
                }
            }
        } catch {
            return .failed(sawResponseBytes: !response.isEmpty)
        }
    }
}
