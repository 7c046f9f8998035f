import Propagation
import Reactor
import Reporters
import Spans
import Stats

/// What every loop reads and nobody mutates (the pipeline and counters are thread-safe by
/// construction). A configuration reload builds a new one and hands it to each loop.
final class SharedState: Sendable {
    let config: ProxyConfig
    let registry: MetricsRegistry
    let metrics: ProxyMetrics
    let pipeline: SpanPipeline
    let propagator: Propagator
    let sampler: TraceSampler
    let upstreamAddress: SocketAddress
    /// `host:port` for a request without Host, and for the span's http.url.
    let upstreamHostHeader: String
    let upstreamDescription: String
    /// Incoming fields the proxy rewrites rather than forwards.
    let requestExcluded: Set<String>
    /// The fields the proxy rewrites on an untraced request (its X-Forwarded-*; the context
    /// headers then pass through).
    let forwardedFieldNames: Set<String> = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]
    let untracedPaths: PathMatcher
    /// `--capture-response-header` names, lower case.
    let capturedResponseHeaders: [String]
    let requestRules: RequestRules
    let accessLog: AccessLogWriter?

    init(
        config: ProxyConfig, registry: MetricsRegistry, pipeline: SpanPipeline, upstream: HostPort,
        upstreamAddress: SocketAddress, accessLog: AccessLogWriter?
    ) {
        self.config = config
        self.registry = registry
        metrics = ProxyMetrics(registry: registry)
        self.pipeline = pipeline
        propagator = Propagator(formats: config.propagation)
        sampler = TraceSampler(config.sampler)
        self.upstreamAddress = upstreamAddress
        upstreamHostHeader = upstream.description
        upstreamDescription = upstreamAddress.description
        requestExcluded = propagator.ownedHeaderNames.union([
            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        ])
        requestRules = RequestRules(config)
        untracedPaths = PathMatcher(config.untracedPaths)
        capturedResponseHeaders = config.captureResponseHeaders
        self.accessLog = accessLog
    }
}
