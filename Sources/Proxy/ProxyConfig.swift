import Propagation
import Reactor
import Reporters
import Spans

/// A host and port to bind or connect to. Host is a literal IPv4/IPv6 address or a name resolved
/// once at start-up.
public struct HostPort: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { HostPortSyntax.format(host: host, port: port) }
}

/// The validated configuration the command line produces; everything the proxy needs to run.
public struct ProxyConfig: Sendable {
    public var listen = HostPort(host: "127.0.0.1", port: 8080)
    /// `http://HOST:PORT` of the service behind the proxy. Nil only with `demo`.
    public var upstream: HostPort?
    /// Start a built-in demo upstream on loopback (`--demo`).
    public var demo = false
    public var serviceName = "traceproxy"
    public var admin: HostPort? = HostPort(host: "127.0.0.1", port: 9901)
    /// The admin address was given on the command line: failing to bind it is then fatal. The
    /// default address only warns, so several sidecars on one host can start with defaults.
    public var adminExplicit = false
    /// Event loops; 0 means one per core.
    public var threads = 0

    // Tracing.
    public var reporters: [ReporterTarget] = []
    public var sampler: SamplerConfig = .const(true)
    public var propagation: [PropagationFormat] = [.w3c, .b3, .jaeger]
    public var spanKind: SpanKind = .server
    /// Collapse id-like path segments to `{id}` in operation names.
    public var collapsePathIDs = true
    /// Send W3C `traceresponse` to the client.
    public var traceResponse = true
    public var flushIntervalMs = 1000
    public var maxBatchSpans = 100
    public var maxQueueSpans = 10000
    public var maxPacketBytes = 65000
    public var zipkinGzip = false

    // Request rules.
    /// Forward CONNECT and tunnel after a 2xx (`--allow-connect`); refused with 405 otherwise.
    public var allowConnect = false
    public var headersWithUnderscores = UnderscoreAction.drop

    // Limits and timeouts.
    public var maxHeaderBytes = 64 * 1024
    public var maxHeaders = 100
    public var maxConnections = 10000
    /// Idle keep-alive connections kept to the upstream, shared out across the loops.
    public var upstreamMaxIdle = 1024
    public var headerTimeoutMs = 10_000
    public var idleTimeoutMs = 60_000
    public var bodyTimeoutMs = 60_000
    public var upstreamConnectTimeoutMs = 5_000
    public var upstreamTimeoutMs = 60_000
    public var sendTimeoutMs = 60_000
    public var drainTimeoutMs = 10_000

    // Logs.
    /// Path of the access log, "-" for stdout, nil for none.
    public var accessLog: String?

    public init() {}
}

/// What happens to a request field whose name holds `_` (`--headers-with-underscores`).
public enum UnderscoreAction: String, CaseIterable, Sendable {
    /// Left out and counted (nginx's and Envoy's default behaviour).
    case drop
    /// 400 and close.
    case reject
    /// Forwarded, except names that fold into a framing, hop-by-hop or proxy-written field.
    case allow
}
