/// The configured sampler: a root sampler, and whether the caller's decision comes first.
///
/// The root samplers are Jaeger's (`const`, `probabilistic`, `ratelimiting`), which OpenTelemetry's
/// `always_on`, `always_off` and `traceidratio` are as well (same decisions, same trace-id rule).
/// `parentBased` is OpenTelemetry's ParentBased: a request whose caller sent a decision (a
/// sampled flag, or debug) gets that decision, and the root sampler decides only for the others.
/// Jaeger's samplers have always been parent-based here (as jaeger clients are for a sampled
/// parent), so `const:1` is `parentbased_always_on`; the samplers that are not (`always_on`,
/// `always_off`, `traceidratio`) decide every request themselves, whatever the caller said.
///
/// Built only through the named constructors, so that every value has a `--sampler` spelling.
public struct SamplerConfig: Equatable, Sendable {
    public enum Root: Equatable, Sendable {
        case const(Bool)
        /// A fraction of the trace-id space, 0 to 1 (`ProbabilisticSampler`).
        case probabilistic(Double)
        /// Traces per second (`RateLimitingSampler`).
        case rateLimiting(Double)
    }

    public let root: Root
    /// Whether an incoming decision is followed (OpenTelemetry's `parentbased_*`).
    public let parentBased: Bool

    private init(_ root: Root, parentBased: Bool) {
        self.root = root
        self.parentBased = parentBased
    }

    /// `const:1|const:0`: `parentbased_always_on|parentbased_always_off`.
    public static func const(_ on: Bool) -> SamplerConfig { SamplerConfig(.const(on), parentBased: true) }
    /// `probabilistic:P`: `parentbased_traceidratio` with ratio P.
    public static func probabilistic(_ p: Double) -> SamplerConfig {
        SamplerConfig(.probabilistic(p), parentBased: true)
    }
    /// `ratelimiting:N` (Jaeger only; parent-based).
    public static func rateLimiting(_ n: Double) -> SamplerConfig { SamplerConfig(.rateLimiting(n), parentBased: true) }
    /// `always_on`: every request, whatever the caller decided.
    public static let alwaysOn = SamplerConfig(.const(true), parentBased: false)
    /// `always_off`: no request, whatever the caller decided (debug included).
    public static let alwaysOff = SamplerConfig(.const(false), parentBased: false)
    /// `traceidratio:P`: the trace id decides, whatever the caller decided.
    public static func traceIDRatio(_ p: Double) -> SamplerConfig {
        SamplerConfig(.probabilistic(p), parentBased: false)
    }
}
