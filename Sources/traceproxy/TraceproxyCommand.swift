import ArgumentParser
import Proxy

/// The `traceproxy` command line: raw flag values, exactly as typed.
///
/// Every value is taken as a string and checked by `ConfigBuilder`, not by ArgumentParser's typed
/// parsing, so that every mistake produces the same one-line message naming the flag and what it
/// expects, and so that environment variables and flags go through the same grammar. Defaults in
/// the help text are read from `ProxyConfig()`, the single place they are defined.
struct TraceproxyCommand: ParsableCommand {
    static let defaults = ProxyConfig()

    static let configuration = CommandConfiguration(
        commandName: "traceproxy",
        abstract: "An HTTP/1.1 reverse proxy that traces every request to OTLP, Jaeger or Zipkin.",
        discussion: """
            traceproxy continues the trace from incoming W3C traceparent, B3 or Jaeger \
            uber-trace-id headers, injects its own span context into the forwarded request and \
            reports one span per request.

            ENVIRONMENT (flags win; an empty variable counts as unset)
              OTEL_SERVICE_NAME     service name, before JAEGER_SERVICE_NAME
              JAEGER_SERVICE_NAME   service name
              JAEGER_AGENT_HOST     a Jaeger agent to report to when no --reporter
                                    is given (default host 127.0.0.1)
              JAEGER_AGENT_PORT     its UDP port (default 6831)
              JAEGER_SAMPLER_TYPE   const, probabilistic or ratelimiting
              JAEGER_SAMPLER_PARAM  1/0 for const, P for probabilistic, N traces
                                    per second for ratelimiting
              OTEL_TRACES_SAMPLER   always_on, always_off, traceidratio,
                                    parentbased_always_on, parentbased_always_off
                                    or parentbased_traceidratio; wins over
                                    JAEGER_SAMPLER_*
              OTEL_TRACES_SAMPLER_ARG  the ratio for *traceidratio (default 1.0)
              OTEL_PROPAGATORS      tracecontext, b3 (single header), b3multi,
                                    jaeger, baggage (always forwarded), or none;
                                    sets --propagation
              OTEL_TRACES_EXPORTER  otlp, zipkin, console, jaeger, none (unless
                                    a reporter flag is given)
              OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
                                    an OTLP/HTTP collector (alone, it implies
                                    OTLP); ..._HEADERS, _PROTOCOL, _COMPRESSION,
                                    _TIMEOUT, _CERTIFICATE, _CLIENT_KEY,
                                    _CLIENT_CERTIFICATE (and _TRACES_ forms)
              OTEL_RESOURCE_ATTRIBUTES  key=value,... on every OTLP batch
              OTEL_SEMCONV_STABILITY_OPT_IN  http or http/dup: --span-attributes
              OTEL_SDK_DISABLED     true: no reporter from the environment

            SIGHUP re-reads --config and the certificates and applies what can change without a \
            restart; SIGTERM or SIGINT drains and exits.

            Exit status: 0 after a graceful shutdown (SIGTERM or SIGINT), 1 when start-up \
            fails, 2 for a bad flag, environment variable or config file.
            """
    )

    // MARK: Configuration

    @Option(
        name: .customLong("config"),
        help: .init(
            """
            A YAML file of settings named like these flags without the dashes (listen: \
            0.0.0.0:8080, reporter: [otlp+http://collector:4318]); flags win over the environment, \
            which wins over the file; SIGHUP reads it again (default: none).
            """,
            valueName: "FILE"))
    var config: String?

    @Flag(name: .customLong("version"), help: "Print the version and exit.")
    var version = false

    @Flag(
        name: .customLong("healthcheck"),
        help: """
            Ask a running traceproxy's admin listener (--admin, or the config file's admin) for \
            /healthz and exit 0 if it answers 200, 1 otherwise: a container HEALTHCHECK without curl.
            """)
    var healthcheck = false

    // MARK: Serving

    @Option(
        name: .customLong("listen"),
        help: .init(
            "Address to accept plain-HTTP clients on, or off (default: \(defaults.listen.map { "\($0)" } ?? "off")).",
            valueName: "HOST:PORT|off")
    )
    var listen: String?

