import Propagation
import Stats

/// Samples at most N new traces per second (`--sampler ratelimiting:N`).
///
/// A token bucket like jaeger-client's rate limiter: credits accrue at N per second up to a
/// balance of `max(N, 1)` (so fractional rates still sample whole traces), the bucket starts
/// full, and each sampled trace spends one credit. Shared by all event loops, hence the mutex;
/// the clock is injected so tests step time instead of sleeping.
public final class RateLimitingSampler: Sampler {
    /// Seconds on a monotonic clock.
    public typealias Clock = @Sendable () -> Double

    public let tracesPerSecond: Double
    let maxBalance: Double
    private let clock: Clock
    private let state: Locked<State>

    struct State {
        var balance: Double
        var lastTick: Double
    }

    public init(
        tracesPerSecond: Double, clock: @escaping Clock = RateLimitingSampler.monotonicSeconds
    ) {
        let rate = tracesPerSecond.isFinite ? max(tracesPerSecond, 0) : 0
        self.tracesPerSecond = rate
        self.maxBalance = rate > 0 ? max(rate, 1) : 0
        self.clock = clock
        self.state = Locked(State(balance: maxBalance, lastTick: clock()))
    }

    public func shouldSample(traceID: TraceID) -> Bool {
        guard tracesPerSecond > 0 else { return false }
        let now = clock()
        return state.withLock { s in
            let elapsed = now - s.lastTick
            if elapsed > 0 {
                s.balance = min(maxBalance, s.balance + elapsed * tracesPerSecond)
                s.lastTick = now
            }
            guard s.balance >= 1 else { return false }
            s.balance -= 1
            return true
        }
    }

    /// Seconds since an arbitrary fixed point, from the continuous (monotonic) clock.
    public static let monotonicSeconds: Clock = {
        let origin = ContinuousClock.now
        return {
            let d = ContinuousClock.now - origin
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
    }()
}
