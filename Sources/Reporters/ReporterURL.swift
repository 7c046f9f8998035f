import Spans
import Stats

/// Options shared by reporters, from the command line.
public struct ReporterOptions: Sendable {
    public var process: ServiceProcess
    public var maxPacketSize: Int
    public var zipkinGzip: Bool

    public init(process: ServiceProcess, maxPacketSize: Int = 65000, zipkinGzip: Bool = false) {
        self.process = process
        self.maxPacketSize = maxPacketSize
        self.zipkinGzip = zipkinGzip
    }
}

public struct ReporterURLError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

public enum ReporterURL {
    /// `jaeger-udp://HOST:PORT`, `zipkin+http://HOST:PORT[/path]`, `stdout`, `none` (nil).
    public static func make(_ url: String, options: ReporterOptions, metrics: MetricsRegistry) throws(ReporterURLError) -> (any SpanReporter)? {
        fatalError("implemented by the Reporters work")
    }
}
