import Reactor

/// Why a reporter URL was refused, or a reporter could not be built; one line.
public struct ReporterURLError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Where spans go: the parsed form of `--reporter`, so the command line checks a URL once and the
/// reporters are built from the value, never from the string again.
public enum ReporterTarget: Equatable, Sendable, CustomStringConvertible {
    case stdout
    case jaegerUDP(host: String, port: UInt16)
    /// `tls`: `zipkin+https://`.
    case zipkinHTTP(host: String, port: UInt16, path: String, tls: Bool = false)
    /// `otlp+http[s]://HOST[:PORT][/PATH]`: OTLP/HTTP.
    case otlpHTTP(host: String, port: UInt16, path: String, tls: Bool)

    public static let expectedForms =
        "expected otlp+http[s]://HOST[:PORT][/PATH], jaeger-udp://HOST:PORT, zipkin+http[s]://HOST:PORT[/PATH], "
        + "stdout or none"
    /// OTLP/HTTP's defaults (otlp-specification): port 4318, path `/v1/traces`.
    public static let defaultOTLPPort: UInt16 = 4318
    public static let defaultOTLPPath = "/v1/traces"
    /// zipkin2-api.yaml: `basePath: /api/v2`, `POST /spans`.
    public static let defaultZipkinPath = "/api/v2/spans"

    /// `jaeger-udp://HOST:PORT`, `zipkin+http[s]://HOST:PORT[/PATH]`, `stdout`, or `none` (nil). The
    /// scheme is case-insensitive; HOST is a name, an IPv4 address or a bracketed IPv6 address.
    /// The error says what was expected; the caller names the flag or variable.
    public static func parse(_ text: String) throws(ReporterURLError) -> ReporterTarget? {
        let lower = text.lowercased()
        switch lower {
        case "none": return nil
        case "stdout": return .stdout
        default: break
        }
        for scheme in ["otlp+http://", "otlp+https://"] where lower.hasPrefix(scheme) {
            return try parseOTLP(text.dropFirst(scheme.count), tls: scheme == "otlp+https://")
        }
        for scheme in ["jaeger-udp://", "zipkin+http://", "zipkin+https://"] where lower.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let path = String(rest[slash...])
            guard let (host, portText) = HostPortSyntax.split(rest[..<slash]), let portText,
                let port = HostPortSyntax.port(portText)
            else {
                throw ReporterURLError(
                    "expected \(scheme)HOST:PORT (or [IPv6]:PORT) with a port from 1 to 65535")
            }
            if scheme == "jaeger-udp://" {
                guard path.isEmpty else { throw ReporterURLError("a UDP agent takes no path") }
                return .jaegerUDP(host: host, port: port)
            }
            // The path becomes a request target: no spaces, controls or fragment.
            guard path.allSatisfy({ $0.isASCII && $0 > " " && $0 != "#" && $0 != "\u{7F}" }) else {
                throw ReporterURLError("the collector path is not a valid URL path")
            }
            return .zipkinHTTP(
                host: host, port: port, path: path.isEmpty ? defaultZipkinPath : path,
                tls: scheme == "zipkin+https://")
        }
        throw ReporterURLError(expectedForms)
    }

    /// `HOST[:PORT][/PATH]` after `otlp+http[s]://`: the port defaults to 4318, the path to
    /// `/v1/traces` (a URL given in full, as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is, keeps its own).
    static func parseOTLP(_ rest: Substring, tls: Bool) throws(ReporterURLError) -> ReporterTarget {
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let path = String(rest[slash...])
        guard let (host, portText) = HostPortSyntax.split(rest[..<slash]) else {
            throw ReporterURLError("expected otlp+http[s]://HOST[:PORT][/PATH]")
        }
        var port = defaultOTLPPort
        if let portText {
            guard let p = HostPortSyntax.port(portText) else {
                throw ReporterURLError("expected otlp+http[s]://HOST[:PORT][/PATH] with a port from 1 to 65535")
            }
            port = p
        }
        guard path.allSatisfy({ $0.isASCII && $0 > " " && $0 != "#" && $0 != "\u{7F}" }) else {
            throw ReporterURLError("the collector path is not a valid URL path")
        }
        return .otlpHTTP(host: host, port: port, path: path.isEmpty ? defaultOTLPPath : path, tls: tls)
    }

    /// The canonical URL (lower-case scheme, bracketed IPv6); also the reporter's name in metrics.
    public var description: String {
        switch self {
        case .stdout: "stdout"
        case .jaegerUDP(let host, let port): "jaeger-udp://\(HostPortSyntax.format(host: host, port: port))"
        case .zipkinHTTP(let host, let port, let path, let tls):
            "zipkin+\(tls ? "https" : "http")://\(HostPortSyntax.format(host: host, port: port))"
                + (path == Self.defaultZipkinPath ? "" : path)
        case .otlpHTTP(let host, let port, let path, let tls):
            "otlp+\(tls ? "https" : "http")://\(HostPortSyntax.format(host: host, port: port))"
                + (path == Self.defaultOTLPPath ? "" : path)
        }
    }

    /// Whether the reporter talks TLS (`--collector-*` apply to it).
    public var usesTLS: Bool {
        switch self {
        case .zipkinHTTP(_, _, _, let tls), .otlpHTTP(_, _, _, let tls): return tls
        default: return false
        }
    }
}
