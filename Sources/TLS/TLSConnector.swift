import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Opens TLS connections through another connector (a `SocketConnector` for an HTTPS upstream).
/// Connections are never reported as already connected: to the caller "connected" means the
/// handshake finished, and the transport says so by becoming writable (`connectError` is then 0,
/// or the connect's errno, or EPROTO for a failed handshake), so an upstream's connect timeout
/// covers the handshake too.
///
/// Loop-confined, like the connections it makes.
public final class TLSConnector: TransportConnector {
    /// Swappable on the loop (a reload of client certificates): later connections use the new one.
    public var context: TLSContext
    /// Given to each new transport; see `TLSTransport.onHandshake`.
    public var onHandshake: ((Result<TLSHandshakeInfo, TLSError>) -> Void)?
    private let inner: TransportConnector
    private let serverName: String?
    private let scheduler: ReadinessScheduler

    /// `serverName` overrides the context's (one client context shared by several upstreams).
    /// Throws when no session could be made: a missing or malformed server name surfaces at start-up,
    /// not at the first connect.
    public init(
        inner: TransportConnector, context: TLSContext, serverName: String? = nil, scheduler: ReadinessScheduler
    ) throws(TLSError) {
        _ = try context.makeSession(serverName: serverName)
        self.inner = inner
        self.context = context
        self.serverName = serverName
        self.scheduler = scheduler
    }

    public func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool) {
        let session: TLSSession
        do {
            session = try context.makeSession(serverName: serverName)
        } catch {
            // `init` made one from the same inputs; only memory exhaustion fails here.
            throw SystemError("TLS session (\(error.message))", ENOMEM)
        }
        let (transport, connected) = try inner.connect()
        let tls = TLSTransport(wrapping: transport, session: session, scheduler: scheduler, connecting: !connected)
        tls.onHandshake = onHandshake
        return (tls, false)
    }
}
