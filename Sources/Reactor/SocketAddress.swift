#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 socket address, resolved once (at start-up), copied by value.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public var storage = sockaddr_storage()
    public var length: socklen_t = 0

    public init() {}

    /// Resolves `host` (a literal or a name) and `port` with getaddrinfo, preferring the first result.
    public static func resolve(host: String, port: UInt16) throws(SystemError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(h, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw SystemError("getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))", 0)
        }
        defer { freeaddrinfo(res) }
        var a = SocketAddress()
        withUnsafeMutableBytes(of: &a.storage) { dst in
            dst.copyMemory(
                from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        a.length = first.pointee.ai_addrlen
        return a
    }

    public var family: Int32 { Int32(storage.ss_family) }

    /// The numeric host (no brackets) and port.
    public var hostAndPort: (host: String, port: UInt16) {
        var copy = storage
        return withUnsafePointer(to: &copy) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> (String, UInt16) in
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
    }

    public var description: String {
        let (h, p) = hostAndPort
        return family == AF_INET6 ? "[\(h)]:\(p)" : "\(h):\(p)"
    }
}
