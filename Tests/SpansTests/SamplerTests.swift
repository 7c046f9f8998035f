import Propagation
import Spans
import Stats
import Synchronization
import XCTest

final class SamplerTests: XCTestCase {
    func test_constSampler_returnsDecision() {
        var g = SplitMix64(seed: 1)
        for _ in 0..<100 {
            let id = TraceID.random(using: &g)
            XCTAssertTrue(ConstSampler(true).shouldSample(traceID: id))
            XCTAssertFalse(ConstSampler(false).shouldSample(traceID: id))
        }
    }

    func test_probabilisticSampler_fractionWithinBounds() {
        // Binomial(n=20000, p): 5 standard deviations is at most ~354 traces.
        // SplitMix64, not SystemRandomNumberGenerator: TSan crashes on the latter passed inout
        // to generic code (swiftlang/swift#66099).
        var g = SplitMix64()
        let n = 20_000
        for rate in [0.01, 0.1, 0.5, 0.9] {
            let s = ProbabilisticSampler(rate: rate)
            var hits = 0
            for _ in 0..<n where s.shouldSample(traceID: TraceID.random(using: &g)) { hits += 1 }
            let sd = (Double(n) * rate * (1 - rate)).squareRoot()
            XCTAssertEqual(Double(hits), Double(n) * rate, accuracy: 5 * sd, "rate \(rate)")
        }
    }

    func test_probabilisticSampler_extremes() {
        // SplitMix64, not SystemRandomNumberGenerator: TSan crashes on the latter passed inout
        // to generic code (swiftlang/swift#66099).
        var g = SplitMix64()
        let ids =
            (0..<1000).map { _ in TraceID.random(using: &g) } + [
                TraceID(high: 0, low: .max), TraceID(high: 0, low: 1 << 63),
                TraceID(high: 0, low: (1 << 63) - 1),
            ]
        for id in ids {
            XCTAssertTrue(ProbabilisticSampler(rate: 1).shouldSample(traceID: id))
            XCTAssertFalse(ProbabilisticSampler(rate: 0).shouldSample(traceID: id))
        }
    }

    func test_probabilisticSampler_deterministicPerTraceAndMonotoneInRate() {
        var g = SplitMix64(seed: 99)
        for _ in 0..<1000 {
            let id = TraceID.random(using: &g)
            let low = ProbabilisticSampler(rate: 0.2).shouldSample(traceID: id)
            XCTAssertEqual(low, ProbabilisticSampler(rate: 0.2).shouldSample(traceID: id))
            if low { XCTAssertTrue(ProbabilisticSampler(rate: 0.7).shouldSample(traceID: id)) }
        }
    }

    func test_rateLimitingSampler_burstThenRefillWithManualClock() {
        let clock = ManualClock()
        let s = RateLimitingSampler(tracesPerSecond: 5, clock: clock.read)
        let id = TraceID(high: 0, low: 1)
        XCTAssertEqual((0..<10).filter { _ in s.shouldSample(traceID: id) }.count, 5, "burst of 5")
        clock.advance(0.1)
        XCTAssertFalse(s.shouldSample(traceID: id), "half a credit")
        clock.advance(0.1)
        XCTAssertTrue(s.shouldSample(traceID: id), "one credit after 0.2 s")
        XCTAssertFalse(s.shouldSample(traceID: id))
        clock.advance(100)
        XCTAssertEqual((0..<10).filter { _ in s.shouldSample(traceID: id) }.count, 5, "capped at 5")
    }

    func test_rateLimitingSampler_fractionalRate_oneTraceBurst() {
        let clock = ManualClock()
        let s = RateLimitingSampler(tracesPerSecond: 0.5, clock: clock.read)
        let id = TraceID(high: 0, low: 1)
        XCTAssertTrue(s.shouldSample(traceID: id))
        XCTAssertFalse(s.shouldSample(traceID: id))
        clock.advance(1)
        XCTAssertFalse(s.shouldSample(traceID: id))
        clock.advance(1)
        XCTAssertTrue(s.shouldSample(traceID: id))
    }

    func test_rateLimitingSampler_zero_neverSamples() {
        let clock = ManualClock()
        let s = RateLimitingSampler(tracesPerSecond: 0, clock: clock.read)
        clock.advance(10)
        XCTAssertFalse(s.shouldSample(traceID: TraceID(high: 0, low: 1)))
    }

    func test_rateLimitingSampler_concurrentCallers_neverExceedBudget() {
        let clock = ManualClock()
        let s = RateLimitingSampler(tracesPerSecond: 100, clock: clock.read)
        let count = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 1000) { _ in
            if s.shouldSample(traceID: TraceID(high: 0, low: 1)) {
                count.add(1, ordering: .relaxed)
            }
        }
        XCTAssertEqual(count.load(ordering: .relaxed), 100)
    }
}

/// A clock that moves only when told to.
final class ManualClock: Sendable {
    private let now = Locked<Double>(1000)

    var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }

    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
}
