import Proxy
import Spans

/// `--print-config`: the effective configuration, one `key = value` line per field, so a user
/// (and the CLI tests) can see what the flags and the environment resolved to without starting
/// the proxy.
enum ConfigSummary {
    static func lines(_ c: ProxyConfig) -> [String] {
        [
            "listen = \(c.listen.map { "\($0)" } ?? "off")",
            "listen-tls = \(c.listenTLS.map { "\($0.address)" } ?? "off")",
            "tls-cert = \(c.listenTLS?.certificateFile ?? "none")",
            "tls-key = \(c.listenTLS?.keyFile ?? "none")",
            "tls-client-ca = \(c.listenTLS?.clientCAFile ?? "none")",
            "tls-ciphers = \(c.listenTLS?.ciphers ?? "default")",
            "tls-min-version = \(c.listenTLS?.minimumVersion == .tls13 ? "1.3" : "1.2")",
            "tls-handshake-timeout-ms = \(c.listenTLS?.handshakeTimeoutMs ?? ListenerTLS.defaultHandshakeTimeoutMs)",
            "upstream = \(c.upstream.map { "\(c.upstreamTLS == nil ? "http" : "https")://\($0)" } ?? "none")",
            "upstream-ca = \(c.upstreamTLS?.caFile ?? "system")",
            "upstream-server-name = \(c.upstreamTLS?.serverName ?? "default")",
            "upstream-cert = \(c.upstreamTLS?.certificateFile ?? "none")",
            "upstream-key = \(c.upstreamTLS?.keyFile ?? "none")",
            "upstream-insecure = \(c.upstreamTLS?.insecure ?? false)",
            "collector-ca = \(c.collectorTLS.caFile ?? "system")",
            "collector-cert = \(c.collectorTLS.certificateFile ?? "none")",
            "collector-key = \(c.collectorTLS.keyFile ?? "none")",
            "demo = \(c.demo)",
            "service-name = \(c.serviceName)",
            "admin = \(c.admin.map { "\($0)" } ?? "off")",
            "threads = \(c.threads)",
            "trace-view = \(c.traceView)",
            "trace-view-spans = \(c.traceViewSpans)",
            "trace-ui-url = \(c.traceUIURL ?? "none")",
            "reporter = \(c.reporters.isEmpty ? "none" : c.reporters.map(\.description).joined(separator: " "))",
            "sampler = \(c.sampler)",
            "propagation = \(c.propagation.isEmpty ? "none" : c.propagation.map(\.rawValue).joined(separator: ","))",
            "ignore-incoming-context = \(c.ignoreIncomingContext)",
            "span-kind = \(c.spanKind.rawValue)",
            "collapse-ids = \(c.collapsePathIDs)",
            "span-attributes = \(c.attributeNames?.rawValue ?? "default")",
            "trust-forwarded = \(c.trustForwarded)",
            "routes = \(c.routes.isEmpty ? "none" : c.routes.routes.joined(separator: " "))",
            "no-trace-paths = \(c.untracedPaths.isEmpty ? "none" : c.untracedPaths.joined(separator: " "))",
            "capture-request-headers = \(c.captureRequestHeaders.isEmpty ? "none" : c.captureRequestHeaders.joined(separator: ","))",
            "capture-response-headers = \(c.captureResponseHeaders.isEmpty ? "none" : c.captureResponseHeaders.joined(separator: ","))",
            "redact-query = \(c.redactQuery)",
            "traceresponse = \(c.traceResponse)",
            "flush-interval-ms = \(c.flushIntervalMs)",
            "max-batch-spans = \(c.maxBatchSpans)",
            "max-queue-spans = \(c.maxQueueSpans)",
            "max-packet-bytes = \(c.maxPacketBytes)",
            "zipkin-gzip = \(c.zipkinGzip)",
            "otlp-protocol = \(c.otlp.encoding.rawValue)",
            "otlp-compression = \(c.otlp.gzip ? "gzip" : "none")",
            // Header values can be credentials (API keys): names only.
            "otlp-headers = \(c.otlp.headers.isEmpty ? "none" : c.otlp.headers.map(\.name).joined(separator: ","))",
            "otlp-timeout-ms = \(c.otlp.timeoutMs)",
            "resource-attributes = \(c.otlp.resourceAttributes.isEmpty ? "none" : c.otlp.resourceAttributes.map(Self.attribute).joined(separator: ","))",
            "allow-connect = \(c.allowConnect)",
            "headers-with-underscores = \(c.headersWithUnderscores.rawValue)",
            "max-header-bytes = \(c.maxHeaderBytes)",
            "max-headers = \(c.maxHeaders)",
            "max-connections = \(c.maxConnections)",
            "upstream-max-idle = \(c.upstreamMaxIdle)",
            "header-timeout-ms = \(c.headerTimeoutMs)",
            "idle-timeout-ms = \(c.idleTimeoutMs)",
            "body-timeout-ms = \(c.bodyTimeoutMs)",
            "upstream-connect-timeout-ms = \(c.upstreamConnectTimeoutMs)",
            "upstream-timeout-ms = \(c.upstreamTimeoutMs)",
            "send-timeout-ms = \(c.sendTimeoutMs)",
            "drain-timeout-ms = \(c.drainTimeoutMs)",
            "dns-refresh-ms = \(c.dnsRefreshMs)",
            "access-log = \(c.accessLog ?? "none")",
            "access-log-format = \(c.accessLogJSON ? "json" : "text")",
            "request-id = \(c.requestID.rawValue)",
            "log-level = \(c.logLevel.rawValue)",
        ]
    }

    private static func attribute(_ tag: Tag) -> String {
        if case .string(let v) = tag.value { return "\(tag.key)=\(v)" }
        return tag.key
    }
}
