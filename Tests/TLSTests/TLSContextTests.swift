import TLS
import XCTest

/// Building a context is where configuration mistakes surface, as start-up exit messages and
/// SIGHUP-reload log lines: each names the file and says what OpenSSL found wrong.
final class TLSContextTests: XCTestCase {
    private func buildError(_ configuration: TLSConfiguration, file: StaticString = #filePath, line: UInt = #line)
        -> TLSError?
    {
        do {
            _ = try TLSContext(configuration)
            XCTFail("the context was built", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.reason, .configuration, file: file, line: line)
            return error
        }
    }

    private func assertMessage(
        _ configuration: TLSConfiguration, contains parts: [String], file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error = buildError(configuration, file: file, line: line) else { return }
        for part in parts {
            XCTAssertTrue(
                error.message.contains(part), "\(error.message.debugDescription) lacks \(part.debugDescription)",
                file: file, line: line)
        }
    }

    func test_server_builds_fromChainAndKey() throws {
        let pki = try TestPKI.get()
        let context = try TLSContext(.server(certificateChainFile: pki.serverChain, privateKeyFile: pki.serverKey))
        XCTAssertEqual(context.configuration.applicationProtocols, ["http/1.1"])
        XCTAssertEqual(context.configuration.minimumVersion, .tls12)
    }

    func test_client_systemTrustStore_builds() throws {
        let context = try TLSContext(.client(serverName: "collector.example"))
        XCTAssertEqual(try context.makeSession().serverName, "collector.example")
    }

    func test_missingCertificateFile_namesFileAndErrno() {
        assertMessage(
            .server(certificateChainFile: "/nonexistent/cert.pem", privateKeyFile: "/nonexistent/key.pem"),
            contains: ["cannot read certificate chain /nonexistent/cert.pem", "No such file or directory"])
    }

    func test_notPEM_certificate_saysSo() throws {
        let pki = try TestPKI.get()
        assertMessage(
            .server(certificateChainFile: pki.path("ext.cnf"), privateKeyFile: pki.serverKey),
            contains: ["cannot read certificate chain \(pki.path("ext.cnf"))", "no start line"])
    }

    func test_missingKeyFile_namesFile() throws {
        let pki = try TestPKI.get()
        assertMessage(
            .server(certificateChainFile: pki.serverChain, privateKeyFile: "/nonexistent/key.pem"),
            contains: ["cannot read private key /nonexistent/key.pem", "No such file or directory"])
    }

    func test_keyOfAnotherCertificate_doesNotMatch() throws {
        let pki = try TestPKI.get()
        assertMessage(
            .server(certificateChainFile: pki.serverChain, privateKeyFile: pki.otherServerKey),
            contains: ["private key \(pki.otherServerKey) does not match the certificate in \(pki.serverChain)"])
    }

    func test_encryptedKey_failsInsteadOfPrompting() throws {
        let pki = try TestPKI.get()
        assertMessage(
            .server(certificateChainFile: pki.serverChain, privateKeyFile: pki.encryptedServerKey),
            contains: ["cannot read private key \(pki.encryptedServerKey)"])
    }

    func test_missingCAFile_namesFile() {
        var c = TLSConfiguration.client(serverName: "localhost", trustRoots: .file("/nonexistent/ca.pem"))
        c.verifyPeer = true
        assertMessage(c, contains: ["cannot read CA file /nonexistent/ca.pem", "No such file or directory"])
    }

    func test_clientCAFileWithoutCertificates_refused() throws {
        let pki = try TestPKI.get()
        assertMessage(
            .server(
                certificateChainFile: pki.serverChain, privateKeyFile: pki.serverKey, clientCAFile: pki.path("ext.cnf")),
            contains: ["client CA file \(pki.path("ext.cnf"))"])
    }

    func test_cipherListMatchingNothing_refused() throws {
        let pki = try TestPKI.get()
        var c = TLSConfiguration.server(certificateChainFile: pki.serverChain, privateKeyFile: pki.serverKey)
        c.cipherList = "NOT-A-CIPHER"
        assertMessage(c, contains: ["cipher list \"NOT-A-CIPHER\" selects no cipher", "no cipher match"])
    }

    func test_serverWithoutCertificate_refused() {
        assertMessage(TLSConfiguration(role: .server), contains: ["a TLS server needs a certificate chain file"])
    }

    func test_certificateWithoutKey_refused() throws {
        let pki = try TestPKI.get()
        var c = TLSConfiguration.client(serverName: "localhost")
        c.certificateChainFile = pki.clientCert
        assertMessage(c, contains: ["needs its private key file"])
    }

    func test_clientCAFileOnClient_refused() throws {
        let pki = try TestPKI.get()
        var c = TLSConfiguration.client(serverName: "localhost")
        c.clientCAFile = pki.rootCA
        assertMessage(c, contains: ["a client CA file is for servers"])
    }

    func test_emptyServerName_refused() {
        assertMessage(.client(serverName: ""), contains: ["is not a DNS name or IP address"])
    }

    func test_alpnNameTooLong_refused() throws {
        assertMessage(
            .client(serverName: "localhost", applicationProtocols: [String(repeating: "x", count: 256)]),
            contains: ["must be 1 to 255 bytes"])
    }

    func test_verifyingClientWithoutServerName_cannotMakeSessions() throws {
        let context = try TLSContext(.client(serverName: nil))
        XCTAssertThrowsError(try context.makeSession()) { error in
            XCTAssertEqual((error as? TLSError)?.reason, .configuration)
        }
        XCTAssertNoThrow(try context.makeSession(serverName: "localhost"), "a per-session name is enough")
        var unverified = TLSConfiguration.client(serverName: nil)
        unverified.verifyPeer = false
        XCTAssertNoThrow(try TLSContext(unverified).makeSession())
    }

    func test_failureReasons_areStableLabels() {
        XCTAssertEqual(
            TLSFailureReason.allCases.map(\.rawValue),
            [
                "configuration", "unknown_ca", "bad_certificate", "certificate_expired", "certificate_required",
                "certificate_verify_failed", "hostname_mismatch", "version", "no_shared_cipher", "protocol",
                "connection_closed", "other",
            ])
    }
}
