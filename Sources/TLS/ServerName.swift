#if canImport(Glibc)
    import Glibc
#endif

/// A client's name for the server, classified once: a DNS name is matched against the
/// certificate's DNS names and sent as SNI; an IP address is matched against its IP SANs only and
/// never sent (RFC 6066 allows no addresses in SNI, and a name check on "127.0.0.1" would pass a
/// certificate with a DNS SAN spelled like that address).
enum ServerName: Equatable {
    case dns(String)
    case ip(String)

    init(_ text: String) throws(TLSError) {
        if text.isEmpty || text.utf8.contains(0) {
            throw TLSError(.configuration, "server name \(text.debugDescription) is not a DNS name or IP address")
        }
        // "[::1]" as written in URLs.
        var bare = text
        if bare.hasPrefix("[") && bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        if Self.isAddress(bare, family: AF_INET) || Self.isAddress(bare, family: AF_INET6) {
            self = .ip(bare)
        } else {
            self = .dns(text)
        }
    }

    private static func isAddress(_ text: String, family: Int32) -> Bool {
        var storage = in6_addr()
        return inet_pton(family, text, &storage) == 1
    }
}
