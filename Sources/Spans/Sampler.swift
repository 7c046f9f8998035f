import Propagation

/// Decides whether a new trace (one without an incoming decision) is sampled.
///
/// Shared by all event loops, so implementations must be thread-safe; the const and probabilistic
/// samplers are stateless, the rate limiter takes a short lock only for new traces.
public protocol Sampler: Sendable {
    func shouldSample(traceID: TraceID) -> Bool
}
