/// The one `HOST:PORT` grammar, for every address the command line takes (listen, admin, upstream,
/// reporters). It lives here, beside `SocketAddress`, because both the CLI and the reporters need
/// it and this is the lowest module they share.
public enum HostPortSyntax {
    /// Splits `host[:port]` or `[v6][:port]`; the port part is nil when absent. A bare IPv6
    /// address is refused: its last group would be indistinguishable from a port.
    public static func split(_ text: Substring) -> (host: String, port: Substring?)? {
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
    public static func port(_ text: Substring) -> UInt16? {
        guard let value = decimal(text), (1...65535).contains(value) else { return nil }
        return UInt16(value)
    }

    /// A non-negative decimal integer made of ASCII digits only; `Int("+5")` would accept a sign.
    public static func decimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        return Int(text)
    }

    /// `host:port`, with brackets around an IPv6 literal so the port stays readable.
    public static func format(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func isHostNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "." || c == "_")
    }

    /// Hex digits, colons, dots (embedded IPv4) and `%zone` letters.
    private static func isIPv6Character(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == ":" || c == "." || c == "%")
    }
}
