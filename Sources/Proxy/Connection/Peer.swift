import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The client's address, kept as text once per connection for spans and the access log.
struct Peer {
    let host: String
    let port: UInt16
    let v6: Bool

    init(host: String, port: UInt16, v6: Bool) {
        self.host = host
        self.port = port
        self.v6 = v6
    }

    init(_ address: SocketAddress) {
        let hp = address.hostAndPort
        self.init(host: hp.host, port: hp.port, v6: address.family == AF_INET6)
    }
}
