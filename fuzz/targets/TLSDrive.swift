// Support for the tls_server_handshake target (fuzz/targets/tls_server_handshake.swift): compiled
// into one module with Sources/TLS (the files that do not need Reactor), so internal API such as
// `TLSSession.handleForTesting` and `TLSContext.handle` is reachable. See fuzz/run.sh.

import CSSL
import CTLSFuzz

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - deterministic randomness

/// OpenSSL's random source, replaced by SplitMix64 streams that restart at a fixed state before each
/// run of an input. One stream per party, switched by whoever calls into a session, so the
/// server's randoms do not depend on whether a live client drew numbers in between: a client flight
/// recorded from a live handshake is answered by the same ServerHello when it is replayed alone,
/// and its Finished still verifies.
enum FuzzRandom {
    enum Stream: Int {
        case setup = 0
        case server = 1
        case client = 2
    }

    nonisolated(unsafe) private static let states = UnsafeMutablePointer<UInt64>.allocate(capacity: 3)
    nonisolated(unsafe) private static var current = Stream.setup

    static func install() {
        reset()
        current = .setup
        fuzzCheck(traceproxy_fuzz_install_rand(fill) == 1, "cannot replace OpenSSL's random source")
    }

    /// Every stream back to its fixed start.
    static func reset() {
        for i in 0..<3 { states[i] = 0x7472_6163_6570_726F &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
    }

    static func with<T>(_ stream: Stream, _ body: () throws -> T) rethrows -> T {
        let saved = current
        current = stream
        defer { current = saved }
        return try body()
    }

    private static let fill: @convention(c) (UnsafeMutablePointer<UInt8>?, Int32) -> Int32 = { buffer, count in
        guard let buffer, count > 0 else { return 1 }
        let slot = FuzzRandom.current.rawValue
        var x = FuzzRandom.states[slot]
        var i = 0
        while i < Int(count) {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for k in 0..<8 where i < Int(count) {
                buffer[i] = UInt8(truncatingIfNeeded: z >> UInt64(8 * k))
                i += 1
            }
        }
        FuzzRandom.states[slot] = x
        return 1
    }
}

// MARK: - coverage from inside OpenSSL

/// libssl is not instrumented, so libFuzzer sees none of its branches; what the target observes
/// there (state machine transitions, the ClientHello's extensions, failure texts, negotiated
/// parameters) becomes extra coverage features instead (CTLSFuzz's counters).
enum Feature {
    static func note(_ parts: Int...) {
        var h: UInt32 = 2_166_136_261
        for p in parts {
            for k in 0..<4 {
                h ^= UInt32(truncatingIfNeeded: p >> (8 * k)) & 0xFF
                h = h &* 16_777_619
            }
        }
        traceproxy_fuzz_feature(h)
    }

    static func note(_ tag: Int, text: String) {
        var h: Int = 0
        for byte in text.utf8 { h = (h &* 31) &+ Int(byte) }
        note(tag, h)
    }

    /// SSL_CTX_set_client_hello_cb: reports the ClientHello's shape and lets the handshake go on
    /// unchanged.
    static let helloObserver:
        @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?)
            -> Int32 = { ssl, _, _ in
                guard let ssl else { return 1 }
                var ids: UnsafeMutablePointer<Int32>?
                var count = 0
                if SSL_client_hello_get1_extensions_present(ssl, &ids, &count) == 1, let ids {
                    for i in 0..<count { Feature.note(5, Int(ids[i]), i < 32 ? i : 32) }
                    Feature.note(6, count)
                    traceproxy_OPENSSL_free(ids)
                }
                var ciphers: UnsafePointer<UInt8>?
                Feature.note(7, min(SSL_client_hello_get0_ciphers(ssl, &ciphers) / 2, 64))
                Feature.note(8, Int(SSL_client_hello_isv2(ssl)), Int(SSL_client_hello_get0_legacy_version(ssl)))
                return 1
            }
}

// MARK: - the PKI and the contexts

/// The four server configurations an input can pick (control byte bits 1-2).
enum ServerVariant: Int, CaseIterable {
    /// `TLSConfiguration.server`: TLS 1.2 and 1.3, ALPN http/1.1.
    case plain = 0
    /// The same with `clientCAFile` (mTLS: a client certificate from the fixture CA is required).
    case clientCertificates = 1
    /// `minimumVersion = .tls13`.
    case tls13Only = 2
    /// A TLS 1.2 cipher list that prefers CBC suites (encrypt-then-MAC, padding checks).
    case cbcFirst = 3
}

/// The live client of mutual mode, from the input's second byte.
struct ClientSetup {
    let raw: UInt8

    static let alpnLists: [[String]] = [[], ["http/1.1"], ["h2"], ["h2", "http/1.1"]]
    static let cipherLists: [String?] = [
        nil, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA",
    ]

