/// Everything a `TLSContext` is built from, as a value: start-up code and a SIGHUP reload compare
/// and log it without touching OpenSSL. Files are PEM; nothing is read until the context is built.
public struct TLSConfiguration: Equatable, Sendable {
    public enum Role: Equatable, Sendable {
        case server
        case client
    }

    /// Where the certificates that vouch for the peer come from.
    public enum TrustRoots: Equatable, Sendable {
        /// The system store (Debian: /etc/ssl/certs), as curl and the platform's clients use.
        case system
        /// A PEM bundle of CA certificates, for a private CA.
        case file(String)
    }

    /// Only versions without known breaks: an older one cannot be asked for.
    public enum ProtocolVersion: Comparable, Sendable {
        case tls12
        case tls13
    }

    public var role: Role
    /// Our certificate, then any intermediates (a "full chain" file); the server's identity, or a
    /// client's for mTLS.
    public var certificateChainFile: String?
    public var privateKeyFile: String?
    /// What a client checks the server's chain against.
    public var trustRoots: TrustRoots
    /// A client that does not verify accepts any server (tests, a collector on a private network
    /// by explicit choice); on by default because the silent failure mode is an open door.
    public var verifyPeer: Bool
    /// Client: the DNS name or IP address the server's certificate must name. A name is also sent
    /// as SNI; an IP address is checked against the certificate's IP SANs and not sent (RFC 6066
    /// forbids addresses in SNI). A session may override it per connection.
    public var serverName: String?
    /// Server: requiring a client certificate signed by one of these CAs (mTLS) when set.
    public var clientCAFile: String?
    public var minimumVersion: ProtocolVersion
    /// OpenSSL cipher-list syntax for TLS 1.2 (TLS 1.3 suites are all AEAD and left at the default).
    public var cipherList: String?
    /// ALPN. Server: the protocols it selects from, in preference order (the client's first match
    /// with this list wins; no match means no ALPN, not a failed handshake). Client: what it offers.
    public var applicationProtocols: [String]

    public init(
        role: Role, certificateChainFile: String? = nil, privateKeyFile: String? = nil,
        trustRoots: TrustRoots = .system, verifyPeer: Bool = true, serverName: String? = nil,
        clientCAFile: String? = nil, minimumVersion: ProtocolVersion = .tls12, cipherList: String? = nil,
        applicationProtocols: [String] = []
    ) {
        self.role = role
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.trustRoots = trustRoots
        self.verifyPeer = verifyPeer
        self.serverName = serverName
        self.clientCAFile = clientCAFile
        self.minimumVersion = minimumVersion
        self.cipherList = cipherList
        self.applicationProtocols = applicationProtocols
    }

    /// An HTTPS listener: selects `http/1.1` when the client offers it.
    public static func server(
        certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil
    ) -> TLSConfiguration {
        TLSConfiguration(
            role: .server, certificateChainFile: certificateChainFile, privateKeyFile: privateKeyFile,
            clientCAFile: clientCAFile, applicationProtocols: ["http/1.1"])
    }

    /// An HTTPS upstream or a collector: verifies the server against `trustRoots` and `serverName`.
    public static func client(
        serverName: String?, trustRoots: TrustRoots = .system, applicationProtocols: [String] = []
    ) -> TLSConfiguration {
        TLSConfiguration(
            role: .client, trustRoots: trustRoots, serverName: serverName, applicationProtocols: applicationProtocols)
    }
}
