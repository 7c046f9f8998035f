import Dispatch
import Foundation
import TLS
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The reporter thread's TLS: a session driven over a blocking socket with deadlines, against
/// Python's `ssl` server (a collector stand-in).
final class BlockingTLSConnectionTests: XCTestCase {
    private var peers: [PythonTLSPeer] = []
    private var fds: [Int32] = []

    override func tearDown() {
        for p in peers { p.stop() }
        for fd in fds { close(fd) }
    }

    private func server(_ arguments: [String]) throws -> PythonTLSPeer {
        let pki = try TestPKI.get()
        let p = try PythonTLSPeer.server(["--cert", pki.serverChain, "--key", pki.serverKey] + arguments)
        peers.append(p)
        return p
    }

    private func connect(_ port: UInt16) throws -> Int32 {
        let fd = try connectBlocking(port: port)
        fds.append(fd)
        return fd
    }

    private func deadline(_ seconds: Double = 10) -> DispatchTime { .now() + seconds }

    func test_handshakeEchoAndCloseNotify_tls13() throws {
        let peer = try server(["--alpn", "http/1.1"])
        let session = try Contexts.client(alpn: ["http/1.1"]).makeSession()
        let tls = try BlockingTLSConnection(fd: connect(peer.port), session: session, deadline: deadline())
        XCTAssertEqual(tls.info.protocolVersion, "TLSv1.3")
        XCTAssertEqual(tls.info.applicationProtocol, "http/1.1")
        XCTAssertEqual(tls.info.peerSubject, TestPKI.serverSubject)
        let request = Array("POST /api/v2/spans HTTP/1.1\r\n\r\n".utf8)
        try tls.sendAll(request, deadline: deadline())
        var received: [UInt8] = []
        while received.count < request.count {
            XCTAssertTrue(try tls.receive(into: &received, deadline: deadline()))
        }
        XCTAssertEqual(received, request)
        tls.shutdown(deadline: deadline())
        XCTAssertEqual(peer.event("eof")?["clean"] as? Bool, true, peer.transcript)
        XCTAssertFalse(try tls.receive(into: &received, deadline: deadline()), "the server answered close_notify")
        XCTAssertTrue(session.receivedCloseNotify)
    }

    func test_tls12_andALargeBodyBothWays() throws {
        let peer = try server(["--max-version", "1.2"])
        let tls = try BlockingTLSConnection(
            fd: connect(peer.port), session: Contexts.client().makeSession(), deadline: deadline())
        XCTAssertEqual(tls.info.protocolVersion, "TLSv1.2")
        // Below what the two socket buffers hold: one thread sends all before it reads.
        let body = pattern(60_000)
        try tls.sendAll(body, deadline: deadline())
        var received: [UInt8] = []
        while received.count < body.count {
            XCTAssertTrue(try tls.receive(into: &received, deadline: deadline()))
        }
        assertSameBytes(received, body)
    }

    func test_hostnameMismatch_tlsFailureWithReason() throws {
        let peer = try server([])
        XCTAssertThrowsError(
            try BlockingTLSConnection(
                fd: connect(peer.port), session: Contexts.client(serverName: "collector.example").makeSession(),
                deadline: deadline())
        ) { error in
            guard case .tls(let e)? = error as? BlockingTLSConnection.Failure else { return XCTFail("\(error)") }
            XCTAssertEqual(e.reason, .hostnameMismatch, e.message)
        }
        XCTAssertEqual(peer.handshakeOutcome()?["event"] as? String, "handshake_failed", "our alert reached it")
    }

    func test_mTLS_clientCertificate_presented() throws {
        let pki = try TestPKI.get()
        let peer = try server(["--require-client-cert", "--ca", pki.rootCA])
        let tls = try BlockingTLSConnection(
            fd: connect(peer.port), session: Contexts.client(cert: pki.clientCert, key: pki.clientKey).makeSession(),
            deadline: deadline())
        try tls.sendAll(Array("x".utf8), deadline: deadline())
        var received: [UInt8] = []
        XCTAssertTrue(try tls.receive(into: &received, deadline: deadline()))
        XCTAssertEqual(
            peer.event("handshake")?["peer"] as? String,
            "organizationName=traceproxy tests,commonName=traceproxy test client")
    }

    /// A collector that accepts TCP and never speaks TLS costs the deadline, not a hung reporter.
    func test_silentServer_handshakeTimesOut() throws {
        let (listenFD, port) = try LoopbackListener.open()
        fds.append(listenFD)
        let start = DispatchTime.now()
        XCTAssertThrowsError(
            try BlockingTLSConnection(
                fd: connect(port), session: Contexts.client().makeSession(), deadline: .now() + 0.3)
        ) { error in
            XCTAssertEqual(error as? BlockingTLSConnection.Failure, .timedOut)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertGreaterThanOrEqual(elapsed, 0.25)
        XCTAssertLessThan(elapsed, 5)
    }

    func test_serverHangsUpWithoutCloseNotify_endOfStream_notClean() throws {
        let peer = try server(["--action", "send-then-abort:5000"])
        let session = try Contexts.client().makeSession()
        let tls = try BlockingTLSConnection(fd: connect(peer.port), session: session, deadline: deadline())
        var received: [UInt8] = []
        while try tls.receive(into: &received, deadline: deadline()) {}
        assertSameBytes(received, pattern(5000))
        XCTAssertFalse(session.receivedCloseNotify)
    }

    func test_plainHTTPServer_protocolFailure() throws {
        let (listenFD, port) = try LoopbackListener.open()
        fds.append(listenFD)
        let thread = Thread {
            let fd = accept(listenFD, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            let answer = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)
            _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        thread.start()
        XCTAssertThrowsError(
            try BlockingTLSConnection(fd: connect(port), session: Contexts.client().makeSession(), deadline: deadline())
        ) { error in
            guard case .tls(let e)? = error as? BlockingTLSConnection.Failure else { return XCTFail("\(error)") }
            XCTAssertEqual(e.reason, .protocol, e.message)
        }
    }
}
