/// Lets one log line through per interval and counts the ones it held back, so a dead collector
/// or upstream produces a steady trickle of "N more like this" lines on stderr, not a flood.
/// Not thread-safe: keep one per thread or loop.
public struct LogThrottle: Sendable {
    public let intervalMs: Int64
    private var nextAllowedMs: Int64 = .min
    private var suppressed = 0

    public init(intervalMs: Int64 = 10_000) { self.intervalMs = intervalMs }

    /// Returns the number of events suppressed since the last line when this one may be logged,
    /// nil when it should be held back (and counted).
    public mutating func admit(nowMs: Int64) -> Int? {
        if nowMs >= nextAllowedMs {
            nextAllowedMs = nowMs + intervalMs
            defer { suppressed = 0 }
            return suppressed
        }
        suppressed += 1
        return nil
    }
}
