/// Opens byte transports to one destination: real sockets in the proxy, in-memory pipes in tests.
public protocol TransportConnector: AnyObject {
    /// Starts a connection; `connected` is true when it is already up (loopback often is),
    /// otherwise the transport reports writable once the connect finished (see `connectError`).
    func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool)
}

/// Non-blocking TCP connects to one resolved address, registered with one loop.
public final class SocketConnector: TransportConnector {
    private let address: SocketAddress
    private let loop: EventLoop

    public init(address: SocketAddress, loop: EventLoop) {
        self.address = address
        self.loop = loop
    }

    public func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool) {
        let (fd, connected) = try Socket.connect(address)
        return (SocketTransport(fd: fd, loop: loop), connected)
    }
}
