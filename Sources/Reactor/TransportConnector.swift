/// Opens byte transports to one destination: real sockets in the proxy, in-memory pipes in tests.
public protocol TransportConnector: AnyObject {
    /// Starts a connection; `connected` is true when it is already up (loopback often is),
    /// otherwise the transport reports writable once the connect finished (see `connectError`).
    func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool)
}

/// Non-blocking TCP connects to one destination, registered with one loop. A name's current
/// address is read once per connect; while it has none, connect throws its resolver failure.
public final class SocketConnector: TransportConnector {
    private let name: ResolvedName
    private let loop: EventLoop

    public init(name: ResolvedName, loop: EventLoop) {
        self.name = name
        self.loop = loop
    }

    public func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool) {
        guard let address = name.address else { throw name.unresolvedError() }
        let (fd, connected) = try Socket.connect(address)
        return (SocketTransport(fd: fd, loop: loop), connected)
    }
}
