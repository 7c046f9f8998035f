import TLS
import XCTest

/// Our client session against our server session in memory: the state logic (handshake outcome,
/// what each side reports, failure categories on both sides, the end of the stream) without
/// sockets. The real-peer tests check the same against other implementations.
final class TLSSessionTests: XCTestCase {
    func test_handshake_reportsVersionCipherALPNSNIAndServerSubject() throws {
        let pair = try SessionPair(
            client: Contexts.client(alpn: ["h2", "http/1.1"]), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.handshakeState, .done)
        XCTAssertEqual(pair.server.handshakeState, .done)
        let server = try XCTUnwrap(pair.server.info)
        let client = try XCTUnwrap(pair.client.info)
        XCTAssertEqual(server.protocolVersion, "TLSv1.3")
        XCTAssertEqual(client.protocolVersion, "TLSv1.3")
        XCTAssertEqual(server.cipher, client.cipher)
        XCTAssertTrue(server.cipher.hasPrefix("TLS_"), server.cipher)
        XCTAssertEqual(server.applicationProtocol, "http/1.1", "the server prefers http/1.1 over the client's h2")
        XCTAssertEqual(client.applicationProtocol, "http/1.1")
        XCTAssertEqual(server.serverName, "localhost", "SNI as the client sent it")
        XCTAssertNil(server.peerSubject, "no client certificate without mTLS")
        XCTAssertEqual(client.peerSubject, TestPKI.serverSubject)
    }

    func test_plaintext_bothWays_afterHandshake() throws {
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.writePlaintext(Array("GET / HTTP/1.1\r\n\r\n".utf8)), .bytes(18))
        pair.shuttle()
        let request = SessionPair.readAll(pair.server)
        XCTAssertEqual(String(decoding: request.bytes, as: UTF8.self), "GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(request.last, .wantMore)
        let body = pattern(100_000)
        var offset = 0
        while offset < body.count {
            guard case .bytes(let n) = body[offset...].withUnsafeBytes({ pair.server.writePlaintext($0) }) else {
                return XCTFail("write refused")
            }
            offset += n
        }
        pair.shuttle()
        let response = SessionPair.readAll(pair.client)
        assertSameBytes(response.bytes, body)
    }

