import Spans
import XCTest

final class SplitMix64Tests: XCTestCase {
    func test_next_seedZero_matchesReferenceSequence() {
        // Reference values of splitmix64.c (Vigna) for seed 0.
        var g = SplitMix64(seed: 0)
        XCTAssertEqual(g.next(), 0xe220_a839_7b1d_cdaf)
        XCTAssertEqual(g.next(), 0x6e78_9e6a_a1b9_65f4)
        XCTAssertEqual(g.next(), 0x06c4_5d18_8009_454f)
    }

    func test_next_sameSeed_sameSequence() {
        var a = SplitMix64(seed: 12345)
        var b = SplitMix64(seed: 12345)
        for _ in 0..<100 { XCTAssertEqual(a.next(), b.next()) }
    }

    func test_init_default_seedsDiffer() {
        var a = SplitMix64()
        var b = SplitMix64()
        XCTAssertNotEqual([a.next(), a.next()], [b.next(), b.next()])
    }

    func test_next_bitsLookUniform() {
        var g = SplitMix64(seed: 7)
        var ones = [Int](repeating: 0, count: 64)
        let n = 10_000
        for _ in 0..<n {
            let v = g.next()
            for bit in 0..<64 where v >> UInt64(bit) & 1 == 1 { ones[bit] += 1 }
        }
        for count in ones { XCTAssertEqual(Double(count), Double(n) / 2, accuracy: 300) }
    }
}