    /// Bit 0: at most TLS 1.2 (SSL_set_max_proto_version on the session).
    var maxTLS12: Bool { raw & 1 != 0 }
    /// Bits 1-2: the ALPN list offered.
    var alpn: [String] { Self.alpnLists[Int(raw >> 1) & 3] }
    /// Bit 3: the client has the fixture's client certificate.
    var certificate: Bool { raw & 8 != 0 }
    /// Bits 4-5: the TLS 1.2 cipher list.
    var cipherIndex: Int { Int(raw >> 4) & 3 }
    /// Bit 6: the server is named by IP address (verified against the IP SAN, no SNI sent).
    var serverName: String { raw & 0x40 != 0 ? "127.0.0.1" : "localhost" }
    /// Bit 7: the client ends with close_notify (otherwise the connection just ends).
    var closeNotify: Bool { raw & 0x80 != 0 }

    var contextIndex: Int { (Int(raw >> 1) & 3) | (certificate ? 4 : 0) | cipherIndex << 3 }
}

/// The contexts, built once per process from the fixture PEMs written to a temporary directory
/// (removed again once OpenSSL has read them).
final class TLSWorld {
    nonisolated(unsafe) static let shared = TLSWorld()

    let servers: [TLSContext]
    /// Indexed by `ClientSetup.contextIndex`.
    let clients: [TLSContext]

    private init() {
        FuzzRandom.install()
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/traceproxy-tlsfuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed: errno \(errno)") }
        let dir = String(cString: made)
        var files: [String] = []
        func write(_ name: String, _ text: String) -> String {
            let path = "\(dir)/\(name)"
            guard let f = fopen(path, "w") else { fatalError("cannot write \(path)") }
            _ = Array(text.utf8).withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            fclose(f)
            files.append(path)
            return path
        }
        let ca = write("ca.pem", TLSFixture.caCertificate)
        let serverCert = write("server.pem", TLSFixture.serverCertificate)
        let serverKey = write("server.key", TLSFixture.serverKey)
        let clientCert = write("client.pem", TLSFixture.clientCertificate)
        let clientKey = write("client.key", TLSFixture.clientKey)
        defer {
            for f in files { unlink(f) }
            rmdir(dir)
        }

        func build(_ c: TLSConfiguration) -> TLSContext {
            do {
                return try TLSContext(c)
            } catch {
                fatalError("fixture context: \(error)")
            }
        }
        servers = ServerVariant.allCases.map { variant in
            var c = TLSConfiguration.server(certificateChainFile: serverCert, privateKeyFile: serverKey)
            switch variant {
            case .plain: break
            case .clientCertificates: c.clientCAFile = ca
            case .tls13Only: c.minimumVersion = .tls13
            case .cbcFirst:
                c.cipherList =
                    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:"
                    + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
            }
            let context = build(c)
            SSL_CTX_set_client_hello_cb(context.handle, Feature.helloObserver, nil)
            return context
        }
        clients = (0..<32).map { index in
            let setup = ClientSetup(raw: UInt8((index & 3) << 1 | (index & 4) << 1 | (index >> 3) << 4))
            var c = TLSConfiguration.client(
                serverName: "localhost", trustRoots: .file(ca), applicationProtocols: setup.alpn)
            c.cipherList = ClientSetup.cipherLists[setup.cipherIndex]
            if setup.certificate {
                c.certificateChainFile = clientCert
                c.privateKeyFile = clientKey
            }
            return build(c)
        }
    }

    /// Empties the server's session cache, so that no run depends on the sessions of earlier ones
    /// (with the deterministic random source every run would otherwise offer the same session id).
    func forgetSessions(_ variant: ServerVariant) {
        SSL_CTX_flush_sessions(servers[variant.rawValue].handle, 0)
    }
}

// MARK: - cutting bytes into pieces

/// The TLS records in `bytes` (5-byte header plus the length it gives); a malformed or partial tail
/// is one more range.
func recordRanges(_ bytes: [UInt8]) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var pos = 0
    while pos < bytes.count {
        guard bytes.count - pos >= 5 else {
            out.append(pos..<bytes.count)
            break
        }
        let end = pos + 5 + (Int(bytes[pos + 3]) << 8 | Int(bytes[pos + 4]))
        if end > bytes.count {
            out.append(pos..<bytes.count)
            break
        }
        out.append(pos..<end)
        pos = end
    }
    return out
}

/// How ciphertext reaches the server (control byte bits 3-5).
enum TLSFeeding: Int, CaseIterable {
    case whole = 0
    case byteByByte
    case random64
    case random8
    /// One record per piece.
    case records
    /// Each record's header, then its body.
    case headersApart
    case halves
    case random1024

    func pieces(_ bytes: [UInt8]) -> [Range<Int>] {
        let count = bytes.count
        if count == 0 { return [] }
        switch self {
        case .whole: return [0..<count]
        case .byteByByte: return (0..<count).map { $0..<$0 + 1 }
        case .random64, .random8, .random1024:
            let max = self == .random8 ? 8 : self == .random64 ? 64 : 1024
            var s = Splitter(seed: count &+ rawValue)
            var out: [Range<Int>] = []
            var pos = 0
            while pos < count {
                let n = min(s.next(max: max), count - pos)
                out.append(pos..<pos + n)
                pos += n
            }
            return out
        case .records: return recordRanges(bytes)
        case .headersApart:
            return recordRanges(bytes).flatMap { r -> [Range<Int>] in
                r.count > 5 ? [r.lowerBound..<r.lowerBound + 5, r.lowerBound + 5..<r.upperBound] : [r]
            }
        case .halves: return count < 2 ? [0..<count] : [0..<count / 2, count / 2..<count]
        }
    }
}

