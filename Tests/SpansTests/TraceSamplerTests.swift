import Propagation
import Spans
import XCTest

/// The parent rule: `parentbased_*` (and Jaeger's samplers) follow the caller's decision,
/// `always_on`, `always_off` and `traceidratio` ignore it (OpenTelemetry "SDK Environment
/// Variables" and the TraceIdRatioBased sampler, which "MUST ignore the parent SampledFlag").
final class TraceSamplerTests: XCTestCase {
    /// The trace-id rule at ratio 0.5: the low 63 bits below 2^62 are sampled.
    let kept = TraceID(high: 7, low: 1)
    let dropped = TraceID(high: 7, low: (1 << 62) + 1)

    private func decide(
        _ config: SamplerConfig, _ id: TraceID, sampled: Bool?, debug: Bool = false
    ) -> (sampled: Bool, debug: Bool) {
        TraceSampler(config).decide(traceID: id, incomingSampled: sampled, incomingDebug: debug)
    }

    func test_ratioBoundary_idsOnEachSide() {
        XCTAssertTrue(ProbabilisticSampler(rate: 0.5).shouldSample(traceID: kept))
        XCTAssertFalse(ProbabilisticSampler(rate: 0.5).shouldSample(traceID: dropped))
    }

    func test_parentBased_followsTheCaller_rootDecidesOnlyWithoutADecision() {
        for config in [SamplerConfig.const(true), .const(false), .probabilistic(0.5)] {
            for id in [kept, dropped] {
                XCTAssertEqual(decide(config, id, sampled: true).sampled, true, "\(config)")
                XCTAssertEqual(decide(config, id, sampled: false).sampled, false, "\(config)")
                let debug = decide(config, id, sampled: true, debug: true)
                XCTAssertTrue(debug.sampled && debug.debug, "\(config): debug is followed")
            }
        }
        XCTAssertTrue(decide(.const(true), dropped, sampled: nil).sampled)
        XCTAssertFalse(decide(.const(false), kept, sampled: nil).sampled)
        XCTAssertTrue(decide(.probabilistic(0.5), kept, sampled: nil).sampled)
        XCTAssertFalse(decide(.probabilistic(0.5), dropped, sampled: nil).sampled)
        XCTAssertFalse(decide(.probabilistic(0.5), kept, sampled: nil).debug)
    }

    func test_notParentBased_ignoresTheCaller() {
        for sampled in [true, false, nil] as [Bool?] {
            XCTAssertTrue(decide(.alwaysOn, dropped, sampled: sampled).sampled)
            XCTAssertFalse(decide(.alwaysOff, kept, sampled: sampled).sampled)
            XCTAssertTrue(decide(.traceIDRatio(0.5), kept, sampled: sampled).sampled)
            XCTAssertFalse(decide(.traceIDRatio(0.5), dropped, sampled: sampled).sampled)
        }
    }

    /// Debug is a decision too: ignored with the rest, and passed on only with a sampled request
    /// (B3's debug means accept; it must not travel on an unsampled one).
    func test_notParentBased_debugIgnored_keptOnlyWhenSampled() {
        XCTAssertTrue(decide(.alwaysOn, kept, sampled: true, debug: true) == (true, true))
        XCTAssertTrue(decide(.alwaysOff, kept, sampled: true, debug: true) == (false, false))
        XCTAssertTrue(decide(.traceIDRatio(0.5), dropped, sampled: true, debug: true) == (false, false))
        XCTAssertTrue(decide(.traceIDRatio(0.5), kept, sampled: true, debug: true) == (true, true))
    }

    /// Every hop that uses the rule makes the same decision for a trace, whatever it was sent:
    /// the decision is the trace id's, not a random draw's.
    func test_traceIDRatio_sameDecisionAtEveryHop() {
        var g = SplitMix64(seed: 5)
        let first = TraceSampler(.traceIDRatio(0.3))
        let second = TraceSampler(.traceIDRatio(0.3))
        var hits = 0
        for _ in 0..<2000 {
            let id = TraceID.random(using: &g)
            let a = first.decide(traceID: id, incomingSampled: nil, incomingDebug: false).sampled
            XCTAssertEqual(second.decide(traceID: id, incomingSampled: !a, incomingDebug: false).sampled, a)
            XCTAssertEqual(a, ProbabilisticSampler(rate: 0.3).shouldSample(traceID: id))
            if a { hits += 1 }
        }
        XCTAssertEqual(Double(hits), 600, accuracy: 5 * (2000 * 0.3 * 0.7).squareRoot())
    }
}
