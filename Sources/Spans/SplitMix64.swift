/// A fast, seedable generator for span and trace ids on the request path.
///
/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
/// one add and three xor-shift-multiplies per value, full 2^64 period, passes BigCrush. Ids need
/// uniqueness and uniformity, not unpredictability, and the system generator costs a syscall-backed
/// read per call. Each event loop owns one (it is a value type, not shared).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    /// Seeded from the system's cryptographic generator.
    public init() {
        var g = SystemRandomNumberGenerator()
        self.init(seed: g.next())
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