// MARK: - driving the server

/// What a server session ended with; two runs of one input must agree on it.
struct ServerOutcome: Equatable, CustomStringConvertible {
    var state: TLSSession.HandshakeState
    var reason: TLSFailureReason?
    var message: String?
    var info: TLSHandshakeInfo?
    var plaintext: [UInt8]
    var closeNotify: Bool
    /// The records the server wrote, by type and length, plaintext alerts with their level and
    /// description. Not the bytes: a TLS 1.3 session ticket encrypts the session's creation time
    /// in seconds (time(NULL), which the random source does not cover), so two runs a second apart
    /// differ there.
    var output: [Int]

    var description: String {
        "\(state) reason=\(reason.map(\.rawValue) ?? "-") message=\(message ?? "-") info=\(info.map { "\($0)" } ?? "-")"
            + " plaintext=\(plaintext.count)B closeNotify=\(closeNotify) output=\(output.count) records"
    }

    /// `ServerOutcome.output` of some server output (whole records; see `checkRecords`).
    static func shape(of output: [UInt8]) -> [Int] {
        recordRanges(output).map { r in
            guard r.count >= 5 else { return -r.count }
            let type = Int(output[r.lowerBound])
            if type == 21 && r.count == 7 {
                return type << 24 | Int(output[r.lowerBound + 5]) << 8 | Int(output[r.lowerBound + 6])
            }
            return type << 24 | (r.count - 5)
        }
    }
}

/// A server session fed ciphertext: after each piece it runs the handshake, reads all the
/// plaintext it can (into a buffer of the chosen size) and takes the ciphertext it wrote.
final class ServerDriver {
    let session: TLSSession
    let variant: ServerVariant
    private(set) var plaintext: [UInt8] = []
    private(set) var output: [UInt8] = []
    private var handedOver = 0
    private var lastState = -1
    private let buffer: UnsafeMutableRawBufferPointer

    init(_ variant: ServerVariant, readSize: Int) {
        self.variant = variant
        do {
            session = try FuzzRandom.with(.server) { try TLSWorld.shared.servers[variant.rawValue].makeSession() }
        } catch {
            fatalError("server session: \(error)")
        }
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 1)
    }

    deinit { buffer.deallocate() }

    /// Feeds `bytes` in the pieces `feeding` cuts, each in a buffer of its exact size (ASan sees an
    /// over-read), with a step after each.
    func feed(_ bytes: [UInt8], _ feeding: TLSFeeding) {
        for r in feeding.pieces(bytes) {
            let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: r.count, alignment: 1)
            piece.copyBytes(from: bytes[r])
            session.feedCiphertext(UnsafeRawBufferPointer(piece))
            piece.deallocate()
            step()
        }
    }

    func step() {
        FuzzRandom.with(.server) {
            session.advanceHandshake()
            reading: while true {
                let result = session.readPlaintext(into: buffer)
                switch result {
                case .bytes(let n):
                    fuzzCheck(n > 0 && n <= buffer.count, "read \(n) bytes into \(buffer.count)")
                    fuzzCheck(session.handshakeState == .done, "plaintext before the handshake finished")
                    plaintext += UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                    Feature.note(2, 0, min(n, 64))
                case .wantMore:
                    Feature.note(2, 1)
                    break reading
                case .closed:
                    Feature.note(2, 2, session.receivedCloseNotify ? 1 : 0)
                    break reading
                case .error(let e):
                    fuzzCheck(e == session.failure, "read error \(e) is not the session's failure")
                    Feature.note(3, text: e.message)
                    break reading
                }
            }
            output += session.takeCiphertext()
        }
        let state = Int(SSL_get_state(session.handleForTesting).rawValue)
        Feature.note(1, variant.rawValue, lastState, state)
        lastState = state
    }

    /// The peer closed: EOF, then one more step.
    func finish() {
        session.feedEOF()
        step()
        if let info = session.info {
            Feature.note(4, text: "\(info.protocolVersion) \(info.cipher) \(info.applicationProtocol ?? "-")")
        }
        TLSWorld.shared.forgetSessions(variant)
    }

    /// Output written since the last call (for a live client).
    func takeNewOutput() -> [UInt8] {
        defer { handedOver = output.count }
        return Array(output[handedOver...])
    }

    var outcome: ServerOutcome {
        ServerOutcome(
            state: session.handshakeState, reason: session.failure?.reason, message: session.failure?.message,
            info: session.info, plaintext: plaintext, closeNotify: session.receivedCloseNotify,
            output: ServerOutcome.shape(of: output))
    }
}
