/// Reads the fields proxies in front of us add (RFC 7239 `Forwarded`; the de-facto
/// `X-Forwarded-Host`, `X-Forwarded-For`) for `server.address` and `client.address`. The first
/// element is the one nearest the original client. On the reporter's thread, from the head's bytes.
enum ForwardedFields {
    /// The host the client asked for: the first `X-Forwarded-Host` element, else the first
    /// `Forwarded` element's `host=`.
    static func host(_ xForwardedHost: ArraySlice<UInt8>?, forwarded: ArraySlice<UInt8>?) -> ArraySlice<UInt8>? {
        if let x = xForwardedHost, let first = firstElement(x) { return first }
        if let f = forwarded, let first = firstElement(f) { return parameter("host", in: first) }
        return nil
    }

    /// The original client: the first `Forwarded` element's `for=` (its port dropped), else the
    /// first `X-Forwarded-For` element.
    static func client(_ xForwardedFor: ArraySlice<UInt8>?, forwarded: ArraySlice<UInt8>?) -> ArraySlice<UInt8>? {
        if let f = forwarded, let first = firstElement(f), let node = parameter("for", in: first) {
            return splitHostPort(node)?.host ?? node
        }
        if let x = xForwardedFor, let first = firstElement(x) { return first }
        return nil
    }

    /// `host[:port]` or `[v6]:port`: the host (brackets removed) and the port when there is one.
    static func splitHostPort(_ s: ArraySlice<UInt8>) -> (host: ArraySlice<UInt8>, port: Int64?)? {
        guard !s.isEmpty else { return nil }
        if s.first == UInt8(ascii: "[") {
            guard let close = s.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let host = s[(s.startIndex + 1)..<close]
            let rest = s[(close + 1)...]
            guard rest.first == UInt8(ascii: ":") else { return (host, nil) }
            return (host, port(rest.dropFirst()))
        }
        guard let colon = s.lastIndex(of: UInt8(ascii: ":")) else { return (s, nil) }
        // More than one colon without brackets: an IPv6 address with no port.
        if s[..<colon].contains(UInt8(ascii: ":")) { return (s, nil) }
        return (s[..<colon], port(s[(colon + 1)...]))
    }

    private static func port(_ s: ArraySlice<UInt8>) -> Int64? {
        guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
        let v = s.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        return v <= 65535 ? v : nil
    }

    /// The first comma-separated element, spaces trimmed.
    static func firstElement(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let end = s.firstIndex(of: UInt8(ascii: ",")) ?? s.endIndex
        let e = trim(s[..<end])
        return e.isEmpty ? nil : e
    }

    /// `name=value` among `;`-separated pairs (case-insensitive name), quotes removed.
    static func parameter(_ name: String, in element: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var rest = element
        while !rest.isEmpty {
            let end = rest.firstIndex(of: UInt8(ascii: ";")) ?? rest.endIndex
            let pair = trim(rest[..<end])
            if let eq = pair.firstIndex(of: UInt8(ascii: "=")),
                pair[..<eq].count == name.utf8.count,
                zip(pair[..<eq], name.utf8).allSatisfy({ ($0 | 0x20) == $1 })
            {
                var value = trim(pair[(eq + 1)...])
                if value.count >= 2 && value.first == UInt8(ascii: "\"") && value.last == UInt8(ascii: "\"") {
                    value = value.dropFirst().dropLast()
                }
                return value.isEmpty ? nil : value
            }
            rest = end == rest.endIndex ? [] : rest[(end + 1)...]
        }
        return nil
    }

    private static func trim(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, f == UInt8(ascii: " ") || f == UInt8(ascii: "\t") { s = s.dropFirst() }
        while let l = s.last, l == UInt8(ascii: " ") || l == UInt8(ascii: "\t") { s = s.dropLast() }
        return s
    }
}
