import CSSL

/// A built `TLSConfiguration`: certificates and keys loaded and checked, OpenSSL's `SSL_CTX` set
/// up. Building is where every configuration mistake surfaces (missing file, key not matching the
/// certificate, unknown cipher), with OpenSSL's own words, so start-up and a SIGHUP reload can
/// refuse a bad configuration before any connection sees it.
///
/// `@unchecked Sendable`: the `SSL_CTX` is only written during `init`; afterwards loops create
/// sessions from it concurrently, which OpenSSL supports (its reference count and session cache
/// are locked internally). Swapping contexts is swapping a reference: each session holds its own,
/// so connections accepted before a reload finish with the old certificates.
public final class TLSContext: @unchecked Sendable {
    public let configuration: TLSConfiguration
    let handle: OpaquePointer
    /// The server's ALPN list (a 2-byte length, then the wire form), read by the selection callback
    /// during handshakes; sessions keep their context alive, so it outlives them.
    private let alpnList: UnsafeMutableRawPointer?

    public init(_ configuration: TLSConfiguration) throws(TLSError) {
        try Self.validate(configuration)
        OpenSSLErrorQueue.clear()
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        guard let ctx = SSL_CTX_new(method) else {
            throw OpenSSLErrorQueue.configurationError("cannot create an OpenSSL context")
        }
        var alpn: UnsafeMutableRawPointer?
        do throws(TLSError) {
            try Self.setUp(ctx, configuration)
            alpn = try Self.setUpALPN(ctx, configuration)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.configuration = configuration
        handle = ctx
        alpnList = alpn
    }

    deinit {
        SSL_CTX_free(handle)
        alpnList?.deallocate()
    }

    /// A session for one connection. `serverName` (clients only) overrides the configuration's, for
    /// a context shared by connections to several hosts.
    public func makeSession(serverName: String? = nil) throws(TLSError) -> TLSSession {
        try TLSSession(context: self, serverName: serverName ?? configuration.serverName)
    }

    /// Mistakes OpenSSL would accept silently or report obscurely.
    private static func validate(_ c: TLSConfiguration) throws(TLSError) {
        switch (c.certificateChainFile, c.privateKeyFile) {
        case (nil, nil):
            if c.role == .server {
                throw TLSError(.configuration, "a TLS server needs a certificate chain file and a private key file")
            }
        case (.some, nil): throw TLSError(.configuration, "a certificate chain file needs its private key file")
        case (nil, .some): throw TLSError(.configuration, "a private key file needs its certificate chain file")
        case (.some, .some): break
        }
        if c.role == .client && c.clientCAFile != nil {
            throw TLSError(.configuration, "a client CA file is for servers (it asks clients for certificates)")
        }
        if let name = c.serverName { _ = try ServerName(name) }
    }

    private static func setUp(_ ctx: OpaquePointer, _ c: TLSConfiguration) throws(TLSError) {
        let version = c.minimumVersion == .tls13 ? TLS1_3_VERSION : TLS1_2_VERSION
        if traceproxy_SSL_CTX_set_min_proto_version(ctx, version) != 1 {
            throw OpenSSLErrorQueue.configurationError("cannot set the minimum TLS version")
        }
        var options = TRACEPROXY_SSL_OP_NO_RENEGOTIATION | TRACEPROXY_SSL_OP_NO_COMPRESSION
        if c.role == .server { options |= TRACEPROXY_SSL_OP_CIPHER_SERVER_PREFERENCE }
        SSL_CTX_set_options(ctx, options)
        // Partial writes and moving buffers: a write reports what one call took and the caller may
        // retry from a buffer that has since moved. Released buffers: an idle keep-alive
        // connection does not hold 34 KB of record buffers.
        _ = traceproxy_SSL_CTX_set_mode(
            ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        // An encrypted key would otherwise make OpenSSL prompt on the terminal of a daemon.
        SSL_CTX_set_default_passwd_cb(ctx) { _, _, _, _ in 0 }
        if let ciphers = c.cipherList, SSL_CTX_set_cipher_list(ctx, ciphers) != 1 {
            throw OpenSSLErrorQueue.configurationError("cipher list \(ciphers.debugDescription) selects no cipher")
        }
        if let chain = c.certificateChainFile, let key = c.privateKeyFile {
            try loadIdentity(ctx, chain: chain, key: key)
        }
        switch c.role {
        case .client:
            if c.verifyPeer {
                try loadTrust(ctx, c.trustRoots)
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            } else {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            }
        case .server:
            if let caFile = c.clientCAFile {
                try requireClientCertificates(ctx, caFile: caFile)
            }
            // Resumed sessions are tied to this context: without an id context OpenSSL refuses to
            // resume a session that verified a client certificate.
            let id: [UInt8] = Array("traceproxy".utf8)
            _ = SSL_CTX_set_session_id_context(ctx, id, UInt32(id.count))
        }
    }

    private static func loadIdentity(_ ctx: OpaquePointer, chain: String, key: String) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        if SSL_CTX_use_certificate_chain_file(ctx, chain) != 1 {
            throw OpenSSLErrorQueue.configurationError("cannot read certificate chain \(chain)")
        }
        OpenSSLErrorQueue.clear()
        if SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 {
            let entries = OpenSSLErrorQueue.drain()
            // OpenSSL checks the key against the certificate while loading it.
            if entries.contains(where: { $0.library == ERR_LIB_X509 && $0.reason == X509_R_KEY_VALUES_MISMATCH }) {
                throw TLSError(.configuration, "private key \(key) does not match the certificate in \(chain)")
            }
            throw TLSError(.configuration, "cannot read private key \(key): \(OpenSSLErrorQueue.describe(entries))")
        }
        if SSL_CTX_check_private_key(ctx) != 1 {
            let detail = OpenSSLErrorQueue.describe(OpenSSLErrorQueue.drain())
            throw TLSError(.configuration, "private key \(key) does not match the certificate in \(chain): \(detail)")
        }
    }

    private static func loadTrust(_ ctx: OpaquePointer, _ roots: TLSConfiguration.TrustRoots) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        switch roots {
        case .system:
            if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                throw OpenSSLErrorQueue.configurationError("cannot load the system's trusted CA certificates")
            }
        case .file(let path):
            if SSL_CTX_load_verify_locations(ctx, path, nil) != 1 {
                throw OpenSSLErrorQueue.configurationError("cannot read CA file \(path)")
            }
        }
    }

    /// mTLS: verify against `caFile`, name its CAs in the CertificateRequest, and fail the handshake
    /// when the client sends no certificate.
    private static func requireClientCertificates(_ ctx: OpaquePointer, caFile: String) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        if SSL_CTX_load_verify_locations(ctx, caFile, nil) != 1 {
            throw OpenSSLErrorQueue.configurationError("cannot read client CA file \(caFile)")
        }
        guard let names = SSL_load_client_CA_file(caFile) else {
            throw OpenSSLErrorQueue.configurationError("cannot read client CA file \(caFile)")
        }
        if traceproxy_sk_X509_NAME_num(names) == 0 {
            traceproxy_sk_X509_NAME_pop_free(names)
            throw TLSError(.configuration, "client CA file \(caFile) holds no certificate")
        }
        SSL_CTX_set_client_CA_list(ctx, names)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
    }

    private static func setUpALPN(_ ctx: OpaquePointer, _ c: TLSConfiguration) throws(TLSError)
        -> UnsafeMutableRawPointer?
    {
        if c.applicationProtocols.isEmpty { return nil }
        let wire = try ApplicationProtocols.wireFormat(c.applicationProtocols)
        switch c.role {
        case .client:
            // The one OpenSSL setter that returns 0 on success.
            if SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) != 0 {
                throw OpenSSLErrorQueue.configurationError("cannot set the ALPN protocols")
            }
            return nil
        case .server:
            let list = UnsafeMutableRawPointer.allocate(byteCount: 2 + wire.count, alignment: 2)
            list.storeBytes(of: UInt16(wire.count), as: UInt16.self)
            wire.withUnsafeBytes { (list + 2).copyMemory(from: $0.baseAddress!, byteCount: wire.count) }
            SSL_CTX_set_alpn_select_cb(ctx, ApplicationProtocols.selectCallback, list)
            return list
        }
    }
}
