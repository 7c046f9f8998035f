import Dispatch

/// Entry point the command line calls with a validated configuration.
public enum ProxyMain {
    /// Starts the loops, listeners and reporters, then parks the main thread in `dispatchMain`.
    /// Exits the process itself: 0 after a graceful drain, 1 when start-up fails (the reason on stderr).
    public static func run(_ config: ProxyConfig) -> Never {
        fatalError("implemented by the Proxy work")
    }
}
