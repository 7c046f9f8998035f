import Foundation
import Reactor
import TLS
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Our server side (`TLSTransport.accepted` on a real event loop, as the HTTPS listener will use
/// it) against clients we did not write: Python's `ssl` module and `openssl s_client`.
final class TLSServerInteropTests: XCTestCase {
    private var server: EchoServer?
    private var peers: [PythonTLSPeer] = []

    override func tearDown() {
        for p in peers { p.stop() }
        server?.stop()
    }

    private func startServer(
        _ context: TLSContext, closeAfterReceiving: Int? = nil, echo: Bool = true, toSend: [UInt8] = [],
        style: ReadStyle = ReadStyle(), smallBuffers: Bool = false
    ) throws -> EchoServer {
        let s = try EchoServer(
            context: context, style: style, smallBuffers: smallBuffers, closeAfterReceiving: closeAfterReceiving,
            echo: echo, toSend: toSend)
        server = s
        return s
    }

    private func python(_ port: UInt16, _ arguments: [String]) throws -> PythonTLSPeer {
        let p = try PythonTLSPeer.client(port: port, arguments)
        peers.append(p)
        return p
    }

    /// The client's handshake as our server recorded it.
    private func serverHandshake(_ s: EchoServer, file: StaticString = #filePath, line: UInt = #line) -> Result<
        TLSHandshakeInfo, TLSError
    >? {
        let record = s.recorder.wait { $0.handshake != nil }
        XCTAssertNotNil(record?.handshake, "the server saw no handshake outcome", file: file, line: line)
        return record?.handshake
    }

    func test_pythonClient_tls13_alpnSNIAndEcho() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(), closeAfterReceiving: 5)
        let client = try python(
            s.port,
            ["--ca", pki.rootCA, "--server-name", "localhost", "--alpn", "h2,http/1.1", "--action", "request:hello"])
        let handshake = try XCTUnwrap(client.handshakeOutcome(), client.transcript)
        XCTAssertEqual(handshake["event"] as? String, "handshake", client.transcript)
        XCTAssertEqual(handshake["version"] as? String, "TLSv1.3")
        XCTAssertEqual(handshake["alpn"] as? String, "http/1.1")
        XCTAssertEqual(
            handshake["peer"] as? String, "organizationName=traceproxy tests,commonName=traceproxy test server")
        let eof = try XCTUnwrap(client.event("eof"), client.transcript)
        XCTAssertEqual(eof["text"] as? String, "hello", "echoed")
        XCTAssertEqual(eof["clean"] as? Bool, true, "our close_notify")

        guard case .success(let info)? = serverHandshake(s) else { return XCTFail("handshake failed on our side") }
        XCTAssertEqual(info.protocolVersion, "TLSv1.3")
        XCTAssertEqual(info.applicationProtocol, "http/1.1")
        XCTAssertEqual(info.serverName, "localhost")
        XCTAssertNil(info.peerSubject)
    }

    func test_pythonClient_tls12_negotiated() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(), closeAfterReceiving: 2)
        let client = try python(
            s.port,
            ["--ca", pki.rootCA, "--server-name", "localhost", "--max-version", "1.2", "--action", "request:hi"])
        XCTAssertEqual(client.event("eof")?["text"] as? String, "hi", client.transcript)
        guard case .success(let info)? = serverHandshake(s) else { return XCTFail("handshake failed on our side") }
        XCTAssertEqual(info.protocolVersion, "TLSv1.2")
        XCTAssertTrue(info.cipher.hasPrefix("ECDHE-ECDSA-"), info.cipher)
    }

    func test_pythonClient_tls12Only_againstTLS13Minimum_versionFailure() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(minimum: .tls13))
        let client = try python(s.port, ["--ca", pki.rootCA, "--server-name", "localhost", "--max-version", "1.2"])
        let outcome = try XCTUnwrap(client.handshakeOutcome(), client.transcript)
        XCTAssertEqual(outcome["event"] as? String, "handshake_failed")
        guard case .failure(let e)? = serverHandshake(s) else { return XCTFail("the server accepted TLS 1.2") }
        XCTAssertEqual(e.reason, .version, e.message)
    }

    func test_pythonClient_noCommonCipher_noSharedCipherFailure() throws {
        let pki = try TestPKI.get()
        var c = TLSConfiguration.server(certificateChainFile: pki.serverChain, privateKeyFile: pki.serverKey)
        c.cipherList = "ECDHE-ECDSA-AES128-GCM-SHA256"
        let s = try startServer(TLSContext(c))
        let client = try python(
            s.port,
            [
                "--ca", pki.rootCA, "--server-name", "localhost", "--max-version", "1.2", "--ciphers",
                "ECDHE-ECDSA-CHACHA20-POLY1305",
            ])
        XCTAssertEqual(client.handshakeOutcome()?["event"] as? String, "handshake_failed", client.transcript)
        guard case .failure(let e)? = serverHandshake(s) else { return XCTFail("a cipher was agreed") }
        XCTAssertEqual(e.reason, .noSharedCipher, e.message)
    }

    func test_pythonClient_mTLS_clientCertificateSubjectRecorded() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(clientCA: pki.rootCA), closeAfterReceiving: 2)
        let client = try python(
            s.port,
            [
                "--ca", pki.rootCA, "--server-name", "localhost", "--cert", pki.clientCert, "--key", pki.clientKey,
                "--action", "request:ok",
            ])
        XCTAssertEqual(client.event("eof")?["text"] as? String, "ok", client.transcript)
        guard case .success(let info)? = serverHandshake(s) else { return XCTFail("mTLS handshake failed") }
        XCTAssertEqual(info.peerSubject, TestPKI.clientSubject)
    }

    func test_pythonClient_mTLS_withoutCertificate_refused() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(clientCA: pki.rootCA))
        let client = try python(s.port, ["--ca", pki.rootCA, "--server-name", "localhost", "--action", "request:x"])
        guard case .failure(let e)? = serverHandshake(s) else { return XCTFail("accepted without a certificate") }
        XCTAssertEqual(e.reason, .certificateRequired, e.message)
        // TLS 1.3: the client learns on its first read.
        let error = try XCTUnwrap(client.event("error"), client.transcript)
        XCTAssertTrue((error["error"] as? String ?? "").contains("CERTIFICATE_REQUIRED"), "\(error)")
    }

    func test_pythonClient_mTLS_certificateFromOtherCA_refused() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(clientCA: pki.rootCA))
        _ = try python(
            s.port,
            [
                "--ca", pki.rootCA, "--server-name", "localhost", "--cert", pki.otherClientCert, "--key",
                pki.otherClientKey, "--action", "request:x",
            ])
        guard case .failure(let e)? = serverHandshake(s) else { return XCTFail("accepted a foreign certificate") }
        XCTAssertEqual(e.reason, .unknownCA, e.message)
    }

    func test_plainHTTPToTLSPort_protocolFailure_andConnectionClosed() throws {
        let s = try startServer(Contexts.server())
        let fd = try connectBlocking(port: s.port)
        defer { close(fd) }
        let request = Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        XCTAssertEqual(
            request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }, request.count)
        guard case .failure(let e)? = serverHandshake(s) else { return XCTFail("plain HTTP passed as TLS") }
        XCTAssertEqual(e.reason, .protocol, e.message)
        XCTAssertNotNil(s.recorder.wait { $0.closed }, "the connection is closed")
        XCTAssertTrue(readsToEnd(fd), "the client sees the connection end")
    }

    func test_pythonClient_closeNotify_readAsCleanEOF_andAnswered() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(), echo: false)
        let client = try python(
            s.port, ["--ca", pki.rootCA, "--server-name", "localhost", "--action", "send-then-close-notify:1000"])
        XCTAssertNotNil(client.event("unwrapped"), "our close_notify answered theirs: \(client.transcript)")
        let record = try XCTUnwrap(s.recorder.wait { $0.eof })
        assertSameBytes(record.received, pattern(1000))
        XCTAssertTrue(record.closeNotify)
    }

    func test_pythonClient_hangsUpWithoutCloseNotify_readAsEOF_notClean() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(), echo: false)
        let client = try python(
            s.port, ["--ca", pki.rootCA, "--server-name", "localhost", "--action", "send-then-abort:1000"])
        XCTAssertNotNil(client.event("done"), client.transcript)
        let record = try XCTUnwrap(s.recorder.wait { $0.eof || $0.ioError != nil })
        assertSameBytes(record.received, pattern(1000))
        XCTAssertTrue(record.eof)
        XCTAssertFalse(record.closeNotify)
    }

    func test_opensslClient_tls13_and_tls12() throws {
        let pki = try TestPKI.get()
        for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
            let s = try EchoServer(context: Contexts.server(), closeAfterReceiving: 5)
            defer { s.stop() }
            let client = try ChildProcess(
                "/usr/bin/openssl",
                [
                    "s_client", "-connect", "127.0.0.1:\(s.port)", "-servername", "localhost", "-CAfile", pki.rootCA,
                    "-verify_return_error", "-brief", "-alpn", "h2,http/1.1", "-ign_eof", flag,
                ])
            defer { client.stop() }
            client.send("ping\n")
            XCTAssertNotNil(client.waitForLine { $0 == "ping" }, "echo: \(client.transcript)")
            XCTAssertTrue(client.waitForExit(), "s_client ends at our close_notify: \(client.transcript)")
            XCTAssertTrue(client.stderrLines.contains("Protocol version: \(version)"), client.transcript)
            XCTAssertTrue(client.stderrLines.contains("Verification: OK"), client.transcript)
            guard case .success(let info)? = serverHandshake(s) else { return XCTFail("s_client \(flag) failed") }
            XCTAssertEqual(info.protocolVersion, version)
            XCTAssertEqual(info.applicationProtocol, "http/1.1")
            XCTAssertEqual(info.serverName, "localhost")
        }
    }

    /// SIGHUP's effect as the listener will implement it: the context read at accept time.
    func test_contextSwapped_newConnectionsPresentTheNewCertificate() throws {
        let pki = try TestPKI.get()
        let s = try startServer(Contexts.server(), closeAfterReceiving: 1)
        let first = try python(s.port, ["--ca", pki.rootCA, "--server-name", "localhost", "--action", "request:a"])
        XCTAssertEqual(
            first.event("handshake")?["peer"] as? String,
            "organizationName=traceproxy tests,commonName=traceproxy test server")
        let replacement = try Contexts.server(chain: pki.server2Chain, key: pki.server2Key)
        s.context.withLock { $0 = replacement }
        let second = try python(s.port, ["--ca", pki.rootCA, "--server-name", "localhost", "--action", "request:b"])
        XCTAssertEqual(
            second.event("handshake")?["peer"] as? String,
            "organizationName=traceproxy tests,commonName=traceproxy test server 2")
    }
}

/// A blocking TCP connect to 127.0.0.1.
func connectBlocking(port: UInt16) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError("socket", errno) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard rc == 0 else {
        let e = errno
        close(fd)
        throw SystemError("connect", e)
    }
    return fd
}

/// Reads until the peer closes (true) or 10 s pass (false).
func readsToEnd(_ fd: Int32) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let end = Date().addingTimeInterval(10)
    while Date() < end {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 100) > 0 else { continue }
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return true }
    }
    return false
}
