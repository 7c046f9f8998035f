/// The parsed form of `--sampler const:1|const:0|probabilistic:P|ratelimiting:N`.
public enum SamplerConfig: Equatable, Sendable {
    case const(Bool)
    case probabilistic(Double)
    case rateLimiting(Double)
}
