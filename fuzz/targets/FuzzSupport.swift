// Shared by every fuzz target: compiled into each target's single module (see fuzz/run.sh).

/// A broken invariant is a crash: libFuzzer stops, keeps the input and reports it.
func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #file, line: UInt = #line
) {
    if !condition() {
        fatalError("invariant broken: \(message())", file: file, line: line)
    }
}

/// Deterministic piece sizes for feeding one input to an incremental parser in several ways.
struct Splitter {
    private var state: UInt64

    init(seed: Int) { state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1 }

    /// A size in 1...max (biased towards small pieces, where boundary bugs live).
    mutating func next(max: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let r = Int(truncatingIfNeeded: state >> 1)
        let cap = r % 4 == 0 ? max : Swift.min(max, 8)
        return 1 + (r >> 2) % Swift.max(cap, 1)
    }
}

/// How an input is cut into the pieces a parser sees: all at once, one byte at a time, or
/// pseudo-random pieces (seeded by the input length so a reproducer replays the same way).
enum Feeding: CaseIterable {
    case whole, byteByByte, random

    func pieces(count: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var pos = 0
        switch self {
        case .whole:
            out.append(0..<count)
        case .byteByByte:
            while pos < count {
                out.append(pos..<pos + 1)
                pos += 1
            }
        case .random:
            var s = Splitter(seed: count)
            while pos < count {
                let n = Swift.min(s.next(max: 64), count - pos)
                out.append(pos..<pos + n)
                pos += n
            }
        }
        return out
    }
}