    @Option(
        name: .customLong("upstream"),
        help: .init(
            "The service behind the proxy; required unless --demo.", valueName: "http[s]://HOST:PORT")
    )
    var upstream: String?

    @Flag(
        name: .customLong("demo"),
        help: """
            Serve a built-in demo upstream, send a request every couple of seconds, print spans \
            to stdout unless a reporter is given, and turn on the trace view (default: off).
            """
    )
    var demo = false

    @Option(
        name: .customLong("service-name"),
        help: .init("Service name on every span (default: \(defaults.serviceName)).", valueName: "NAME")
    )
    var serviceName: String?

    @Option(
        name: .customLong("admin"),
        help: .init(
            "Admin endpoint for /healthz and /metrics; off or none disables it (default: \(defaults.admin.map { "\($0)" } ?? "off")).",
            valueName: "HOST:PORT|off")
    )
    var admin: String?

    @Flag(
        name: .customLong("trace-view"),
        help: """
            Serve a live traces and latency page at /traces on the admin listener, with its JSON \
            API under /api/ (default: off; on with --demo).
            """)
    var traceView = false

    @Option(
        name: .customLong("trace-view-spans"),
        help: .init(
            "Recent spans the trace view keeps, besides the failed and slowest ones (default: \(defaults.traceViewSpans)).",
            valueName: "N"))
    var traceViewSpans: String?

    @Option(
        name: .customLong("trace-ui-url"),
        help: .init(
            "A Jaeger or Zipkin UI the trace view links each trace to; {trace_id} is replaced by the id (default: none).",
            valueName: "URL"))
    var traceUIURL: String?

    @Option(
        name: .customLong("threads"),
        help: .init("Event loops; 0 means one per core (default: \(defaults.threads)).", valueName: "N")
    )
    var threads: String?

    // MARK: TLS

    @Option(
        name: .customLong("listen-tls"),
        help: .init(
            "Also accept HTTPS clients here; needs --tls-cert and --tls-key (default: off).", valueName: "HOST:PORT"))
    var listenTLS: String?

    @Option(
        name: .customLong("tls-cert"),
        help: .init(
            "The HTTPS listener's certificate chain (PEM, certificate first); reloaded on SIGHUP (default: required with --listen-tls).",
            valueName: "FILE"))
    var tlsCert: String?

    @Option(
        name: .customLong("tls-key"),
        help: .init("The HTTPS listener's private key (PEM); reloaded on SIGHUP.", valueName: "FILE"))
    var tlsKey: String?

    @Option(
        name: .customLong("tls-client-ca"),
        help: .init(
            "Require HTTPS clients to show a certificate signed by these CAs (mTLS) (default: off).", valueName: "FILE")
    )
    var tlsClientCA: String?

    @Option(
        name: .customLong("tls-ciphers"),
        help: .init("TLS 1.2 cipher list, OpenSSL syntax (default: OpenSSL's).", valueName: "LIST"))
    var tlsCiphers: String?

    @Option(
        name: .customLong("tls-min-version"),
        help: .init("Oldest TLS version accepted: 1.2 or 1.3 (default: 1.2).", valueName: "VERSION"))
    var tlsMinVersion: String?

    @Option(
        name: .customLong("tls-handshake-timeout-ms"),
        help: .init("Time a client has to finish the TLS handshake (default: 10000).", valueName: "MS"))
    var tlsHandshakeTimeoutMs: String?

    @Option(
        name: .customLong("upstream-ca"),
        help: .init(
            "Trust these CAs for an https:// upstream instead of the system store (default: the system store).",
            valueName: "FILE"))
    var upstreamCA: String?

    @Option(
        name: .customLong("upstream-server-name"),
        help: .init(
            "The name (or IP) the upstream's certificate must carry, sent as SNI (default: the URL's host).",
            valueName: "NAME"))
    var upstreamServerName: String?

    @Option(
        name: .customLong("upstream-cert"),
        help: .init(
            "Client certificate (PEM) shown to an https:// upstream; needs --upstream-key (default: none).",
            valueName: "FILE"))
    var upstreamCert: String?

