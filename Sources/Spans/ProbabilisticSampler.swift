import Propagation

/// Samples a fraction of traces, decided by the trace id (`--sampler probabilistic:P`, and
/// OpenTelemetry's `traceidratio` / `parentbased_traceidratio`).
///
/// Like jaeger-client's probabilistic sampler, the decision compares the low 63 bits of the trace
/// id with `rate * 2^63`: deterministic per trace, so every hop using the same rule agrees, and
/// free of locks or random draws. Trace ids are random, so the fraction holds. A higher rate
/// samples every trace a lower one does, which OpenTelemetry asks of TraceIdRatioBased; its
/// specification leaves the exact comparison to each SDK (and the SDKs differ), so the rule the
/// proxy already had, jaeger-client's, serves both spellings.
public struct ProbabilisticSampler: Sampler {
    /// The configured rate, clamped to 0...1.
    public let rate: Double
    /// Ids whose low 63 bits are below this are sampled. 2^63 for rate 1 (all of them).
    let boundary: UInt64

    static let mask: UInt64 = (1 << 63) - 1

    public init(rate: Double) {
        let r = rate.isNaN ? 0 : min(max(rate, 0), 1)
        self.rate = r
        // 2^63 as a Double is exact, and r * 2^63 <= 2^63 fits UInt64.
        self.boundary = UInt64(r * 9_223_372_036_854_775_808.0)
    }

    public func shouldSample(traceID: TraceID) -> Bool {
        traceID.low & Self.mask < boundary
    }
}
