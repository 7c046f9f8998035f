/// What a TLS client connection agreed on, for the spans of its requests. Made once per
/// connection when its handshake finishes and shared by reference, so a span carries it for the
/// cost of a retain.
public final class TLSFacts: Sendable, Equatable {
    /// `1.2` or `1.3` (OpenTelemetry's `tls.protocol.version`).
    public let protocolVersion: String
    /// OpenSSL's name of the cipher suite.
    public let cipher: String
    /// The SNI name the client asked for, if any.
    public let serverName: String?
    /// The client certificate's subject (mTLS), if one was shown.
    public let clientSubject: String?

    public init(protocolVersion: String, cipher: String, serverName: String?, clientSubject: String?) {
        self.protocolVersion = protocolVersion
        self.cipher = cipher
        self.serverName = serverName
        self.clientSubject = clientSubject
    }

    public static func == (a: TLSFacts, b: TLSFacts) -> Bool {
        a.protocolVersion == b.protocolVersion && a.cipher == b.cipher && a.serverName == b.serverName
            && a.clientSubject == b.clientSubject
    }
}