    @Option(
        name: .customLong("upstream-key"),
        help: .init("Private key (PEM) for --upstream-cert (default: none).", valueName: "FILE"))
    var upstreamKey: String?

    @Flag(
        name: .customLong("upstream-insecure"),
        help: "Do not verify the https:// upstream's certificate (warned about at start-up; default: verify).")
    var upstreamInsecure = false

    @Option(
        name: .customLong("collector-ca"),
        help: .init(
            "Trust these CAs for zipkin+https:// collectors instead of the system store (default: the system store).",
            valueName: "FILE"))
    var collectorCA: String?

    @Option(
        name: .customLong("collector-cert"),
        help: .init(
            "Client certificate (PEM) shown to zipkin+https:// collectors; needs --collector-key (default: none).",
            valueName: "FILE"))
    var collectorCert: String?

    @Option(
        name: .customLong("collector-key"),
        help: .init("Private key (PEM) for --collector-cert (default: none).", valueName: "FILE"))
    var collectorKey: String?

    // MARK: Tracing

    @Option(
        name: .customLong("reporter"),
        help: .init(
            """
            Where spans go; repeat for several: otlp+http[s]://HOST[:PORT][/PATH] (default port \
            4318, path /v1/traces), jaeger-udp://HOST:PORT, zipkin+http[s]://HOST:PORT[/PATH] \
            (default path /api/v2/spans), stdout, none (default: from OTEL_TRACES_EXPORTER and \
            OTEL_EXPORTER_OTLP_*ENDPOINT, or a Jaeger agent from JAEGER_AGENT_HOST/PORT, or none; \
            stdout with --demo).
            """,
            valueName: "URL")
    )
    var reporter: [String] = []

    @Option(
        name: .customLong("sampler"),
        help: .init(
            """
            const:1, const:0, probabilistic:P or ratelimiting:N per second, which follow a caller's \
            decision (parentbased_always_on, parentbased_always_off and parentbased_traceidratio:P \
            are the first three); always_on, always_off or traceidratio:P, which do not \
            (default: const:1).
            """,
            valueName: "SPEC")
    )
    var sampler: String?

    @Option(
        name: .customLong("propagation"),
        help: .init(
            """
            Formats read (first valid wins, in this order) and written: w3c (tracecontext), b3 \
            (the X-B3-* headers; b3multi), b3single (the b3 header), jaeger; baggage (always \
            forwarded); or none (default: \(defaults.propagation.map(\.rawValue).joined(separator: ","))).
            """,
            valueName: "LIST")
    )
    var propagation: String?

    @Flag(
        name: .customLong("ignore-incoming-context"),
        help: """
            Start a new trace for every request, as an edge in front of untrusted callers; a \
            valid incoming context is kept as the span's link (default: continue it).
            """)
    var ignoreIncomingContext = false

    @Option(
        name: .customLong("span-kind"),
        help: .init(
            "server (in front of a service) or client (on its way out) (default: \(defaults.spanKind.rawValue)).",
            valueName: "KIND")
    )
    var spanKind: String?

    @Flag(
        name: .customLong("no-collapse-ids"),
        help: "Keep id-like path segments in operation names instead of {id} (default: collapse).")
    var noCollapseIDs = false

    @Option(
        name: .customLong("span-attributes"),
        help: .init(
            """
            Span attribute names: legacy (OpenTracing's http.method, http.status_code, ...), stable \
            (OpenTelemetry's http.request.method, http.response.status_code, ...) or both (default: \
            stable for OTLP, legacy for Jaeger, Zipkin and stdout; OTEL_SEMCONV_STABILITY_OPT_IN=http \
            or http/dup sets stable or both).
            """, valueName: "legacy|stable|both"))
    var spanAttributes: String?

    @Option(
        name: .customLong("route"),
        help: .init(
            "A route template naming spans and http.route, repeatable: /users/{id}, /files/* (default: none).",
            valueName: "TEMPLATE"))
    var route: [String] = []

    @Option(
        name: .customLong("routes-file"),
        help: .init("A file of route templates, one per line, # comments (default: none).", valueName: "FILE"))
    var routesFile: String?

