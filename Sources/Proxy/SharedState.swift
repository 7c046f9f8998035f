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
    /// The upstream's host, kept resolved in the background (connects read its current address).
    let upstreamName: ResolvedName
    /// `host:port` for a request without Host, and for the span's http.url.
    let upstreamHostHeader: String
    /// The address in use, or the name while it has none.
    var upstreamDescription: String { upstreamName.description }
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
        upstreamName: ResolvedName, accessLog: AccessLogWriter?
    ) {
        self.config = config
        self.registry = registry
        metrics = ProxyMetrics(registry: registry)
        self.pipeline = pipeline
        propagator = Propagator(formats: config.propagation)
        sampler = TraceSampler(config.sampler)
        self.upstreamName = upstreamName
        upstreamHostHeader = upstream.description
        requestExcluded = propagator.ownedHeaderNames.union([
            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        ])
        requestRules = RequestRules(config)
        untracedPaths = PathMatcher(config.untracedPaths)
        capturedResponseHeaders = config.captureResponseHeaders
        self.accessLog = accessLog
    }
}
