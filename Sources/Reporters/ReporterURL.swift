import Spans
import Stats
import TLS

/// Options shared by reporters, from the command line.
public struct ReporterOptions: Sendable {
    public var process: ServiceProcess
    public var maxPacketSize: Int
    public var zipkinGzip: Bool
    /// How `zipkin+https://` collectors are verified and what client certificate they are shown;
    /// a nil server name means each collector's own host.
    public var collectorTLS: TLSConfiguration

    public init(
        process: ServiceProcess, maxPacketSize: Int = 65000, zipkinGzip: Bool = false,
        collectorTLS: TLSConfiguration = TLSConfiguration(role: .client)
    ) {
        self.process = process
        self.maxPacketSize = maxPacketSize
        self.zipkinGzip = zipkinGzip
        self.collectorTLS = collectorTLS
    }
}

public enum ReporterURL {
    /// The reporter a parsed target names, named by its canonical URL. Fails when a host does
    /// not resolve or a socket cannot be opened: start-up errors, not usage errors.
    public static func make(_ target: ReporterTarget, options: ReporterOptions, metrics: MetricsRegistry)
        throws(ReporterURLError) -> any SpanReporter
    {
        let name = target.description
        switch target {
        case .stdout:
            return StdoutReporter(name: name, options: options)
        case .jaegerUDP(let host, let port):
            return try JaegerUDPReporter(name: name, host: host, port: port, options: options, metrics: metrics)
        case .zipkinHTTP(let host, let port, let path, let tls):
            return try ZipkinHTTPReporter(name: name, host: host, port: port, path: path, tls: tls, options: options)
        }
    }
}
