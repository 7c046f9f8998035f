import Propagation

/// Whether the proxy's span is the server side of the hop (in front of a service) or the client
/// side (a proxy on a service's outgoing path, `--span-kind client`).
public enum SpanKind: String, Sendable {
    case server, client
}

/// A tag value keeps its type: Jaeger has typed tags, Zipkin stringifies them.
public enum TagValue: Equatable, Sendable {
    case string(String)
    case bool(Bool)
    case long(Int64)
    case double(Double)
}

public struct Tag: Equatable, Sendable {
    public var key: String
    public var value: TagValue

    public init(_ key: String, _ value: TagValue) {
        self.key = key
        self.value = value
    }
}

/// A timestamped event on a span (Jaeger log, Zipkin annotation).
public struct SpanLog: Equatable, Sendable {
    public var timestampMicros: Int64
    public var fields: [Tag]

    public init(timestampMicros: Int64, fields: [Tag]) {
        self.timestampMicros = timestampMicros
        self.fields = fields
    }
}

/// An immutable record of a finished, sampled span, handed from an event loop to the reporters.
public struct FinishedSpan: Equatable, Sendable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// Zero for a root span.
    public var parentSpanID: SpanID
    public var operationName: String
    public var kind: SpanKind
    /// Microseconds since the Unix epoch.
    public var startMicros: Int64
    /// At least 1.
    public var durationMicros: Int64
    public var debug: Bool
    public var tags: [Tag]
    public var logs: [SpanLog]

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, operationName: String, kind: SpanKind,
        startMicros: Int64, durationMicros: Int64, debug: Bool = false, tags: [Tag] = [], logs: [SpanLog] = []
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.operationName = operationName
        self.kind = kind
        self.startMicros = startMicros
        self.durationMicros = durationMicros
        self.debug = debug
        self.tags = tags
        self.logs = logs
    }
}

/// The reporting process: Jaeger's `Process`, Zipkin's `localEndpoint`.
public struct ServiceProcess: Equatable, Sendable {
    public var serviceName: String
    /// hostname, ip, traceproxy.version ...
    public var tags: [Tag]
    /// What every span of the process shares; kept here once (every reporter is given the process)
    /// rather than copied into each record on the event loop.
    public var spanFacts: SpanFacts

    public init(serviceName: String, tags: [Tag] = [], spanFacts: SpanFacts = SpanFacts()) {
        self.serviceName = serviceName
        self.tags = tags
        self.spanFacts = spanFacts
    }
}

/// The per-process inputs to a span's tags and name (see `RenderedSpan.render(_:process:)`).
public struct SpanFacts: Equatable, Sendable {
    /// The `upstream.address` tag: the resolved upstream, `host:port`.
    public var upstreamAddress: String
    /// Stands in for the Host of a request that had none, in `http.url` (the proxy forwards such
    /// a request with this Host too).
    public var upstreamHost: String
    /// `--no-collapse-ids` turns this off.
    public var collapsePathIDs: Bool
    /// `--trust-forwarded`: the peer is a proxy whose `X-Forwarded-For`/`Forwarded` names the
    /// client (`client.address`).
    public var trustForwarded: Bool
    /// `--span-attributes` or `OTEL_SEMCONV_STABILITY_OPT_IN`; nil leaves each reporter its
    /// default (stable names for OTLP, legacy for Jaeger, Zipkin and stdout).
    public var attributeNames: AttributeNames?
    /// `--route`: templates that name spans and set `http.route`.
    public var routes: RouteTable
    /// `--capture-request-header` / `--capture-response-header` (lower case).
    public var capturedRequestHeaders: [String]
    /// `--redact-query`: query values become `REDACTED`, only the keys are kept.
    public var redactQuery: Bool
    /// Record `X-Request-Id` as `http.request.header.x-request-id` (`--request-id` not `off`).
    public var recordRequestID = true

    public init(
        upstreamAddress: String = "", upstreamHost: String = "", collapsePathIDs: Bool = true,
        trustForwarded: Bool = false, attributeNames: AttributeNames? = nil, routes: RouteTable = RouteTable(),
        capturedRequestHeaders: [String] = [], redactQuery: Bool = false
    ) {
        self.routes = routes
        self.capturedRequestHeaders = capturedRequestHeaders
        self.redactQuery = redactQuery
        self.upstreamAddress = upstreamAddress
        self.upstreamHost = upstreamHost
        self.collapsePathIDs = collapsePathIDs
        self.trustForwarded = trustForwarded
        self.attributeNames = attributeNames
    }
}

/// Which attribute names a span gets (`--span-attributes`, `OTEL_SEMCONV_STABILITY_OPT_IN`):
/// OpenTracing's, which Jaeger and Zipkin dashboards are built on, OpenTelemetry's stable HTTP
/// conventions, or both.
public enum AttributeNames: String, Sendable, CaseIterable {
    case legacy
    case stable
    case both
}
