import Propagation
import Proxy
import Reactor
import Reporters
import Spans
import TLS

/// Turns the raw flag values and the environment into a validated `ProxyConfig`.
///
/// Order of precedence for each field: the flag, then its environment variable, then the default
/// in `ProxyConfig`. Everything is checked before the proxy starts, so a typo never surfaces as a
/// half-started process.
struct ConfigBuilder {
    /// A Jaeger agent reads whole datagrams into a 65000-byte buffer by default; 65507 is the
    /// largest UDP payload over IPv4. Below 1024 not even one ordinary span fits beside the
    /// emitBatch envelope and the Process.
    static let packetBytesRange = 1024...65507
    /// Upper bound for sizes, counts and milliseconds: large enough for any sane setting (24 days
    /// of milliseconds), small enough that arithmetic on it never overflows.
    static let maxQuantity = Int(Int32.max)

    var options: TraceproxyCommand
    var environment: Environment

    func build() throws(ConfigError) -> ProxyConfig {
        var config = ProxyConfig()
        try applyServing(to: &config)
        try applyTracing(to: &config)
        try applyLimits(to: &config)
        try applyTLS(to: &config)
        if let accessLog = options.accessLog {
            guard !accessLog.isEmpty else {
                throw ConfigError(invalid: accessLog, for: "--access-log", "expected a file path or -")
            }
            config.accessLog = accessLog
        }
        if let text = options.accessLogFormat {
            switch text.lowercased() {
            case "text": config.accessLogJSON = false
            case "json": config.accessLogJSON = true
            default: throw ConfigError(invalid: text, for: "--access-log-format", "expected text or json")
            }
        }
        if let text = options.logLevel {
            guard let level = LogLevel(rawValue: text.lowercased()) else {
                throw ConfigError(invalid: text, for: "--log-level", "expected debug, info, warning or error")
            }
            config.logLevel = level
        }
        if let text = options.requestID {
            guard let mode = RequestIDMode(rawValue: text.lowercased()) else {
                throw ConfigError(invalid: text, for: "--request-id", "expected generate, pass or off")
            }
            config.requestID = mode
        }
        return config
    }

    private func applyServing(to config: inout ProxyConfig) throws(ConfigError) {
        if let listen = options.listen {
            switch listen.lowercased() {
            case "off", "none": config.listen = nil
            default: config.listen = try hostPort(listen, for: "--listen")
            }
        }
        config.demo = options.demo
        switch (options.upstream, options.demo) {
        case (let upstream?, false):
            let (address, https) = try ConfigParsing.upstream(upstream)
            config.upstream = address
            if https { config.upstreamTLS = ClientTLS() }
        case (nil, false):
            throw ConfigError(message: "missing --upstream http://HOST:PORT (or use --demo)")
        case (_?, true):
            throw ConfigError(message: "--upstream and --demo cannot be used together")
        case (nil, true):
            config.upstream = nil
        }
        let resource = try environment.resourceAttributes()
        if let name = options.serviceName ?? environment.serviceName(resource: resource) {
            guard !name.allSatisfy({ $0 == " " }) else {
                throw ConfigError(invalid: name, for: "--service-name", "expected a non-empty name")
            }
            config.serviceName = name
        }
        if let admin = options.admin {
            config.adminExplicit = true
            switch admin.lowercased() {
            case "off", "none": config.admin = nil
            default: config.admin = try hostPort(admin, for: "--admin")
            }
        }
        if let threads = options.threads {
            config.threads = try integer(threads, for: "--threads", in: 0...1024)
        }
        try applyTraceView(to: &config)
    }

