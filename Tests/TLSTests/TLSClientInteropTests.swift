import Foundation
import Reactor
import TLS
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Our client side (`TLSConnector` over a real socket, as an HTTPS upstream will use it) against
/// servers we did not write: Python's `ssl` module and `openssl s_server`.
final class TLSClientInteropTests: XCTestCase {
    private var runs: [ClientRun] = []
    private var peers: [PythonTLSPeer] = []

    override func tearDown() {
        for p in peers { p.stop() }
        for r in runs { r.stop() }
    }

    private func pythonServer(_ arguments: [String]) throws -> PythonTLSPeer {
        let pki = try TestPKI.get()
        let p = try PythonTLSPeer.server(["--cert", pki.serverChain, "--key", pki.serverKey] + arguments)
        peers.append(p)
        return p
    }

    private func connect(
        _ port: UInt16, _ context: TLSContext, serverName: String? = nil, payload: [UInt8] = [],
        closeAfterReceiving: Int? = nil
    ) throws -> ClientRun {
        let run = try ClientRun(
            port: port, context: context, serverName: serverName, payload: payload,
            closeAfterReceiving: closeAfterReceiving)
        runs.append(run)
        return run
    }

    /// The handshake as our client recorded it, once settled.
    private func clientHandshake(_ run: ClientRun) -> Result<TLSHandshakeInfo, TLSError>? {
        run.recorder.wait { $0.handshake != nil }?.handshake
    }

