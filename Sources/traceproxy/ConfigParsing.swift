import Proxy
import Reactor

/// The command line's own address grammars: `--listen`, `--admin` and `--upstream`.
///
/// Each function returns nil (or throws a reason) instead of knowing which flag it serves, so the
/// caller names the one that was wrong. The grammars shared with other modules have one owner
/// each: `HostPortSyntax` (Reactor), `ReporterTarget` (Reporters), `SamplerConfig` (Spans) and
/// `Propagator.parseFormats` (Propagation).
enum ConfigParsing {
    static let hostPortExpectation = "expected HOST:PORT or [IPv6]:PORT with a port from 1 to 65535"

    /// `HOST:PORT` or `[IPv6]:PORT`; the port is required.
    static func hostPort(_ text: Substring) -> HostPort? {
        guard let (host, portText) = HostPortSyntax.split(text), let portText,
            let port = HostPortSyntax.port(portText)
        else { return nil }
        return HostPort(host: host, port: port)
    }

    /// `--upstream http[s]://HOST[:PORT][/]`; the port defaults to 80 or 443 as in any URL.
    /// Returns whether the upstream speaks TLS.
    static func upstream(_ text: String) throws(ConfigError) -> (HostPort, https: Bool) {
        let expected = "expected http://HOST:PORT or https://HOST:PORT"
        let lower = text.lowercased()
        let https = lower.hasPrefix("https://")
        guard https || lower.hasPrefix("http://") else {
            throw ConfigError(invalid: text, for: "--upstream", expected)
        }
        let rest = text.dropFirst(https ? "https://".count : "http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let path = rest[slash...]
        guard path.isEmpty || path == "/" else {
            throw ConfigError(
                invalid: text, for: "--upstream",
                "\(expected) without a path; the request path is forwarded as it came")
        }
        guard let (host, portText) = HostPortSyntax.split(rest[..<slash]) else {
            throw ConfigError(invalid: text, for: "--upstream", expected)
        }
        guard let portText else { return (HostPort(host: host, port: https ? 443 : 80), https) }
        guard let port = HostPortSyntax.port(portText) else {
            throw ConfigError(invalid: text, for: "--upstream", "\(expected) (port 1 to 65535)")
        }
        return (HostPort(host: host, port: port), https)
    }
}
