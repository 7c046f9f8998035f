#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 socket address, copied by value, so that it can be handed to `connect` from any
/// thread (loops and reporter workers alike). Names are kept resolved by `ResolvedName`.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public var storage = sockaddr_storage()
    public var length: socklen_t = 0

    public init() {}

    /// Resolves `host` (a literal, bracketed or not, or a name) and `port` with getaddrinfo.
    ///
    /// The first result is taken unless `preferringIPv4` is set. Reporters set it (as Go's resolver
    /// does for jaeger-client-go), because `localhost` usually lists `::1` first while agents and
    /// collectors often listen on IPv4 only.
    public static func resolve(host: String, port: UInt16, preferringIPv4: Bool = false)
        throws(SystemError) -> SocketAddress
    {
        try lookup(host: host, port: port, preferringIPv4: preferringIPv4, flags: AI_NUMERICSERV)
    }

    /// The address `host` spells when it is an IPv4 or IPv6 literal (bracketed or not), without
    /// any lookup; nil for a name.
    public static func literal(host: String, port: UInt16) -> SocketAddress? {
        try? lookup(host: host, port: port, preferringIPv4: false, flags: AI_NUMERICSERV | AI_NUMERICHOST)
    }

    private static func lookup(host: String, port: UInt16, preferringIPv4: Bool, flags: Int32)
        throws(SystemError) -> SocketAddress
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = flags
        var res: UnsafeMutablePointer<addrinfo>?
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(h, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw SystemError(call: "getaddrinfo(\(host))", resolverCode: rc)
        }
        defer { freeaddrinfo(res) }
        var chosen: UnsafeMutablePointer<addrinfo>? = nil
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let family = info.pointee.ai_family
            if info.pointee.ai_addr != nil, family == AF_INET || family == AF_INET6 {
                if chosen == nil { chosen = info }
                if !preferringIPv4 || family == AF_INET {
                    chosen = info
                    break
                }
            }
            entry = info.pointee.ai_next
        }
        guard let info = chosen else {
            throw SystemError(call: "getaddrinfo(\(host))", resolverCode: EAI_FAMILY)
        }
        var a = SocketAddress()
        withUnsafeMutableBytes(of: &a.storage) { dst in
            dst.copyMemory(
                from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
        }
        a.length = info.pointee.ai_addrlen
        return a
    }

    public var family: Int32 { Int32(storage.ss_family) }

    /// The same family, address and port (the bytes `connect` is given).
    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        guard a.length == b.length else { return false }
        return withUnsafeBytes(of: a.storage) { x in
            withUnsafeBytes(of: b.storage) { y in memcmp(x.baseAddress!, y.baseAddress!, Int(a.length)) == 0 }
        }
    }

    /// Calls `body` with the address as the `sockaddr` pointer and length the socket calls take.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The numeric host (no brackets) and port.
    public var hostAndPort: (host: String, port: UInt16) {
        withSockAddr { sa, length -> (String, UInt16) in
            var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            var serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
            let rc = getnameinfo(
                sa, length, &buf, socklen_t(buf.count), &serv, socklen_t(serv.count),
                NI_NUMERICHOST | NI_NUMERICSERV)
            if rc != 0 { return ("?", 0) }
            let hostString = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let servString = serv.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return (hostString, UInt16(servString) ?? 0)
        }
    }

    public var description: String {
        let (h, p) = hostAndPort
        return family == AF_INET6 ? "[\(h)]:\(p)" : "\(h):\(p)"
    }
}
