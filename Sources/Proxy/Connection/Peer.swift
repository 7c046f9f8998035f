import Reactor
import Spans
import TLS

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

extension TLSFacts {
    /// The span's view of a finished handshake: `TLSv1.3` becomes `1.3` (OpenTelemetry's
    /// `tls.protocol.version`).
    convenience init(_ info: TLSHandshakeInfo) {
        let version =
            info.protocolVersion.hasPrefix("TLSv") ? String(info.protocolVersion.dropFirst(4)) : info.protocolVersion
        self.init(
            protocolVersion: version, cipher: info.cipher, serverName: info.serverName, clientSubject: info.peerSubject)
    }
}