    @Option(
        name: .customLong("no-trace-path"),
        help: .init(
            "Forward requests for this path (or prefix*) without a span, their context passed on; repeatable (default: none).",
            valueName: "PATH"))
    var noTracePath: [String] = []

    @Option(
        name: .customLong("capture-request-header"),
        help: .init(
            "Record this request field as http.request.header.<name>; repeatable (default: none).", valueName: "NAME"))
    var captureRequestHeader: [String] = []

    @Option(
        name: .customLong("capture-response-header"),
        help: .init(
            "Record this response field as http.response.header.<name>; repeatable (default: none).", valueName: "NAME")
    )
    var captureResponseHeader: [String] = []

    @Flag(
        name: .customLong("redact-query"),
        help: "Record query strings with their values replaced by REDACTED, keys kept (default: off).")
    var redactQuery = false

    @Flag(
        name: .customLong("trust-forwarded"),
        help: "The peer is a trusted proxy: client.address from Forwarded or X-Forwarded-For (default: the peer).")
    var trustForwarded = false

    @Flag(
        name: .customLong("no-traceresponse"),
        help: "Do not send the W3C traceresponse header to clients (default: send).")
    var noTraceResponse = false

    @Option(
        name: .customLong("flush-interval-ms"),
        help: .init(
            "Longest a finished span waits in the queue (default: \(defaults.flushIntervalMs)).",
            valueName: "MS")
    )
    var flushIntervalMs: String?

    @Option(
        name: .customLong("max-batch-spans"),
        help: .init(
            "Spans per Jaeger datagram or Zipkin POST (default: \(defaults.maxBatchSpans)).",
            valueName: "N")
    )
    var maxBatchSpans: String?

    @Option(
        name: .customLong("max-queue-spans"),
        help: .init(
            "Spans held for reporting before new ones are dropped (default: \(defaults.maxQueueSpans)).",
            valueName: "N")
    )
    var maxQueueSpans: String?

    @Option(
        name: .customLong("max-packet-bytes"),
        help: .init(
            "Largest Jaeger UDP datagram, \(ConfigBuilder.packetBytesRange.lowerBound) to \(ConfigBuilder.packetBytesRange.upperBound) (default: \(defaults.maxPacketBytes)).",
            valueName: "BYTES")
    )
    var maxPacketBytes: String?

    @Flag(
        name: .customLong("zipkin-gzip"),
        help: "Gzip Zipkin POST bodies (default: off).")
    var zipkinGzip = false

    @Option(
        name: .customLong("otlp-protocol"),
        help: .init("OTLP body encoding: http/protobuf or http/json (default: http/protobuf).", valueName: "PROTOCOL"))
    var otlpProtocol: String?

    @Option(
        name: .customLong("otlp-compression"),
        help: .init("Compress OTLP bodies: gzip or none (default: none).", valueName: "gzip|none"))
    var otlpCompression: String?

    @Option(
        name: .customLong("otlp-header"),
        help: .init("Extra field on OTLP requests, repeatable (default: none).", valueName: "NAME=VALUE"))
    var otlpHeader: [String] = []

    @Option(
        name: .customLong("otlp-timeout-ms"),
        help: .init("Time one OTLP batch may take, retries included (default: 10000).", valueName: "MS"))
    var otlpTimeoutMs: String?

    // MARK: Request rules

    @Flag(
        name: .customLong("allow-connect"),
        help: """
            Forward CONNECT requests and tunnel after the upstream's 2xx; without it CONNECT gets \
            405 (default: off).
            """
    )
    var allowConnect = false

    @Option(
        name: .customLong("headers-with-underscores"),
        help: .init(
            """
            Request fields whose name has an underscore: drop them (counted in /metrics), reject \
            the request with 400, or allow them (never as a framing or hop-by-hop field) \
            (default: \(defaults.headersWithUnderscores.rawValue)).
            """,
            valueName: "drop|reject|allow")
    )
    var headersWithUnderscores: String?

    // MARK: Limits and timeouts

