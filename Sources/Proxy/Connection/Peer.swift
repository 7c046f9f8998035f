import Reactor
import Spans

#if canImport(Glibc)
    import Glibc
#endif

/// A client connection's peer, worked out once when the connection is accepted: the numeric host
/// as text for X-Forwarded-For and the access log, and the address as a fixed value for spans.
struct ClientPeer {
    let host: String
    let address: PeerAddress

    init(host: String, address: PeerAddress) {
        self.host = host
        self.address = address
    }

    init(_ socketAddress: SocketAddress) {
        var storage = socketAddress.storage
        let address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { PeerAddress($0) }
        }
        self.init(host: socketAddress.hostAndPort.host, address: address)
    }
}
