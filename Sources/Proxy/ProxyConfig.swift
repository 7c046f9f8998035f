import Propagation
import Reactor
import Reporters
import Spans
import TLS

/// A host and port to bind or connect to. Host is a literal IPv4/IPv6 address or a name (resolved
/// at start-up for a listener, kept resolved for the upstream: `ResolvedName`).
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
    /// The plain-HTTP listener; nil with `--listen off` (TLS only).
    public var listen: HostPort? = HostPort(host: "127.0.0.1", port: 8080)
    /// The HTTPS listener (`--listen-tls`), beside the plain one.
    public var listenTLS: ListenerTLS?
    /// `http://HOST:PORT` of the service behind the proxy. Nil only with `demo`.
    public var upstream: HostPort?
    /// Set for an `https://` upstream.
    public var upstreamTLS: ClientTLS?
    /// `zipkin+https://` collectors (and OTLP's, later): trust and client certificate.
    public var collectorTLS = ClientTLS()
    /// Start a built-in demo upstream on loopback (`--demo`).
    public var demo = false
    public var serviceName = "traceproxy"
    public var admin: HostPort? = HostPort(host: "127.0.0.1", port: 9901)
    /// The admin address was given on the command line: failing to bind it is then fatal. The
    /// default address only warns, so several sidecars on one host can start with defaults.
    public var adminExplicit = false
    /// Event loops; 0 means one per core.
    public var threads = 0
    /// The trace view on the admin listener (`--trace-view`, implied by `--demo`): `/traces` and
    /// its JSON API, fed by a reporter of its own.
    public var traceView = false
    /// `--trace-view-spans`: recent spans the view keeps (failed and slowest ones besides).
    public var traceViewSpans = 2000
    /// `--trace-ui-url`: a Jaeger or Zipkin UI, `{trace_id}` replaced, linked from the view.
    public var traceUIURL: String?

    // Tracing.
    public var reporters: [ReporterTarget] = []
    public var sampler: SamplerConfig = .const(true)
    /// Formats read and written; empty: none (`--propagation none`).
    public var propagation: [PropagationFormat] = [.w3c, .b3, .jaeger]
    /// Start a new trace for every request; a valid incoming context becomes the span's link
    /// (`--ignore-incoming-context`, for a proxy at the edge of untrusted callers).
    public var ignoreIncomingContext = false
    public var spanKind: SpanKind = .server
    /// Collapse id-like path segments to `{id}` in operation names.
    public var collapsePathIDs = true
    /// `--route`: templates for span names and `http.route`.
    public var routes = RouteTable()
    /// `--no-trace-path`: paths (or `prefix*`) forwarded without a span.
    public var untracedPaths: [String] = []
    /// `--capture-request-header` / `--capture-response-header`, lower case.
    public var captureRequestHeaders: [String] = []
    public var captureResponseHeaders: [String] = []
    /// `--redact-query`.
    public var redactQuery = false
    /// Which span attribute names (`--span-attributes`); nil: each reporter's default.
    public var attributeNames: AttributeNames?
    /// `--trust-forwarded`: `client.address` from `Forwarded`/`X-Forwarded-For`.
    public var trustForwarded = false
    /// Send W3C `traceresponse` to the client.
    public var traceResponse = true
    public var flushIntervalMs = 1000
    public var maxBatchSpans = 100
    public var maxQueueSpans = 10000
    public var maxPacketBytes = 65000
    public var zipkinGzip = false
    /// The OTLP reporters' encoding, compression, headers, timeout and resource attributes.
    public var otlp = OTLPOptions()

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
    /// `--dns-refresh-ms`: how often the upstream's and collectors' host names are resolved
    /// again (getaddrinfo reports no TTL); IP literals never are.
    public var dnsRefreshMs = Int(NameRefreshSchedule.Policy.defaultRefreshMs)

    // Logs.
    /// Path of the access log, "-" for stdout, nil for none.
    public var accessLog: String?
    /// `--access-log-format`: one text line per request, or one JSON object per line.
    public var accessLogJSON = false
    /// `--request-id`: what the proxy does with `X-Request-Id`.
    public var requestID = RequestIDMode.generate
    /// `--log-level`: the least severe message written to stderr.
    public var logLevel = LogLevel.info

    public init() {}
}

/// `--log-level`, in swift-log's terms; trace, notice and critical are folded into their neighbours
/// because nothing here logs at those levels.
public enum LogLevel: String, CaseIterable, Sendable {
    case debug, info, warning, error
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

/// The HTTPS listener: where, which certificate, and what it asks of clients. Paths only; the
/// files are read when the context is built (at start-up and on SIGHUP).
public struct ListenerTLS: Equatable, Sendable {
    public var address: HostPort
    /// PEM, the certificate followed by its intermediates.
    public var certificateFile: String
    public var keyFile: String
    /// Require a client certificate signed by one of these CAs (mTLS between sidecars).
    public var clientCAFile: String?
    /// OpenSSL's cipher-list syntax for TLS 1.2; TLS 1.3 keeps OpenSSL's suites.
    public var ciphers: String?
    public var minimumVersion = TLSConfiguration.ProtocolVersion.tls12
    public var handshakeTimeoutMs = Self.defaultHandshakeTimeoutMs
    public static let defaultHandshakeTimeoutMs = 10_000

    public init(address: HostPort, certificateFile: String, keyFile: String) {
        self.address = address
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// ALPN offers `http/1.1` only: the proxy speaks nothing else.
    var configuration: TLSConfiguration {
        TLSConfiguration(
            role: .server, certificateChainFile: certificateFile, privateKeyFile: keyFile, clientCAFile: clientCAFile,
            minimumVersion: minimumVersion, cipherList: ciphers, applicationProtocols: ["http/1.1"])
    }
}

/// How the proxy checks a server it calls (an HTTPS upstream, a collector) and what it shows it.
public struct ClientTLS: Equatable, Sendable {
    /// A PEM bundle of trusted CAs; nil: the system trust store.
    public var caFile: String?
    /// The name (or IP address) the certificate must carry instead of the URL's host; sent as SNI
    /// when it is a name.
    public var serverName: String?
    /// A client certificate (and its key) for servers that demand one.
    public var certificateFile: String?
    public var keyFile: String?
    /// Accept any certificate (`--upstream-insecure`, warned about at start-up).
    public var insecure = false

    public init() {}

    /// For the server at `host` (its URL's host unless `serverName` says otherwise; nil leaves
    /// it to each reporter, which names its own collector).
    func configuration(host: String?) -> TLSConfiguration {
        TLSConfiguration(
            role: .client, certificateChainFile: certificateFile, privateKeyFile: keyFile,
            trustRoots: caFile.map { .file($0) } ?? .system, verifyPeer: !insecure, serverName: serverName ?? host,
            applicationProtocols: ["http/1.1"])
    }
}

/// `--request-id`: `X-Request-Id` ties the access log, the upstream's logs and the trace together.
public enum RequestIDMode: String, CaseIterable, Sendable {
    /// Pass the client's on; make one (32 hex digits) when it sent none.
    case generate
    /// Pass the client's on, make none.
    case pass
    /// Treat it as any other field: not recorded, not made.
    case off
}
