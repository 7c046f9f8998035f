import Foundation
import Spans
import XCTest

@testable import TraceView

final class LatencyHistogramTests: XCTestCase {
    func test_buckets_tileTheRangeWithoutGapsOrOverlaps() {
        var expected: Int64 = 0
        for i in 0..<LatencyHistogram.bucketCount {
            XCTAssertEqual(LatencyHistogram.lowerBound(i), expected, "bucket \(i)")
            let width = LatencyHistogram.width(i)
            XCTAssertEqual(LatencyHistogram.index(expected), i)
            XCTAssertEqual(LatencyHistogram.index(expected + width - 1), i)
            // A bucket is at most 1/16 of its lower bound wide.
            if expected >= 16 { XCTAssertLessThanOrEqual(width * 16, expected) }
            expected += width
        }
        XCTAssertEqual(expected, LatencyHistogram.maxValue + 1)
        XCTAssertEqual(LatencyHistogram.index(-5), 0)
        XCTAssertEqual(LatencyHistogram.index(.max), LatencyHistogram.bucketCount - 1)
    }

    /// Nearest-rank percentiles of the raw values, the reference the histogram must approximate.
    private func reference(_ sorted: [Int64], _ p: Double) -> Int64 {
        let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
        return sorted[rank - 1]
    }

    func test_percentiles_matchAReferenceOnRandomDataWithinTheBucketError() {
        var random = SplitMix64(seed: 42)
        for round in 0..<20 {
            let n = Int.random(in: 1...5000, using: &random)
            var values: [Int64] = []
            var h = LatencyHistogram()
            for _ in 0..<n {
                // Log-uniform from 1 µs to 10 s, the shape of real latencies.
                let v = Int64(pow(10, Double.random(in: 0...7, using: &random)))
                values.append(v)
                h.record(v)
            }
            values.sort()
            XCTAssertEqual(h.total, n)
            XCTAssertEqual(h.sum, values.reduce(0, +))
            for p in [0.0, 1, 50, 90, 99, 99.9, 100] {
                let want = reference(values, p)
                let got = h.percentile(p)!
                // The middle of the bucket holding the true value: half a bucket off at most.
                XCTAssertLessThanOrEqual(abs(got - want), max(0, want / 32), "round \(round) p\(p): \(got) vs \(want)")
            }
        }
    }

    func test_smallValues_areExact_andEmptyHasNoPercentile() {
        var h = LatencyHistogram()
        XCTAssertNil(h.percentile(50))
        for v: Int64 in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] { h.record(v) }
        XCTAssertEqual(h.percentile(50), 5)
        XCTAssertEqual(h.percentile(90), 9)
        XCTAssertEqual(h.percentile(100), 10)
        h.reset()
        XCTAssertNil(h.percentile(50))
        XCTAssertEqual(h.total, 0)
    }

    func test_add_mergesCounts() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        var both = LatencyHistogram()
        var random = SplitMix64(seed: 7)
        for i in 0..<1000 {
            let v = Int64.random(in: 1...2_000_000, using: &random)
            if i % 3 == 0 { a.record(v) } else { b.record(v) }
            both.record(v)
        }
        a.add(b)
        XCTAssertEqual(a, both)
    }
}
