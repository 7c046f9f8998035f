import TLS
import XCTest

/// Two sessions wired back to back in memory, no sockets: what one writes the other is fed.
struct SessionPair {
    let client: TLSSession
    let server: TLSSession

    init(client: TLSContext, server: TLSContext, serverName: String? = nil) throws {
        self.client = try client.makeSession(serverName: serverName)
        self.server = try server.makeSession()
    }

    /// Moves ciphertext both ways once; true when anything moved.
    @discardableResult
    func shuttle() -> Bool {
        let toServer = client.takeCiphertext()
        let toClient = server.takeCiphertext()
        if !toServer.isEmpty { server.feedCiphertext(toServer) }
        if !toClient.isEmpty { client.feedCiphertext(toClient) }
        return !toServer.isEmpty || !toClient.isEmpty
    }

    /// Runs both handshakes until neither side has anything more to say.
    func handshake() {
        for _ in 0..<20 {
            client.advanceHandshake()
            server.advanceHandshake()
            if !shuttle() { return }
        }
        XCTFail("the handshake did not settle")
    }

    /// Reads everything `session` can give now.
    static func readAll(_ session: TLSSession) -> (bytes: [UInt8], last: TLSSession.ReadResult) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let r = session.readPlaintext(into: &buffer)
            guard case .bytes(let n) = r else { return (out, r) }
            out += buffer[0..<n]
        }
    }
}

/// Contexts from the test PKI.
enum Contexts {
    static func server(
        chain: String? = nil, key: String? = nil, clientCA: String? = nil,
        minimum: TLSConfiguration.ProtocolVersion = .tls12,
        alpn: [String] = ["http/1.1"]
    ) throws -> TLSContext {
        let pki = try TestPKI.get()
        var c = TLSConfiguration.server(
            certificateChainFile: chain ?? pki.serverChain, privateKeyFile: key ?? pki.serverKey, clientCAFile: clientCA
        )
        c.minimumVersion = minimum
        c.applicationProtocols = alpn
        return try TLSContext(c)
    }

    static func client(
        serverName: String? = "localhost", trust: String? = nil, cert: String? = nil, key: String? = nil,
        alpn: [String] = [], minimum: TLSConfiguration.ProtocolVersion = .tls12, verify: Bool = true
    ) throws -> TLSContext {
        let pki = try TestPKI.get()
        var c = TLSConfiguration.client(
            serverName: serverName, trustRoots: .file(trust ?? pki.rootCA), applicationProtocols: alpn)
        c.certificateChainFile = cert
        c.privateKeyFile = key
        c.minimumVersion = minimum
        c.verifyPeer = verify
        return try TLSContext(c)
    }
}

/// Compares byte strings by length and first difference: XCTAssertEqual on megabytes prints them all.
func assertSameBytes(
    _ actual: [UInt8], _ expected: [UInt8], _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    if actual == expected { return }
    let common = min(actual.count, expected.count)
    let firstDifference = (0..<common).first { actual[$0] != expected[$0] } ?? common
    XCTFail(
        "\(message) \(actual.count) bytes, expected \(expected.count); first difference at \(firstDifference)",
        file: file, line: line)
}