    /// `--trace-view` (implied by `--demo` while the admin listener is on), its size and UI link.
    /// A UI address without `{trace_id}` gets Jaeger's `/trace/{trace_id}` appended.
    private func applyTraceView(to config: inout ProxyConfig) throws(ConfigError) {
        if options.traceView && config.admin == nil {
            throw ConfigError(message: "--trace-view needs the admin listener, which serves the page (not --admin off)")
        }
        config.traceView = options.traceView || (options.demo && config.admin != nil)
        if let n = options.traceViewSpans {
            config.traceViewSpans = try integer(n, for: "--trace-view-spans", in: 10...1_000_000)
        }
        if let url = options.traceUIURL {
            let lower = url.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), url.count > 8,
                url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
            else {
                throw ConfigError(invalid: url, for: "--trace-ui-url", "expected an http:// or https:// URL")
            }
            var base = Substring(url)
            while base.hasSuffix("/") { base = base.dropLast() }
            config.traceUIURL = url.contains("{trace_id}") ? url : base + "/trace/{trace_id}"
        }
    }

    private func applyTracing(to config: inout ProxyConfig) throws(ConfigError) {
        config.reporters = try reporters()
        if let text = options.sampler {
            do {
                config.sampler = try SamplerConfig.parse(text)
            } catch {
                throw ConfigError(invalid: text, for: "--sampler", error.reason)
            }
        } else if let sampler = try environment.otelSampler() {
            config.sampler = sampler
        } else if let sampler = try environment.sampler() {
            config.sampler = sampler
        }
        if let text = options.propagation {
            do {
                config.propagation = try Propagator.parseFormats(text)
            } catch {
                throw ConfigError(invalid: text, for: "--propagation", error.description)
            }
        } else if let formats = try environment.propagation() {
            config.propagation = formats
        }
        if let text = options.spanKind {
            guard let kind = SpanKind(rawValue: text.lowercased()) else {
                throw ConfigError(invalid: text, for: "--span-kind", "expected server or client")
            }
            config.spanKind = kind
        }
        config.ignoreIncomingContext = options.ignoreIncomingContext
        config.collapsePathIDs = !options.noCollapseIDs
        config.trustForwarded = options.trustForwarded
        try applyRoutesAndCapture(to: &config)
        if let text = options.spanAttributes {
            guard let names = AttributeNames(rawValue: text.lowercased()) else {
                throw ConfigError(invalid: text, for: "--span-attributes", "expected legacy, stable or both")
            }
            config.attributeNames = names
        } else {
            config.attributeNames = environment.semconvOptIn
        }
        config.traceResponse = !options.noTraceResponse
        config.zipkinGzip = options.zipkinGzip
        try applyOTLP(to: &config)
        try set(&config.flushIntervalMs, options.flushIntervalMs, "--flush-interval-ms")
        try set(&config.maxBatchSpans, options.maxBatchSpans, "--max-batch-spans")
        try set(&config.maxQueueSpans, options.maxQueueSpans, "--max-queue-spans")
        if let text = options.maxPacketBytes {
            config.maxPacketBytes = try integer(
                text, for: "--max-packet-bytes", in: Self.packetBytesRange)
        }
    }

    /// `--reporter` flags replace the environment; `none` alone means no reporter. Without them:
    /// `OTEL_SDK_DISABLED=true` means none; `OTEL_TRACES_EXPORTER` names them; an
    /// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` alone means OTLP (beside a Jaeger agent from
    /// `JAEGER_AGENT_*`, if set). With `--demo` and nothing else configured, spans go to stdout
    /// so they show at once.
    private func reporters() throws(ConfigError) -> [ReporterTarget] {
        var reporters: [ReporterTarget] = []
        if options.reporter.isEmpty {
            if environment.sdkDisabled { return [] }
            if let exporters = try environment.tracesExporters() {
                for name in exporters {
                    switch name {
                    case "otlp": reporters.append(try environment.otlpReporter())
                    case "zipkin": reporters.append(try environment.zipkinReporter())
                    case "console": reporters.append(.stdout)
                    case "jaeger":
                        reporters.append(
                            try environment.jaegerAgentReporter() ?? .jaegerUDP(host: "127.0.0.1", port: 6831))
                    default: break
                    }
                }
                return reporters
            }
            if environment.otlp("ENDPOINT") != nil { reporters.append(try environment.otlpReporter()) }
            if let agent = try environment.jaegerAgentReporter() {
                reporters.append(agent)
            } else if options.demo && reporters.isEmpty {
                reporters.append(.stdout)
            }
            return reporters
        }
        for text in options.reporter {
            do {
                if let reporter = try ReporterTarget.parse(text), !reporters.contains(reporter) {
                    reporters.append(reporter)
                }
            } catch {
                throw ConfigError(invalid: text, for: "--reporter", error.description)
            }
        }
        return reporters
    }

    private func applyLimits(to config: inout ProxyConfig) throws(ConfigError) {
        try set(&config.maxHeaderBytes, options.maxHeaderBytes, "--max-header-bytes")
        try set(&config.maxHeaders, options.maxHeaders, "--max-headers")
        try set(&config.maxConnections, options.maxConnections, "--max-connections")
        try set(&config.upstreamMaxIdle, options.upstreamMaxIdle, "--upstream-max-idle")
        try set(&config.headerTimeoutMs, options.headerTimeoutMs, "--header-timeout-ms")
        try set(&config.idleTimeoutMs, options.idleTimeoutMs, "--idle-timeout-ms")
        try set(&config.bodyTimeoutMs, options.bodyTimeoutMs, "--body-timeout-ms")
        try set(
            &config.upstreamConnectTimeoutMs, options.upstreamConnectTimeoutMs,
            "--upstream-connect-timeout-ms")
        try set(&config.upstreamTimeoutMs, options.upstreamTimeoutMs, "--upstream-timeout-ms")
        try set(&config.sendTimeoutMs, options.sendTimeoutMs, "--send-timeout-ms")
        config.allowConnect = options.allowConnect
        if let text = options.headersWithUnderscores {
            guard let action = UnderscoreAction(rawValue: text.lowercased()) else {
                throw ConfigError(invalid: text, for: "--headers-with-underscores", "expected drop, reject or allow")
            }
            config.headersWithUnderscores = action
        }
        try set(&config.drainTimeoutMs, options.drainTimeoutMs, "--drain-timeout-ms")
        try set(&config.dnsRefreshMs, options.dnsRefreshMs, "--dns-refresh-ms")
    }

    /// Sets a positive quantity when its flag was given.
    private func set(_ field: inout Int, _ text: String?, _ flag: String) throws(ConfigError) {
        guard let text else { return }
        field = try integer(text, for: flag, in: 1...Self.maxQuantity)
    }

    private func integer(_ text: String, for flag: String, in range: ClosedRange<Int>)
        throws(ConfigError) -> Int
    {
        guard let value = HostPortSyntax.decimal(Substring(text)), range.contains(value) else {
            let expected =
                range == 1...Self.maxQuantity
                ? "expected a positive integer"
                : "expected an integer from \(range.lowerBound) to \(range.upperBound)"
            throw ConfigError(invalid: text, for: flag, expected)
        }
        return value
    }

    /// Routes (flags, then the file's), paths left untraced, captured fields (never credentials),
    /// query redaction.
    private func applyRoutesAndCapture(to config: inout ProxyConfig) throws(ConfigError) {
        var routes = options.route
        if let file = options.routesFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError(invalid: file, for: "--routes-file", "cannot read the file")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let route = line.trimmingSpaces
                if !route.isEmpty && !route.hasPrefix("#") { routes.append(route) }
            }
        }
        do {
            config.routes = try RouteTable(routes)
        } catch {
            throw ConfigError(invalid: error.route, for: "--route", error.reason)
        }
        for path in options.noTracePath where !path.hasPrefix("/") {
            throw ConfigError(
                invalid: path, for: "--no-trace-path", "expected a path starting with / (or a prefix ending in *)")
        }
        config.untracedPaths = options.noTracePath
        config.captureRequestHeaders = try captured(options.captureRequestHeader, "--capture-request-header")
        config.captureResponseHeaders = try captured(options.captureResponseHeader, "--capture-response-header")
        config.redactQuery = options.redactQuery
    }

    /// Field names to record, lower case; credentials are refused rather than recorded.
    private func captured(_ names: [String], _ flag: String) throws(ConfigError) -> [String] {
        var out: [String] = []
        for name in names {
            let lower = name.lowercased()
            guard Environment.isToken(name) else {
                throw ConfigError(invalid: name, for: flag, "expected a field name")
            }
            guard !["authorization", "proxy-authorization", "cookie", "set-cookie"].contains(lower) else {
                throw ConfigError(invalid: name, for: flag, "credentials are never recorded on spans")
            }
            if !out.contains(lower) { out.append(lower) }
        }
        return out
    }

    /// The OTLP exporter's options: each flag, else its `OTEL_EXPORTER_OTLP_[TRACES_]*` variable.
    private func applyOTLP(to config: inout ProxyConfig) throws(ConfigError) {
        // The OTLP variables matter only to an OTLP reporter: an app's environment shared with a
        // sidecar that reports elsewhere (OTEL_EXPORTER_OTLP_PROTOCOL=grpc, say) is not an error.
        let usesOTLP = config.reporters.contains { if case .otlpHTTP = $0 { true } else { false } }
        let environment = usesOTLP ? environment : Environment([:])
        if let text = options.otlpProtocol {
            config.otlp.encoding = try Environment.otlpEncoding(text, for: "--otlp-protocol")
        } else if let encoding = try environment.otlpEncoding() {
            config.otlp.encoding = encoding
        }
        if let text = options.otlpCompression {
            config.otlp.gzip = try Environment.otlpGzip(text, for: "--otlp-compression")
        } else if let gzip = try environment.otlpGzip() {
            config.otlp.gzip = gzip
        }
        if !options.otlpHeader.isEmpty {
            config.otlp.headers = try options.otlpHeader.map { (text) throws(ConfigError) in
                guard let eq = text.firstIndex(of: "="), Environment.isToken(String(text[..<eq])),
                    !text[text.index(after: eq)...].contains(where: { $0 == "\r" || $0 == "\n" })
                else { throw ConfigError(invalid: text, for: "--otlp-header", "expected NAME=VALUE") }
                return OTLPOptions.Header(name: String(text[..<eq]), value: String(text[text.index(after: eq)...]))
            }
        } else if let headers = try environment.otlpHeaders() {
            config.otlp.headers = headers
        }
        if let text = options.otlpTimeoutMs {
            config.otlp.timeoutMs = try integer(text, for: "--otlp-timeout-ms", in: 1...Self.maxQuantity)
        } else if let ms = try environment.otlpTimeoutMs() {
            config.otlp.timeoutMs = ms
        }
        config.otlp.resourceAttributes = try environment.resourceAttributes()
    }

    /// The HTTPS listener, the https upstream's verification and the collectors' TLS. A TLS flag
    /// with nothing to apply to is an error rather than silently ignored.
    private func applyTLS(to config: inout ProxyConfig) throws(ConfigError) {
        if let text = options.listenTLS {
            let address = try hostPort(text, for: "--listen-tls")
            guard let cert = try path(options.tlsCert, "--tls-cert"), let key = try path(options.tlsKey, "--tls-key")
            else { throw ConfigError(message: "--listen-tls needs --tls-cert FILE and --tls-key FILE") }
            var listener = ListenerTLS(address: address, certificateFile: cert, keyFile: key)
            listener.clientCAFile = try path(options.tlsClientCA, "--tls-client-ca")
            if let ciphers = options.tlsCiphers {
                guard !ciphers.isEmpty else {
                    throw ConfigError(invalid: ciphers, for: "--tls-ciphers", "expected an OpenSSL cipher list")
                }
                listener.ciphers = ciphers
            }
            if let text = options.tlsMinVersion {
                switch text.lowercased() {
                case "1.2", "tls1.2", "tlsv1.2": listener.minimumVersion = .tls12
                case "1.3", "tls1.3", "tlsv1.3": listener.minimumVersion = .tls13
                default: throw ConfigError(invalid: text, for: "--tls-min-version", "expected 1.2 or 1.3")
                }
            }
            try set(&listener.handshakeTimeoutMs, options.tlsHandshakeTimeoutMs, "--tls-handshake-timeout-ms")
            config.listenTLS = listener
        } else if let flag = [
            ("--tls-cert", options.tlsCert), ("--tls-key", options.tlsKey), ("--tls-client-ca", options.tlsClientCA),
            ("--tls-ciphers", options.tlsCiphers), ("--tls-min-version", options.tlsMinVersion),
            ("--tls-handshake-timeout-ms", options.tlsHandshakeTimeoutMs),
        ].first(where: { $0.1 != nil })?.0 {
            throw ConfigError(message: "\(flag) applies to the HTTPS listener: add --listen-tls HOST:PORT")
        }
        if config.listen == nil && config.listenTLS == nil {
            throw ConfigError(message: "--listen off needs --listen-tls HOST:PORT: there would be nothing to listen on")
        }
        var upstream = ClientTLS()
        upstream.caFile = try path(options.upstreamCA, "--upstream-ca")
        upstream.certificateFile = try path(options.upstreamCert, "--upstream-cert")
        upstream.keyFile = try path(options.upstreamKey, "--upstream-key")
        upstream.insecure = options.upstreamInsecure
        if let name = options.upstreamServerName {
            guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "/" }) else {
                throw ConfigError(invalid: name, for: "--upstream-server-name", "expected a host name or IP address")
            }
            upstream.serverName = name
        }
        try pair(upstream, "--upstream-cert", "--upstream-key")
        if config.upstreamTLS != nil {
            config.upstreamTLS = upstream
        } else if upstream != ClientTLS() {
            throw ConfigError(
                message: "--upstream-ca, --upstream-server-name, --upstream-cert, --upstream-key and "
                    + "--upstream-insecure apply to an https:// upstream")
        }
        var collector = ClientTLS()
        collector.caFile = try path(options.collectorCA, "--collector-ca")
        collector.certificateFile = try path(options.collectorCert, "--collector-cert")
        collector.keyFile = try path(options.collectorKey, "--collector-key")
        try pair(collector, "--collector-cert", "--collector-key")
        if collector != ClientTLS() && !config.reporters.contains(where: \.usesTLS) {
            throw ConfigError(
                message:
                    "--collector-ca, --collector-cert and --collector-key apply to otlp+https:// and zipkin+https:// reporters"
            )
        }
        // The OTLP variables stand in for flags not given (and only matter to TLS reporters).
        if collector.caFile == nil { collector.caFile = environment.otlp("CERTIFICATE")?.0 }
        if collector.certificateFile == nil && collector.keyFile == nil {
            collector.certificateFile = environment.otlp("CLIENT_CERTIFICATE")?.0
            collector.keyFile = environment.otlp("CLIENT_KEY")?.0
            if (collector.certificateFile == nil) != (collector.keyFile == nil) {
                throw ConfigError(
                    message: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together")
            }
        }
        config.collectorTLS = collector
    }

    /// A file path flag: non-empty when given.
    private func path(_ text: String?, _ flag: String) throws(ConfigError) -> String? {
        guard let text else { return nil }
        guard !text.isEmpty else { throw ConfigError(invalid: text, for: flag, "expected a file path") }
        return text
    }

    /// A client certificate needs its key and the other way round.
    private func pair(_ tls: ClientTLS, _ certFlag: String, _ keyFlag: String) throws(ConfigError) {
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw ConfigError(message: "\(certFlag) and \(keyFlag) go together")
        }
    }

    private func hostPort(_ text: String, for flag: String) throws(ConfigError) -> HostPort {
        guard let value = ConfigParsing.hostPort(Substring(text)) else {
            throw ConfigError(invalid: text, for: flag, ConfigParsing.hostPortExpectation)
        }
        return value
    }
}
