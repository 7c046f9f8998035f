import Dispatch
import HTTP1
import Reactor
import Stats
import TLS

/// One keep-alive HTTP/1.1 connection to a span collector (Zipkin, OTLP), plain or TLS, used from
/// the reporter's worker thread: sends a whole request, reads the whole response with HTTP1's
/// parser, and reopens the connection when the collector closed it. The retry policy is the
/// reporter's; this is one attempt.
final class CollectorHTTPClient: Sendable {
    struct Response {
        var status: Int
        /// `Retry-After` in seconds, when the collector sent the delay form.
        var retryAfterSeconds: Int?
        /// Up to `CollectorResponseReader.maxBody` bytes of the body.
        var body: [UInt8]
    }

    enum Outcome {
        case answered(Response)
        /// No answer: connect, TLS or I/O failure, or the deadline (the reason, for the log).
        case failed(String)
        /// The collector's name has no address (yet): nothing was sent.
        case unresolved(String)
    }

    /// The collector's host, kept resolved in the background.
    let address: ResolvedName
    private let tls: TLSContext?
    private let serverName: String
    private let connectTimeoutMs: Int
    /// The kept-alive connection and the name's generation it was opened under; only the worker
    /// thread uses it, the lock satisfies Sendable.
    private let connection = Locked(Kept())

    private struct Kept {
        var connection: CollectorConnection?
        var generation: UInt64 = 0
    }

    /// Resolves `host` now and keeps it resolved (`names`): a name that does not resolve yet is
    /// not an error. With `tls`, the collector is verified as `configuration` says (its server name
    /// defaulting to `host`); a context that cannot be built fails here, at start-up.
    init(
        name: String, host: String, port: UInt16, tls: Bool, configuration: TLSConfiguration, connectTimeoutMs: Int,
        names: NameWatch
    ) throws(ReporterURLError) {
        serverName = configuration.serverName ?? host
        self.connectTimeoutMs = connectTimeoutMs
        if tls {
            var c = configuration
            c.serverName = serverName
            do {
                self.tls = try TLSContext(c)
            } catch {
                throw ReporterURLError("reporter \"\(name)\": \(error.message)")
            }
        } else {
            self.tls = nil
        }
        address = names.resolve(host: host, port: port, preferringIPv4: true)
    }

    /// One attempt, ending by `deadline`. A kept-alive connection the collector has meanwhile
    /// closed fails before any response byte; that gets one immediate retry on a fresh connection.
    /// A connection opened to an address the name no longer has is closed first (the collector
    /// moved): the request goes to the new one.
    func post(_ request: [UInt8], deadline: DispatchTime) -> Outcome {
        let current = address.current
        return connection.withLock { state -> Outcome in
            if state.connection != nil, state.generation != current.generation {
                state.connection?.close()
                state.connection = nil
            }
            var reused = state.connection != nil
            while true {
                let conn: CollectorConnection
                if let existing = state.connection {
                    conn = existing
                } else {
                    guard let to = current.address else { return .unresolved("\(address.unresolvedError())") }
                    let connectEnd = min(deadline, DispatchTime.now() + .milliseconds(connectTimeoutMs))
                    do {
                        conn = try CollectorConnection.open(
                            to: to, tls: tls, serverName: serverName, deadline: connectEnd)
                    } catch {
                        return .failed("\(error)")
                    }
                    state = Kept(connection: conn, generation: current.generation)
                }
                switch exchange(request, on: conn, deadline: deadline) {
                case .answered(let response, let keepAlive):
                    if !keepAlive {
                        conn.close()
                        state.connection = nil
                    }
                    return .answered(response)
                case .failed(let sawResponseBytes, let reason):
                    conn.close()
                    state.connection = nil
                    guard reused && !sawResponseBytes else { return .failed(reason) }
                    reused = false
                }
            }
        }
    }

    func close() {
        address.stop()
        connection.withLock { c in
            c.connection?.close()
            c.connection = nil
        }
    }

    deinit { close() }

    private enum Exchange {
        case answered(Response, keepAlive: Bool)
        case failed(sawResponseBytes: Bool, reason: String)
    }

    private func exchange(_ request: [UInt8], on conn: CollectorConnection, deadline: DispatchTime) -> Exchange {
        var bytes: [UInt8] = []
        var reader = CollectorResponseReader()
        do {
            try conn.sendAll(request, deadline: deadline)
            while true {
                let open = try conn.receive(into: &bytes, deadline: deadline)
                switch try reader.feed(bytes, atEOF: !open) {
                case .incomplete:
                    continue
                case .complete(let status, let keepAlive, let end):
                    let retryAfter = reader.head?.firstValue(lowercasedName: "retry-after").flatMap { Int($0) }
                    // Bytes beyond the response were not asked for: don't trust the connection.
                    return .answered(
                        Response(status: status, retryAfterSeconds: retryAfter, body: reader.body),
                        keepAlive: keepAlive && open && end == bytes.count)
                }
            }
        } catch {
            return .failed(sawResponseBytes: !bytes.isEmpty, reason: "\(error)")
        }
    }
}
