/// A fixed-size histogram of durations in microseconds with HDR-style log-linear buckets: values
/// below 16 µs have a bucket each; above, every power of two is split into 16 equal buckets, so a
/// bucket is at most 1/16 of its lower bound wide and a percentile read from its middle is within
/// 1/32 (3.2 %) of the true value. 464 counters cover 1 µs to 2^32 µs (71 minutes); longer
/// durations land in the last bucket. No allocation after `init`, no floating point on `record`.
public struct LatencyHistogram: Sendable, Equatable {
    static let subBits = 4
    static let subCount = 1 << subBits
    /// Exponents 4...31 above the 16 linear buckets.
    public static let bucketCount = subCount + (32 - subBits) * subCount
    public static let maxValue: Int64 = (1 << 32) - 1

    public private(set) var counts: [UInt32]
    public private(set) var total = 0
    /// The sum of the recorded values (µs), for a mean.
    public private(set) var sum: Int64 = 0

    public init() { counts = [UInt32](repeating: 0, count: Self.bucketCount) }

    /// The bucket of `micros` (clamped to 0...`maxValue`).
    public static func index(_ micros: Int64) -> Int {
        let v = UInt64(min(max(0, micros), maxValue))
        if v < UInt64(subCount) { return Int(v) }
        let exponent = 63 - v.leadingZeroBitCount  // >= subBits
        let sub = Int((v >> UInt64(exponent - subBits)) & UInt64(subCount - 1))
        return subCount + (exponent - subBits) * subCount + sub
    }

    /// The smallest value of bucket `i`.
    public static func lowerBound(_ i: Int) -> Int64 {
        if i < subCount { return Int64(i) }
        let exponent = (i - subCount) / subCount + subBits
        let sub = (i - subCount) % subCount
        return Int64(subCount + sub) << Int64(exponent - subBits)
    }

    /// How many values bucket `i` holds (1 in the linear range).
    public static func width(_ i: Int) -> Int64 {
        if i < subCount { return 1 }
        return 1 << Int64((i - subCount) / subCount)
    }

    public mutating func record(_ micros: Int64) {
        counts[Self.index(micros)] &+= 1
        total += 1
        sum &+= max(0, micros)
    }

    public mutating func add(_ other: LatencyHistogram) {
        for i in 0..<counts.count where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        total += other.total
        sum &+= other.sum
    }

    public mutating func reset() {
        if total == 0 { return }
        for i in counts.indices { counts[i] = 0 }
        total = 0
        sum = 0
    }

    /// The nearest-rank percentile (`p` in 0...100): the middle of the bucket holding the
    /// ceil(p/100 * n)-th smallest value; nil when empty.
    public func percentile(_ p: Double) -> Int64? {
        guard total > 0 else { return nil }
        let rank = max(1, min(total, Int((p / 100 * Double(total)).rounded(.up))))
        var seen = 0
        for (i, c) in counts.enumerated() where c != 0 {
            seen += Int(c)
            if seen >= rank { return Self.lowerBound(i) + Self.width(i) / 2 }
        }
        return Self.lowerBound(counts.count - 1)
    }
}