    @Option(
        name: .customLong("max-header-bytes"),
        help: .init(
            "Largest request head; larger gets 431 (default: \(defaults.maxHeaderBytes)).",
            valueName: "BYTES")
    )
    var maxHeaderBytes: String?

    @Option(
        name: .customLong("max-headers"),
        help: .init(
            "Most header fields in a request; more gets 431 (default: \(defaults.maxHeaders)).",
            valueName: "N")
    )
    var maxHeaders: String?

    @Option(
        name: .customLong("max-connections"),
        help: .init(
            "Most client connections at once (default: \(defaults.maxConnections)).", valueName: "N")
    )
    var maxConnections: String?

    @Option(
        name: .customLong("upstream-max-idle"),
        help: .init(
            "Idle keep-alive connections kept open to the upstream (default: \(defaults.upstreamMaxIdle)).",
            valueName: "N")
    )
    var upstreamMaxIdle: String?

    @Option(
        name: .customLong("header-timeout-ms"),
        help: .init(
            "Time to receive a request head; then 408 (default: \(defaults.headerTimeoutMs)).",
            valueName: "MS")
    )
    var headerTimeoutMs: String?

    @Option(
        name: .customLong("idle-timeout-ms"),
        help: .init(
            "Idle keep-alive connections are closed after this (default: \(defaults.idleTimeoutMs)).",
            valueName: "MS")
    )
    var idleTimeoutMs: String?

    @Option(
        name: .customLong("body-timeout-ms"),
        help: .init(
            "Longest pause while a body is in transit (default: \(defaults.bodyTimeoutMs)).",
            valueName: "MS")
    )
    var bodyTimeoutMs: String?

    @Option(
        name: .customLong("upstream-connect-timeout-ms"),
        help: .init(
            "Time to connect to the upstream; then 502 (default: \(defaults.upstreamConnectTimeoutMs)).",
            valueName: "MS")
    )
    var upstreamConnectTimeoutMs: String?

    @Option(
        name: .customLong("upstream-timeout-ms"),
        help: .init(
            "Time to wait for the upstream's response head; then 504 (default: \(defaults.upstreamTimeoutMs)).",
            valueName: "MS")
    )
    var upstreamTimeoutMs: String?

    @Option(
        name: .customLong("send-timeout-ms"),
        help: .init(
            """
            Longest time a client may read none of the output queued for it; then the connection \
            is closed (default: \(defaults.sendTimeoutMs)).
            """,
            valueName: "MS")
    )
    var sendTimeoutMs: String?

    @Option(
        name: .customLong("drain-timeout-ms"),
        help: .init(
            "On SIGTERM/SIGINT, time left for requests in flight (default: \(defaults.drainTimeoutMs)).",
            valueName: "MS")
    )
    var drainTimeoutMs: String?

    @Option(
        name: .customLong("dns-refresh-ms"),
        help: .init(
            """
            How often the upstream's and collectors' host names are resolved again; a name that \
            does not resolve yet is retried sooner, with backoff (default: \(defaults.dnsRefreshMs)).
            """,
            valueName: "MS")
    )
    var dnsRefreshMs: String?

    // MARK: Logs and diagnostics

    @Option(
        name: .customLong("access-log"),
        help: .init("Access log file, or - for stdout (default: none).", valueName: "PATH|-")
    )
    var accessLog: String?

    @Option(
        name: .customLong("access-log-format"),
        help: .init(
            "text (one line per request) or json (one object per line) (default: text).", valueName: "text|json"))
    var accessLogFormat: String?

    @Option(
        name: .customLong("request-id"),
        help: .init(
            """
            X-Request-Id: generate one when the client sent none, pass the client's on, or off; \
            recorded on the span and in the access log (default: generate).
            """, valueName: "generate|pass|off"))
    var requestID: String?

    @Option(
        name: .customLong("log-level"),
        help: .init(
            "Least severe message logged: debug, info, warning or error (default: \(defaults.logLevel.rawValue)).",
            valueName: "LEVEL"))
    var logLevel: String?

    @Flag(
        name: .customLong("print-config"),
        help: "Print the effective configuration (flags merged with the environment) and exit.")
    var printConfig = false
}
