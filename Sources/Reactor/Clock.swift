import CEpoll

/// Clocks for timeouts and spans: monotonic for durations, wall time only for span start stamps.
public enum Clock {
    @inline(__always) public static func monotonicMs() -> Int64 { traceproxy_monotonic_ms() }
    @inline(__always) public static func monotonicNs() -> Int64 { traceproxy_monotonic_ns() }
    @inline(__always) public static func wallMicros() -> Int64 { traceproxy_wall_us() }
}
