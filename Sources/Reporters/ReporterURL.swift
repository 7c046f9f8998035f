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
    static let expectedForms =
        "expected jaeger-udp://HOST:PORT, zipkin+http://HOST:PORT[/path], stdout or none"
    /// zipkin2-api.yaml: `basePath: /api/v2`, `POST /spans`.
    public static let defaultZipkinPath = "/api/v2/spans"

    /// `jaeger-udp://HOST:PORT`, `zipkin+http://HOST:PORT[/path]`, `stdout`, `none` (nil).
    /// HOST may be a name, an IPv4 address or a bracketed IPv6 address; it is resolved here, once.
    public static func make(_ url: String, options: ReporterOptions, metrics: MetricsRegistry)
        throws(ReporterURLError) -> (any SpanReporter)?
    {
        switch url {
        case "none": return nil
        case "stdout": return StdoutReporter(name: url, options: options)
        default: break
        }
        if let rest = url.dropPrefix("jaeger-udp://") {
            let target = try parseAuthority(rest, url: url)
            guard target.path.isEmpty || target.path == "/" else {
                throw ReporterURLError("reporter \"\(url)\": a jaeger-udp URL takes no path")
            }
            return try JaegerUDPReporter(
                name: url, host: target.host, port: target.port, options: options, metrics: metrics)
        }
        if let rest = url.dropPrefix("zipkin+http://") {
            let target = try parseAuthority(rest, url: url)
            return try ZipkinHTTPReporter(
                name: url, host: target.host, port: target.port,
                path: target.path.isEmpty ? defaultZipkinPath : target.path, options: options)
        }
        throw ReporterURLError("unsupported reporter \"\(url)\": \(expectedForms)")
    }

    struct Target: Equatable {
        var host: String
        var port: UInt16
        var path: String
    }

    /// Splits `HOST:PORT[/path]`; the port is required (agents and collectors have several).
    static func parseAuthority(_ rest: Substring, url: String) throws(ReporterURLError) -> Target {
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[rest.startIndex..<slash]
        let path = String(rest[slash...])
        let host: Substring
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw ReporterURLError("reporter \"\(url)\": unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : (after.isEmpty ? nil : after)
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[authority.startIndex..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
            portText = nil
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "@" }) else {
            throw ReporterURLError("reporter \"\(url)\": missing or bad host; \(expectedForms)")
        }
        guard let portText else {
            throw ReporterURLError("reporter \"\(url)\": missing port; \(expectedForms)")
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigitCharacter), portText.count <= 5,
            let port = Int(portText), (1...65535).contains(port)
        else {
            throw ReporterURLError("reporter \"\(url)\": bad port \"\(portText)\" (1-65535)")
        }
        guard !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
            throw ReporterURLError("reporter \"\(url)\": bad path \"\(path)\"")
        }
        return Target(host: String(host), port: UInt16(port), path: path)
    }
}

extension String {
    fileprivate func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? self.dropFirst(prefix.count) : nil
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
