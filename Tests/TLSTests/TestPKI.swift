import Foundation
import XCTest

/// Certificates for the tests, made at run time with the `openssl` CLI in a fresh temporary
/// directory (nothing is committed, nothing outside it is read): a root CA and an intermediate,
/// servers for `localhost` and 127.0.0.1 chained through the intermediate, a client signed by the
/// root, a second unrelated CA with its own server and client, an expired server certificate and an
/// encrypted key. EC P-256 throughout: key generation is instant.
final class TestPKI: @unchecked Sendable {
    let directory: URL

    /// Made once per test process; every test reads it.
    static let shared: Result<TestPKI, Error> = Result { try TestPKI() }

    static func get() throws -> TestPKI { try shared.get() }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    var rootCA: String { path("root-ca.pem") }
    var otherCA: String { path("other-ca.pem") }
    /// Leaf then intermediate.
    var serverChain: String { path("server-chain.pem") }
    var serverKey: String { path("server.key") }
    var server2Chain: String { path("server2-chain.pem") }
    var server2Key: String { path("server2.key") }
    var otherServerChain: String { path("other-server.pem") }
    var otherServerKey: String { path("other-server.key") }
    var expiredServerChain: String { path("expired-chain.pem") }
    var expiredServerKey: String { path("expired.key") }
    var clientCert: String { path("client.pem") }
    var clientKey: String { path("client.key") }
    var otherClientCert: String { path("other-client.pem") }
    var otherClientKey: String { path("other-client.key") }
    /// `serverKey` encrypted with a passphrase.
    var encryptedServerKey: String { path("server-encrypted.key") }

    static let serverSubject = "CN=traceproxy test server,O=traceproxy tests"
    static let server2Subject = "CN=traceproxy test server 2,O=traceproxy tests"
    static let clientSubject = "CN=traceproxy test client,O=traceproxy tests"

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("traceproxy-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try write("ext.cnf", Self.extensions)
        try write("sign.cnf", Self.caConfig)
        try write("index.txt", "")
        try write("serial", "1000\n")

        try selfSigned("root-ca", subject: "/O=traceproxy tests/CN=traceproxy test root CA")
        try issue(
            "intermediate", subject: "/O=traceproxy tests/CN=traceproxy test intermediate CA", by: "root-ca",
            extensions: "intermediate")
        try issue(
            "server", subject: "/O=traceproxy tests/CN=traceproxy test server", by: "intermediate", extensions: "server"
        )
        try concatenate(["server.pem", "intermediate.pem"], into: "server-chain.pem")
        try issue(
            "server2", subject: "/O=traceproxy tests/CN=traceproxy test server 2", by: "intermediate",
            extensions: "server")
        try concatenate(["server2.pem", "intermediate.pem"], into: "server2-chain.pem")
        try issue(
            "client", subject: "/O=traceproxy tests/CN=traceproxy test client", by: "root-ca", extensions: "client")

        try selfSigned("other-ca", subject: "/CN=unrelated test CA")
        try issue("other-server", subject: "/CN=localhost", by: "other-ca", extensions: "server")
        try issue("other-client", subject: "/CN=unrelated client", by: "other-ca", extensions: "client")

        // `openssl x509` cannot date a certificate in the past; `openssl ca` can.
        try newKey("expired")
        try openssl(["req", "-new", "-key", "expired.key", "-subj", "/CN=expired server", "-out", "expired.csr"])
        try openssl([
            "ca", "-batch", "-notext", "-config", "sign.cnf", "-cert", "intermediate.pem", "-keyfile",
            "intermediate.key", "-in", "expired.csr", "-out", "expired.pem", "-startdate", "20200101000000Z",
            "-enddate", "20200201000000Z", "-extfile", "ext.cnf", "-extensions", "server",
        ])
        try concatenate(["expired.pem", "intermediate.pem"], into: "expired-chain.pem")
        try openssl(["pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret", "-out", "server-encrypted.key"])
    }

    private func newKey(_ name: String) throws {
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(name).key"])
    }

    private func selfSigned(_ name: String, subject: String) throws {
        try newKey(name)
        try openssl([
            "req", "-x509", "-new", "-key", "\(name).key", "-subj", subject, "-days", "3650", "-config", "ext.cnf",
            "-extensions", "ca", "-out", "\(name).pem",
        ])
    }

    private func issue(_ name: String, subject: String, by issuer: String, extensions: String) throws {
        try newKey(name)
        try openssl([
            "req", "-new", "-key", "\(name).key", "-subj", subject, "-config", "ext.cnf", "-out", "\(name).csr",
        ])
        try openssl([
            "x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).pem", "-CAkey", "\(issuer).key",
            "-CAcreateserial", "-days", "3650", "-extfile", "ext.cnf", "-extensions", extensions, "-out", "\(name).pem",
        ])
    }

    private func concatenate(_ names: [String], into name: String) throws {
        var data = Data()
        for n in names { data += try Data(contentsOf: directory.appendingPathComponent(n)) }
        try data.write(to: directory.appendingPathComponent(name))
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try runTool("/usr/bin/openssl", arguments, in: directory)
        guard result.status == 0 else {
            throw SetupError("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    private static let extensions = """
        [req]
        distinguished_name = dn
        [dn]
        [ca]
        basicConstraints = critical, CA:TRUE
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        [intermediate]
        basicConstraints = critical, CA:TRUE, pathlen:0
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid
        [server]
        basicConstraints = CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:localhost, IP:127.0.0.1
        [client]
        basicConstraints = CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = clientAuth

        """

    private static let caConfig = """
        [ca]
        default_ca = test
        [test]
        database = index.txt
        serial = serial
        new_certs_dir = .
        default_md = sha256
        policy = anything
        unique_subject = no
        [anything]
        commonName = supplied

        """
}

/// Runs a tool to completion and returns its exit status and output.
func runTool(_ path: String, _ arguments: [String], in directory: URL? = nil) throws -> (
    status: Int32, stdout: String, stderr: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read one pipe, then the other: fine for these tools, whose output is far below a pipe's
    // 64 KB (a larger stderr would block the tool while we wait on stdout).
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
