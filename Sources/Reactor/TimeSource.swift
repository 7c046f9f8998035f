/// Where the proxy's connections read the time. Injected so the connection logic can be driven by
/// a manual clock in tests (every timeout, in milliseconds, without a sleep).
public protocol TimeSource: AnyObject {
    /// Monotonic nanoseconds: durations.
    func monotonicNs() -> Int64
    /// Monotonic milliseconds, on the same base: deadlines (coarse is fine, and cheaper).
    func monotonicMs() -> Int64
    /// Microseconds since the Unix epoch: only span start stamps.
    func wallMicros() -> Int64
}

/// The real clocks (`clock_gettime` through the vDSO: no syscall).
public final class SystemTime: TimeSource {
    public init() {}
    @inline(__always) public func monotonicNs() -> Int64 { Clock.monotonicNs() }
    @inline(__always) public func monotonicMs() -> Int64 { Clock.monotonicMs() }
    @inline(__always) public func wallMicros() -> Int64 { Clock.wallMicros() }
}