    func test_writeAndRead_beforeHandshake_wantMore() throws {
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server())
        XCTAssertEqual(pair.client.writePlaintext(Array("early".utf8)), .wantMore)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(pair.server.readPlaintext(into: &buffer), .wantMore)
        XCTAssertEqual(pair.server.handshakeState, .inProgress)
        XCTAssertGreaterThan(pair.client.pendingCiphertextCount, 0, "the write started the handshake: a ClientHello")
    }

    func test_alpn_noCommonProtocol_handshakeSucceedsWithoutALPN() throws {
        let pair = try SessionPair(client: Contexts.client(alpn: ["h2"]), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.server.handshakeState, .done)
        XCTAssertNil(pair.server.info?.applicationProtocol)
        XCTAssertNil(pair.client.info?.applicationProtocol)
    }

    func test_alpn_clientOffersNothing_noneSelected() throws {
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.server.handshakeState, .done)
        XCTAssertNil(pair.server.info?.applicationProtocol)
    }

    func test_ipAddress_checkedAgainstIPSAN_andNotSentAsSNI() throws {
        let pair = try SessionPair(client: Contexts.client(serverName: "127.0.0.1"), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.handshakeState, .done)
        XCTAssertNil(pair.server.info?.serverName, "RFC 6066: no IP addresses in SNI")
        XCTAssertNil(pair.client.info?.serverName)
    }

    func test_hostnameMismatch_dnsName_refused() throws {
        let pair = try SessionPair(client: Contexts.client(serverName: "example.com"), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.handshakeState, .failed)
        let failure = try XCTUnwrap(pair.client.failure)
        XCTAssertEqual(failure.reason, .hostnameMismatch, failure.message)
        XCTAssertTrue(failure.message.contains("example.com"), failure.message)
        XCTAssertEqual(pair.server.handshakeState, .failed, "the client's alert ends the server's handshake")
    }

    func test_hostnameMismatch_otherIPAddress_refused() throws {
        let pair = try SessionPair(client: Contexts.client(serverName: "127.0.0.2"), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.failure?.reason, .hostnameMismatch, pair.client.failure?.message ?? "")
    }

    func test_dnsNameSpelledLikeAnotherAddress_isAnAddress() throws {
        // "::1" must be checked as an IP SAN (absent here), not as a DNS name.
        let pair = try SessionPair(client: Contexts.client(serverName: "[::1]"), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.failure?.reason, .hostnameMismatch)
    }

    func test_unknownCA_refusedOnBothSides() throws {
        let pki = try TestPKI.get()
        let pair = try SessionPair(client: Contexts.client(trust: pki.otherCA), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.failure?.reason, .unknownCA, pair.client.failure?.message ?? "")
        XCTAssertEqual(pair.server.failure?.reason, .unknownCA, "the server hears the client's unknown_ca alert")
        XCTAssertTrue(pair.server.failure?.message.contains("unknown ca") ?? false, pair.server.failure?.message ?? "")
    }

    func test_expiredServerCertificate_refused() throws {
        let pki = try TestPKI.get()
        let pair = try SessionPair(
            client: Contexts.client(),
            server: Contexts.server(chain: pki.expiredServerChain, key: pki.expiredServerKey))
        pair.handshake()
        XCTAssertEqual(pair.client.failure?.reason, .certificateExpired, pair.client.failure?.message ?? "")
        XCTAssertEqual(pair.server.failure?.reason, .certificateExpired)
    }

    func test_verifyPeerOff_acceptsAnyServer() throws {
        let pki = try TestPKI.get()
        let pair = try SessionPair(
            client: Contexts.client(serverName: "example.com", trust: pki.otherCA, verify: false),
            server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.handshakeState, .done)
        XCTAssertEqual(pair.server.info?.serverName, "example.com", "SNI is still sent")
    }

    func test_mTLS_clientCertificate_subjectReported() throws {
        let pki = try TestPKI.get()
        let pair = try SessionPair(
            client: Contexts.client(cert: pki.clientCert, key: pki.clientKey),
            server: Contexts.server(clientCA: pki.rootCA))
        pair.handshake()
        XCTAssertEqual(pair.server.handshakeState, .done, pair.server.failure?.message ?? "")
        XCTAssertEqual(pair.server.info?.peerSubject, TestPKI.clientSubject)
    }

    func test_mTLS_missingClientCertificate_refused() throws {
        let pki = try TestPKI.get()
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server(clientCA: pki.rootCA))
        pair.handshake()
        XCTAssertEqual(pair.server.failure?.reason, .certificateRequired, pair.server.failure?.message ?? "")
        // TLS 1.3: the client's handshake ends before the server judges its (missing) certificate;
        // the refusal arrives as the first read.
        XCTAssertEqual(pair.client.handshakeState, .done)
        var buffer = [UInt8](repeating: 0, count: 64)
        guard case .error(let e) = pair.client.readPlaintext(into: &buffer) else {
            return XCTFail("the client should read the server's alert as an error")
        }
        XCTAssertEqual(e.reason, .certificateRequired, e.message)
        XCTAssertEqual(pair.client.failure, e)
    }

    func test_mTLS_clientCertificateFromOtherCA_refused() throws {
        let pki = try TestPKI.get()
        let pair = try SessionPair(
            client: Contexts.client(cert: pki.otherClientCert, key: pki.otherClientKey),
            server: Contexts.server(clientCA: pki.rootCA))
        pair.handshake()
        XCTAssertEqual(pair.server.failure?.reason, .unknownCA, pair.server.failure?.message ?? "")
        var buffer = [UInt8](repeating: 0, count: 64)
        guard case .error(let e) = pair.client.readPlaintext(into: &buffer) else { return XCTFail("no alert") }
        XCTAssertEqual(e.reason, .unknownCA, e.message)
    }

    func test_plainHTTPToServer_protocolCategory() throws {
        let server = try Contexts.server().makeSession()
        server.feedCiphertext(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        XCTAssertEqual(server.advanceHandshake(), .failed)
        XCTAssertEqual(server.failure?.reason, .protocol, server.failure?.message ?? "")
        XCTAssertTrue(server.failure?.message.contains("http request") ?? false, server.failure?.message ?? "")
    }

    func test_plainHTTPAnswerToClient_protocolCategory() throws {
        let client = try Contexts.client().makeSession()
        XCTAssertEqual(client.advanceHandshake(), .inProgress)
        _ = client.takeCiphertext()
        client.feedCiphertext(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8))
        XCTAssertEqual(client.advanceHandshake(), .failed)
        XCTAssertEqual(client.failure?.reason, .protocol, client.failure?.message ?? "")
    }

    func test_closeNotify_readAsClosed_andRecorded() throws {
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.writePlaintext(Array("last".utf8)), .bytes(4))
        pair.client.shutdown()
        XCTAssertTrue(pair.client.sentCloseNotify)
        pair.shuttle()
        let read = SessionPair.readAll(pair.server)
        XCTAssertEqual(read.bytes, Array("last".utf8))
        XCTAssertEqual(read.last, .closed)
        XCTAssertTrue(pair.server.receivedCloseNotify)
        // A half-close: the server may still answer.
        XCTAssertEqual(pair.server.writePlaintext(Array("bye".utf8)), .bytes(3))
        pair.shuttle()
        XCTAssertEqual(SessionPair.readAll(pair.client).bytes, Array("bye".utf8))
        guard case .error = pair.client.writePlaintext(Array("more".utf8)) else {
            return XCTFail("writing after close_notify must fail")
        }
    }

    func test_endOfInputWithoutCloseNotify_closedButNotClean() throws {
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server())
        pair.handshake()
        XCTAssertEqual(pair.client.writePlaintext(Array("cut".utf8)), .bytes(3))
        pair.shuttle()
        pair.server.feedEOF()
        let read = SessionPair.readAll(pair.server)
        XCTAssertEqual(read.bytes, Array("cut".utf8))
        XCTAssertEqual(read.last, .closed)
        XCTAssertFalse(pair.server.receivedCloseNotify)
    }

    func test_endOfInputDuringHandshake_connectionClosed() throws {
        let server = try Contexts.server().makeSession()
        let client = try Contexts.client().makeSession()
        client.advanceHandshake()
        let hello = client.takeCiphertext()
        server.feedCiphertext(Array(hello.prefix(20)))
        XCTAssertEqual(server.advanceHandshake(), .inProgress)
        server.feedEOF()
        XCTAssertEqual(server.advanceHandshake(), .failed)
        XCTAssertEqual(server.failure?.reason, .connectionClosed, server.failure?.message ?? "")
    }

    func test_bufferedInput_reportedUntilRead() throws {
        let pair = try SessionPair(client: Contexts.client(), server: Contexts.server())
        pair.handshake()
        _ = SessionPair.readAll(pair.server)
        XCTAssertFalse(pair.server.hasBufferedInput)
        XCTAssertEqual(pair.client.writePlaintext(pattern(3000)), .bytes(3000))
        pair.shuttle()
        XCTAssertTrue(pair.server.hasBufferedInput, "fed, not yet decrypted")
        var small = [UInt8](repeating: 0, count: 1000)
        XCTAssertEqual(pair.server.readPlaintext(into: &small), .bytes(1000))
        XCTAssertTrue(pair.server.hasBufferedInput, "decrypted, not yet read")
        XCTAssertEqual(SessionPair.readAll(pair.server).bytes.count, 2000)
        XCTAssertFalse(pair.server.hasBufferedInput)
    }

    /// A context swap (SIGHUP) affects new sessions only: one made before it finishes with the old
    /// certificate although nothing else holds the old context.
    func test_contextSwap_oldSessionsKeepTheirContext() throws {
        let pki = try TestPKI.get()
        var current: TLSContext? = try Contexts.server()
        weak let old = current
        let before = try current!.makeSession()
        current = try Contexts.server(chain: pki.server2Chain, key: pki.server2Key)
        let after = try current!.makeSession()
        XCTAssertNotNil(old, "the session keeps its context alive")

        for (server, subject) in [(before, TestPKI.serverSubject), (after, TestPKI.server2Subject)] {
            let client = try Contexts.client().makeSession()
            for _ in 0..<10 {
                client.advanceHandshake()
                server.advanceHandshake()
                let a = client.takeCiphertext()
                let b = server.takeCiphertext()
                if a.isEmpty && b.isEmpty { break }
                server.feedCiphertext(a)
                client.feedCiphertext(b)
            }
            XCTAssertEqual(client.info?.peerSubject, subject)
        }
    }
}
