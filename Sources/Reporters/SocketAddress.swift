#if canImport(Glibc)
    import Glibc
#endif

/// A resolved IPv4 or IPv6 address and port, kept as raw `sockaddr` bytes so that it can be
/// handed to `connect` from any thread.
struct SocketAddress: Sendable {
    let family: Int32
    private let storage: [UInt8]

    /// Resolves `host` once, when the reporter is created: reporters run on a worker thread, and a
    /// resolver stall there would hold every batch. An IPv4 address is preferred when the name has
    /// both (as Go's resolver does for jaeger-client-go), because `localhost` usually lists `::1`
    /// first while agents and collectors often listen on IPv4 only.
    static func resolve(host: String, port: UInt16, udp: Bool) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
            return nil
        }
        defer { freeaddrinfo(result) }
        var candidates: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let family = info.pointee.ai_family
            if let address = info.pointee.ai_addr, family == AF_INET || family == AF_INET6 {
                let bytes = UnsafeRawBufferPointer(start: address, count: Int(info.pointee.ai_addrlen))
                candidates.append(SocketAddress(family: family, storage: Array(bytes)))
            }
            entry = info.pointee.ai_next
        }
        return candidates.first { $0.family == AF_INET } ?? candidates.first
    }

    /// Calls `body` with the address as the `sockaddr` pointer and length the socket calls take.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }
}
