/// What a finished handshake agreed, for spans, access logs and the metrics of the listener or
/// connector that owns the session (OpenSSL's own objects stay inside the module).
public struct TLSHandshakeInfo: Equatable, Sendable {
    /// "TLSv1.2" or "TLSv1.3", as OpenSSL names them.
    public let protocolVersion: String
    /// OpenSSL's cipher suite name ("TLS_AES_256_GCM_SHA384").
    public let cipher: String
    /// The ALPN protocol selected, nil when none was (the client offered none, or none we accept).
    public let applicationProtocol: String?
    /// SNI: on a server, the name the client asked for; on a client, the name it sent.
    public let serverName: String?
    /// The peer certificate's subject in RFC 2253 form ("CN=client,O=Example"); a server only sees
    /// one under mTLS.
    public let peerSubject: String?

    public init(
        protocolVersion: String, cipher: String, applicationProtocol: String?, serverName: String?,
        peerSubject: String?
    ) {
        self.protocolVersion = protocolVersion
        self.cipher = cipher
        self.applicationProtocol = applicationProtocol
        self.serverName = serverName
        self.peerSubject = peerSubject
    }
}
