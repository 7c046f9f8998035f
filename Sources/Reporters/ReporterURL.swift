import Spans
import Stats
import TLS

/// Options shared by reporters, from the command line.
public struct ReporterOptions: Equatable, Sendable {
    public var process: ServiceProcess
    public var maxPacketSize: Int
    public var zipkinGzip: Bool
    /// How `zipkin+https://` collectors are verified and what client certificate they are shown;
    /// a nil server name means each collector's own host.
    public var collectorTLS: TLSConfiguration
    /// How OTLP reporters encode, compress and label their requests.
    public var otlp: OTLPOptions
    /// How collectors' host names are kept resolved, counted and logged.
    public var names: NameWatch

    public init(
        process: ServiceProcess, maxPacketSize: Int = 65000, zipkinGzip: Bool = false,
        collectorTLS: TLSConfiguration = TLSConfiguration(role: .client), otlp: OTLPOptions = OTLPOptions(),
        names: NameWatch = NameWatch(target: "reporter")
    ) {
        self.process = process
        self.maxPacketSize = maxPacketSize
        self.zipkinGzip = zipkinGzip
        self.collectorTLS = collectorTLS
        self.otlp = otlp
        self.names = names
    }

    /// Equal when the reporters built from them would be: `names` is the process's one watch of
    /// collector names (its metrics and log), not a setting, so a reload compares the rest.
    public static func == (a: ReporterOptions, b: ReporterOptions) -> Bool {
        a.process == b.process && a.maxPacketSize == b.maxPacketSize && a.zipkinGzip == b.zipkinGzip
            && a.collectorTLS == b.collectorTLS && a.otlp == b.otlp
    }
}

/// The OTLP exporter's settings besides its URL (`--otlp-*`, `OTEL_EXPORTER_OTLP_*`).
public struct OTLPOptions: Equatable, Sendable {
    public var encoding = OTLPHTTPReporter.Encoding.protobuf
    public var gzip = false
    public var headers: [Header] = []
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the whole export of a batch, retries included.
    public var timeoutMs = 10_000
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded.
    public var resourceAttributes: [Tag] = []

    public struct Header: Equatable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init() {}
}

public enum ReporterURL {
    /// The reporter a parsed target names, named by its canonical URL. Fails when a socket cannot
    /// be opened or a TLS context built: start-up errors, not usage errors. A host that does not
    /// resolve yet is not one (`options.names` keeps trying).
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
        case .otlpHTTP(let host, let port, let path, let tls):
            let o = options.otlp
            return try OTLPHTTPReporter(
                name: name,
                settings: OTLPHTTPReporter.Settings(
                    host: host, port: port, path: path, tls: tls, encoding: o.encoding, gzip: o.gzip,
                    headers: o.headers.map { ($0.name, $0.value) }, timeoutMs: o.timeoutMs,
                    resourceAttributes: o.resourceAttributes),
                options: options)
        }
    }
}
