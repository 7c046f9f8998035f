import Propagation

/// Samples every trace or none (`--sampler const:1|const:0`, `always_on`, `always_off`).
public struct ConstSampler: Sampler {
    public let decision: Bool

    public init(_ decision: Bool) { self.decision = decision }

    public func shouldSample(traceID: TraceID) -> Bool { decision }
}
