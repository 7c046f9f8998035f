import Propagation
import Proxy
import Spans

/// The small grammars of the command line: addresses, URLs, samplers and propagation lists.
///
/// Each function returns nil (or throws a reason) instead of knowing which flag it serves, so the
/// same grammar is used for a flag and for the environment variable that stands in for it, and
/// the caller names the one that was wrong. Spellings follow the Jaeger client conventions
/// (`const`, `probabilistic`, `ratelimiting`) and OpenTelemetry's `OTEL_PROPAGATORS` names.
enum ConfigParsing {
    static let hostPortExpectation = "expected HOST:PORT or [IPv6]:PORT with a port from 1 to 65535"

    /// `HOST:PORT` or `[IPv6]:PORT`. A bare IPv6 address is refused: its last group would be
    /// indistinguishable from a port.
    static func hostPort(_ text: Substring) -> HostPort? {
        guard let (host, portText) = splitHostPort(text), let portText,
            let port = port(portText)
        else { return nil }
        return HostPort(host: host, port: port)
    }

    /// Splits `host[:port]` or `[v6][:port]`; the port part is nil when absent.
    static func splitHostPort(_ text: Substring) -> (String, Substring?)? {
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            guard host.contains(":"), host.allSatisfy(isIPv6Character) else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (String(host), nil) }
            guard rest.first == ":" else { return nil }
            return (String(host), rest.dropFirst())
        }
        let colon = text.firstIndex(of: ":")
        let host = colon.map { text[..<$0] } ?? text
        guard !host.isEmpty, host.allSatisfy(isHostNameCharacter) else { return nil }
        guard let colon else { return (String(host), nil) }
        return (String(host), text[text.index(after: colon)...])
    }

    /// Decimal 1...65535, digits only (no sign, no spaces).
    static func port(_ text: Substring) -> UInt16? {
        guard let value = decimal(text), (1...65535).contains(value) else { return nil }
        return UInt16(value)
    }

    /// A non-negative decimal integer made of ASCII digits only; `Int("+5")` would accept a sign.
    static func decimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        return Int(text)
    }

    /// `--upstream http://HOST[:PORT][/]`; the port defaults to 80 as in any http URL.
    static func upstream(_ text: String) throws(ConfigError) -> HostPort {
        let expected = "expected http://HOST:PORT"
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            throw ConfigError(
                invalid: text, for: "--upstream",
                "https upstreams are not supported yet; use http://HOST:PORT")
        }
        guard lower.hasPrefix("http://") else {
            throw ConfigError(invalid: text, for: "--upstream", expected)
        }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let path = rest[slash...]
        guard path.isEmpty || path == "/" else {
            throw ConfigError(
                invalid: text, for: "--upstream",
                "\(expected) without a path; the request path is forwarded as it came")
        }
        guard let (host, portText) = splitHostPort(rest[..<slash]) else {
            throw ConfigError(invalid: text, for: "--upstream", expected)
        }
        guard let portText else { return HostPort(host: host, port: 80) }
        guard let port = port(portText) else {
            throw ConfigError(invalid: text, for: "--upstream", "\(expected) (port 1 to 65535)")
        }
        return HostPort(host: host, port: port)
    }

    static let reporterExpectation =
        "expected jaeger-udp://HOST:PORT, zipkin+http://HOST:PORT[/PATH], stdout or none"

    /// Checks a `--reporter` value's syntax and returns it in canonical spelling (lower-case
    /// scheme, bracketed IPv6), or nil for `none`. The Reporters module builds the reporter.
    static func reporter(_ text: String) throws(ConfigError) -> String? {
        let lower = text.lowercased()
        switch lower {
        case "none": return nil
        case "stdout": return "stdout"
        default: break
        }
        if lower.hasPrefix("zipkin+https://") {
            throw ConfigError(
                invalid: text, for: "--reporter",
                "https collectors are not supported yet; use zipkin+http://HOST:PORT[/PATH]")
        }
        for scheme in ["jaeger-udp://", "zipkin+http://"] where lower.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let path = rest[slash...]
            guard let endpoint = hostPort(rest[..<slash]) else {
                throw ConfigError(
                    invalid: text, for: "--reporter",
                    "expected \(scheme)HOST:PORT (or [IPv6]:PORT) with a port from 1 to 65535")
            }
            if scheme == "jaeger-udp://" {
                guard path.isEmpty else {
                    throw ConfigError(invalid: text, for: "--reporter", "a UDP agent takes no path")
                }
            } else {
                // The path becomes a request target: no spaces, controls or fragment.
                guard path.allSatisfy({ $0.isASCII && $0 > " " && $0 != "#" && $0 != "\u{7F}" })
                else {
                    throw ConfigError(
                        invalid: text, for: "--reporter", "the collector path is not a valid URL path")
                }
            }
            return scheme + endpoint.description + path
        }
        throw ConfigError(invalid: text, for: "--reporter", reporterExpectation)
    }

    static let samplerExpectation =
        "expected const:1, const:0, probabilistic:P (P from 0 to 1) or ratelimiting:N (traces per second)"

    /// `const:1|const:0|probabilistic:P|ratelimiting:N`.
    static func sampler(_ text: String) -> SamplerConfig? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = text[..<colon].lowercased()
        let param = text[text.index(after: colon)...]
        switch kind {
        case "const":
            switch param {
            case "1": return .const(true)
            case "0": return .const(false)
            default: return nil
            }
        default:
            guard let value = number(param) else { return nil }
            return sampler(type: kind, param: value)
        }
    }

    /// Jaeger's `JAEGER_SAMPLER_TYPE` and `JAEGER_SAMPLER_PARAM`: a float param, const samples
    /// when it is non-zero (as jaeger-client-go's `ConstSampler` does).
    static func sampler(type: String, param: Double) -> SamplerConfig? {
        switch type.lowercased() {
        case "const": return .const(param != 0)
        case "probabilistic": return (0...1).contains(param) ? .probabilistic(param) : nil
        case "ratelimiting": return param >= 0 ? .rateLimiting(param) : nil
        default: return nil
        }
    }

    /// A finite decimal number; refuses `nan`, `inf` and hexadecimal floats.
    static func number(_ text: Substring) -> Double? {
        guard !text.isEmpty,
            text.allSatisfy({ $0.isASCII && ($0.isNumber || ".eE-+".contains($0)) }),
            let value = Double(text), value.isFinite
        else { return nil }
        return value
    }

    static let propagationExpectation = "expected a comma-separated list of w3c, b3, jaeger"

    /// `--propagation w3c,b3,jaeger`: order is the extraction precedence; duplicates are dropped.
    static func propagation(_ text: String) -> [PropagationFormat]? {
        var formats: [PropagationFormat] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = item.trimmingSpaces().lowercased()
            guard let format = PropagationFormat(rawValue: name) else { return nil }
            if !formats.contains(format) { formats.append(format) }
        }
        return formats.isEmpty ? nil : formats
    }

    static let otelPropagatorsExpectation =
        "expected a comma-separated list of tracecontext, b3, b3multi, jaeger (baggage is ignored)"

    /// `OTEL_PROPAGATORS` (OpenTelemetry SDK environment variables, "General SDK Configuration"):
    /// `tracecontext` is W3C, `b3` and `b3multi` both map to B3 (the proxy reads both forms),
    /// `baggage` is ignored because the proxy forwards baggage headers untouched anyway.
    static func otelPropagators(_ text: String) -> [PropagationFormat]? {
        var formats: [PropagationFormat] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let format: PropagationFormat
            switch item.trimmingSpaces().lowercased() {
            case "tracecontext": format = .w3c
            case "b3", "b3multi": format = .b3
            case "jaeger": format = .jaeger
            case "baggage": continue
            default: return nil
            }
            if !formats.contains(format) { formats.append(format) }
        }
        return formats.isEmpty ? nil : formats
    }

    private static func isHostNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "." || c == "_")
    }

    /// Hex digits, colons, dots (embedded IPv4) and `%zone` letters.
    private static func isIPv6Character(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == ":" || c == "." || c == "%")
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
        let end = lastIndex { $0 != " " && $0 != "\t" }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}