    func test_pythonServer_tls13_echo_alpn_serverSubject_andSNISeen() throws {
        let server = try pythonServer(["--alpn", "http/1.1"])
        let run = try connect(
            server.port, Contexts.client(alpn: ["http/1.1"]), payload: Array("hello".utf8), closeAfterReceiving: 5)
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.received, Array("hello".utf8))
        guard case .success(let info)? = record.handshake else { return XCTFail("handshake: \(record)") }
        XCTAssertEqual(info.protocolVersion, "TLSv1.3")
        XCTAssertEqual(info.applicationProtocol, "http/1.1")
        XCTAssertEqual(info.serverName, "localhost")
        XCTAssertEqual(info.peerSubject, TestPKI.serverSubject)
        let seen = try XCTUnwrap(server.event("handshake"), server.transcript)
        XCTAssertEqual(seen["sni"] as? String, "localhost")
        XCTAssertEqual(seen["alpn"] as? String, "http/1.1")
        XCTAssertEqual(server.event("eof")?["clean"] as? Bool, true, "our close_notify: \(server.transcript)")
    }

    func test_pythonServer_tls12() throws {
        let server = try pythonServer(["--max-version", "1.2"])
        let run = try connect(server.port, Contexts.client(), payload: Array("x".utf8), closeAfterReceiving: 1)
        guard case .success(let info)? = clientHandshake(run) else { return XCTFail("TLS 1.2 handshake failed") }
        XCTAssertEqual(info.protocolVersion, "TLSv1.2")
        XCTAssertEqual(run.recorder.wait { $0.closed }?.received, Array("x".utf8))
    }

    func test_pythonServer_tls12Only_againstOurTLS13Minimum_versionFailure() throws {
        let server = try pythonServer(["--max-version", "1.2"])
        let run = try connect(server.port, Contexts.client(minimum: .tls13))
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.connectError, EPROTO)
        XCTAssertEqual(record.failure?.reason, .version, record.failure?.message ?? "")
        XCTAssertEqual(server.handshakeOutcome()?["event"] as? String, "handshake_failed")
    }

    func test_ipAddress_verifiedAgainstIPSAN_noSNISent() throws {
        let server = try pythonServer([])
        let run = try connect(
            server.port, Contexts.client(serverName: "127.0.0.1"), payload: Array("ip".utf8), closeAfterReceiving: 2)
        guard case .success(let info)? = clientHandshake(run) else { return XCTFail("IP SAN not accepted") }
        XCTAssertNil(info.serverName)
        let seen = try XCTUnwrap(server.event("handshake"), server.transcript)
        XCTAssertTrue(seen["sni"] is NSNull, "no SNI for an address: \(seen)")
    }

    func test_hostnameMismatch_refused_asConnectError() throws {
        let server = try pythonServer([])
        let run = try connect(server.port, Contexts.client(serverName: "example.com"))
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.connectError, EPROTO)
        XCTAssertEqual(record.failure?.reason, .hostnameMismatch, record.failure?.message ?? "")
        guard case .failure(let e)? = record.handshake else { return XCTFail("onHandshake did not report it") }
        XCTAssertEqual(e, record.failure)
        let refused = try XCTUnwrap(server.handshakeOutcome(), server.transcript)
        XCTAssertEqual(refused["event"] as? String, "handshake_failed")
        XCTAssertTrue((refused["error"] as? String ?? "").contains("BAD_CERTIFICATE"), "\(refused)")
    }

    func test_unknownCA_refused() throws {
        let pki = try TestPKI.get()
        let server = try PythonTLSPeer.server(["--cert", pki.otherServerChain, "--key", pki.otherServerKey])
        peers.append(server)
        let run = try connect(server.port, Contexts.client())
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.failure?.reason, .unknownCA, record.failure?.message ?? "")
        XCTAssertTrue(
            (server.handshakeOutcome()?["error"] as? String ?? "").contains("UNKNOWN_CA"), server.transcript)
    }

    func test_expiredCertificate_refused() throws {
        let pki = try TestPKI.get()
        let server = try PythonTLSPeer.server(["--cert", pki.expiredServerChain, "--key", pki.expiredServerKey])
        peers.append(server)
        let run = try connect(server.port, Contexts.client())
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.failure?.reason, .certificateExpired, record.failure?.message ?? "")
    }

    func test_mTLS_ourClientCertificate_seenByServer() throws {
        let pki = try TestPKI.get()
        let server = try pythonServer(["--require-client-cert", "--ca", pki.rootCA])
        let run = try connect(
            server.port, Contexts.client(cert: pki.clientCert, key: pki.clientKey), payload: Array("m".utf8),
            closeAfterReceiving: 1)
        XCTAssertEqual(run.recorder.wait { $0.closed }?.received, Array("m".utf8))
        XCTAssertEqual(
            server.event("handshake")?["peer"] as? String,
            "organizationName=traceproxy tests,commonName=traceproxy test client", server.transcript)
    }

    /// TLS 1.3: our handshake ends before the server judges our (missing) certificate, so the
    /// refusal comes after it: as the first read, or, when the server's reset reaches our request
    /// write first, read from behind the reset. Either way the reason is the alert's.
    func test_mTLS_serverRequiresCertificate_weHaveNone_reasonFromTheAlert() throws {
        let pki = try TestPKI.get()
        let server = try pythonServer(["--require-client-cert", "--ca", pki.rootCA])
        let run = try connect(server.port, Contexts.client(), payload: Array("m".utf8))
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.connectError, nil, "our side of the handshake completed")
        XCTAssertEqual(record.ioError, EPROTO)
        XCTAssertEqual(record.failure?.reason, .certificateRequired, record.failure?.message ?? "")
    }

    func test_plainHTTPServer_protocolFailure() throws {
        let (listenFD, port) = try LoopbackListener.open()
        let answered = DispatchSemaphore(value: 0)
        let thread = Thread {
            let fd = accept(listenFD, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            let answer = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
            _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
            answered.signal()
        }
        thread.start()
        defer {
            _ = answered.wait(timeout: .now() + 10)
            close(listenFD)
        }
        let run = try connect(port, Contexts.client())
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.connectError, EPROTO)
        XCTAssertEqual(record.failure?.reason, .protocol, record.failure?.message ?? "")
    }

    func test_connectionRefused_isTheConnectError() throws {
        let port = freeTCPPort()
        let run = try connect(port, Contexts.client())
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        XCTAssertEqual(record.connectError, ECONNREFUSED)
        XCTAssertNil(record.failure)
    }

    func test_serverCloseNotify_cleanEOF() throws {
        let server = try pythonServer(["--action", "send-then-close-notify:3000"])
        let run = try connect(server.port, Contexts.client())
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        assertSameBytes(record.received, pattern(3000))
        XCTAssertTrue(record.eof)
        XCTAssertTrue(record.closeNotify)
        XCTAssertNotNil(server.event("unwrapped"), server.transcript)
    }

    func test_serverHangsUpWithoutCloseNotify_eofNotClean() throws {
        let server = try pythonServer(["--action", "send-then-abort:3000"])
        let run = try connect(server.port, Contexts.client())
        let record = try XCTUnwrap(run.recorder.wait { $0.closed })
        assertSameBytes(record.received, pattern(3000))
        XCTAssertTrue(record.eof)
        XCTAssertFalse(record.closeNotify)
    }

    func test_opensslServer_tls13_and_tls12_withALPN() throws {
        let pki = try TestPKI.get()
        for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
            let server = try ChildProcess(
                "/usr/bin/openssl",
                [
                    "s_server", "-accept", "127.0.0.1:0", "-cert", pki.path("server.pem"), "-cert_chain",
                    pki.path("intermediate.pem"), "-key", pki.serverKey, "-naccept", "1", "-rev", "-alpn", "http/1.1",
                    flag,
                ])
            defer { server.stop() }
            let accept = try XCTUnwrap(server.waitForLine { $0.hasPrefix("ACCEPT ") }, server.transcript)
            let port = try XCTUnwrap(accept.split(separator: ":").last.flatMap { UInt16($0) }, accept)
            let run = try connect(
                port, Contexts.client(alpn: ["h2", "http/1.1"]), payload: Array("hello\n".utf8), closeAfterReceiving: 6)
            let record = try XCTUnwrap(run.recorder.wait { $0.closed })
            XCTAssertEqual(String(decoding: record.received, as: UTF8.self), "olleh\n", server.transcript)
            guard case .success(let info)? = record.handshake else { return XCTFail("s_server \(flag): \(record)") }
            XCTAssertEqual(info.protocolVersion, version)
            XCTAssertEqual(info.applicationProtocol, "http/1.1")
        }
    }
}
