import Propagation

/// A root sampler: decides a request from its trace id alone. `TraceSampler` asks it for every
/// request whose caller left the decision to the proxy, or for every request when the
/// configuration is not parent-based.
///
/// Shared by all event loops, so implementations must be thread-safe; the const and probabilistic
/// samplers are stateless, the rate limiter takes a short lock only for new traces.
public protocol Sampler: Sendable {
    func shouldSample(traceID: TraceID) -> Bool
}

/// One request's sampling decision: the configured root sampler, and whether the caller's
/// decision comes first (`SamplerConfig.parentBased`, OpenTelemetry's ParentBased).
public struct TraceSampler: Sendable {
    public let config: SamplerConfig
    public let root: any Sampler

    public init(_ config: SamplerConfig) {
        self.config = config
        root = config.makeSampler()
    }

    /// `incomingSampled` is the caller's decision, nil when it made none (no context, or B3 ids
    /// without `X-B3-Sampled`, which the B3 specification calls deferring to the receiver);
    /// `incomingDebug` is its debug flag (B3 `X-B3-Flags: 1` or `d`, Jaeger flag 2 or
    /// `jaeger-debug-id`), which implies sampled.
    ///
    /// Parent-based: debug samples, a decision is followed, and the root sampler decides only
    /// when there is none. Otherwise the root sampler decides every request (OpenTelemetry:
    /// "MUST ignore the parent SampledFlag"), and debug is passed on only on a sampled request,
    /// so that no unsampled request goes out asking the next hop for debug.
    public func decide(traceID: TraceID, incomingSampled: Bool?, incomingDebug: Bool) -> (sampled: Bool, debug: Bool) {
        if config.parentBased {
            if incomingDebug { return (true, true) }
            return (incomingSampled ?? root.shouldSample(traceID: traceID), false)
        }
        let sampled = root.shouldSample(traceID: traceID)
        return (sampled, incomingDebug && sampled)
    }
}
