import CSSL
import Reactor
import TestSupport
import XCTest

@testable import TLS

#if canImport(Glibc)
    import Glibc
#endif

/// `TLSTransport`'s readiness mapping, step by step over an in-memory socket: what the handler is
/// told and when, what the socket is watched for, what is held while it is full. Each test names
/// the trap it guards against.
final class TLSTransportMemoryTests: XCTestCase {
    private func establishedServer(readable: Bool = true) throws -> MemoryTLSFixture {
        let f = try MemoryTLSFixture(role: .server)
        try f.start(readable: readable, writable: false)
        f.pump()
        XCTAssertEqual(f.transport.session.handshakeState, .done)
        return f
    }

    func test_handshake_reportedOnce_thenPlaintextBothWays() throws {
        let f = try MemoryTLSFixture(role: .server)
        f.handler.readable = { $0.readAll() }
        try f.start(readable: true, writable: false)
        f.pump()
        XCTAssertEqual(f.handshakes.count, 1)
        guard case .success(let info)? = f.handshakes.first else { return XCTFail("no successful handshake") }
        XCTAssertEqual(info.serverName, "localhost")
        XCTAssertEqual(f.transport.handshakeInfo, info)
        XCTAssertEqual(f.handler.received, [], "no plaintext yet")

        f.peerWrites(Array("hello".utf8))
        f.pump()
        XCTAssertEqual(f.handler.received, Array("hello".utf8))
        XCTAssertEqual(f.handler.lastRead, .wouldBlock)
        XCTAssertEqual(f.handler.write(Array("world".utf8)), .bytes(5))
        f.pump()
        XCTAssertEqual(f.peerReads().bytes, Array("world".utf8))
        XCTAssertEqual(f.handshakes.count, 1)
    }

    func test_readAndWrite_duringHandshake_wouldBlock_andHandlerHearsNothing() throws {
        let f = try MemoryTLSFixture(role: .server)
        try f.start(readable: true, writable: true)
        f.loop.run()
        XCTAssertEqual(f.handler.readableCount + f.handler.writableCount, 0, "nothing before the handshake")
        XCTAssertEqual(f.handler.readOnce(), .wouldBlock)
        XCTAssertEqual(f.handler.write(Array("x".utf8)), .wouldBlock)
        XCTAssertTrue(f.socket.wantsRead, "the handshake reads whatever the handler wants")
    }

    /// Trap: the socket's ciphertext was all read into OpenSSL, the handler took one chunk of the
    /// plaintext and returned. epoll has nothing more to say; the transport must.
    func test_handlerStoppingBeforeWouldBlock_isToldAgain_withoutNewSocketData() throws {
        let f = try establishedServer()
        f.handler.readable = { $0.readOnce(max: 1000) }
        f.peerWrites(pattern(12_000))
        f.socket.receive(f.peer.takeCiphertext())
        f.loop.run()
        XCTAssertEqual(f.handler.received.count, 1000, "one read per readable")
        XCTAssertFalse(f.scheduler.queued.isEmpty, "the rest is already inside the session: a delivery is due")
        f.pump()
        assertSameBytes(f.handler.received, pattern(12_000))
        XCTAssertTrue(f.scheduler.queued.isEmpty, "no delivery once the handler has read everything")
    }

    /// Trap: the handler turned reading off with plaintext still buffered, and on again later
    /// from outside any callback (the proxy resuming a client once the upstream drained).
    func test_readingTurnedBackOnLater_deliversBufferedPlaintext() throws {
        let f = try establishedServer()
        f.handler.readable = { h in
            h.readOnce(max: 1000)
            h.setInterest(readable: false, writable: false)
        }
        f.peerWrites(pattern(5000))
        f.pump()
        XCTAssertEqual(f.handler.received.count, 1000)
        XCTAssertFalse(f.socket.wantsRead, "a paused reader pauses the socket too")
        var rounds = 0
        while f.handler.received.count < 5000 && rounds < 10 {
            let before = f.handler.readableCount
            f.handler.setInterest(readable: true, writable: false)
            XCTAssertEqual(f.handler.readableCount, before, "not from inside setInterest")
            f.pump()
            rounds += 1
        }
        assertSameBytes(f.handler.received, pattern(5000))
        XCTAssertTrue(f.socket.written.isEmpty == false)
    }

    /// Trap: the socket is full. Plaintext taken is held as ciphertext (bounded), further writes
    /// are refused until it is sent, and the handler is told writable only then.
    func test_fullSocket_holdsCiphertext_refusesMore_thenFlushesInOrder() throws {
        let f = try establishedServer(readable: false)
        let body = pattern(300_000)
        var out = ByteBuffer()
        out.append(body)
        f.handler.writable = { h in
            while !out.isEmpty {
                guard case .bytes = out.writeFrom({ b in h.call { $0.write(b) } }) else { return }
            }
            h.setInterest(readable: false, writable: false)
        }
        f.socket.writeCapacity = 0
        let first = out.writeFrom { b in f.handler.call { $0.write(b) } }
        XCTAssertEqual(first, .bytes(TLSTransport.maxPlaintextPerWrite), "taken and held as ciphertext")
        XCTAssertEqual(out.writeFrom { b in f.handler.call { $0.write(b) } }, .wouldBlock, "nothing more while held")
        f.handler.setInterest(readable: false, writable: true)
        f.pump()
        XCTAssertEqual(f.handler.writableCount, 0, "not writable while the socket takes nothing")
        XCTAssertTrue(f.socket.wantsWrite)
        f.socket.writeCapacity = nil
        f.pump()
        XCTAssertTrue(out.isEmpty)
        assertSameBytes(f.peerReads().bytes, body)
        XCTAssertFalse(f.socket.wantsWrite, "nothing held, nothing wanted")
    }

    /// A key update the peer requested is answered before our next data (OpenSSL 3.0 answers
    /// with the next write): the answer and the data must leave in that order.
    func test_keyUpdateRequestedByPeer_answeredInOrderWithOurNextWrite() throws {
        let f = try establishedServer()
        f.handler.readable = { $0.readAll() }
        XCTAssertTrue(f.peer.requestKeyUpdate())
        f.peerWrites(Array("after the update".utf8))
        f.pump()
        XCTAssertEqual(f.handler.received, Array("after the update".utf8))
        f.socket.writeCapacity = 10
        XCTAssertEqual(f.handler.write(Array("reply".utf8)), .bytes(5))
        XCTAssertTrue(f.socket.wantsWrite, "held behind a full socket")
        f.socket.writeCapacity = nil
        f.pump()
        let read = f.peerReads()
        XCTAssertEqual(read.bytes, Array("reply".utf8), "decrypted with the updated keys")
        XCTAssertEqual(read.last, .wantMore)
    }

    /// Trap: a read that makes TLS write, for a handler that only reads, while the socket is
    /// full. A TLS 1.2 peer asking to renegotiate gets our refusal (a no_renegotiation alert)
    /// from inside the read: the socket must be watched for writing to send it.
    func test_readThatWrites_refusedRenegotiation_sentAlthoughTheHandlerOnlyReads() throws {
        let f = try MemoryTLSFixture(role: .server)
        let peer = f.peer.handleForTesting
        XCTAssertEqual(traceproxy_SSL_set_max_proto_version(peer, TLS1_2_VERSION), 1)
        SSL_clear_options(peer, TRACEPROXY_SSL_OP_NO_RENEGOTIATION)
        f.handler.readable = { $0.readAll() }
        try f.start(readable: true, writable: false)
        f.pump()
        XCTAssertEqual(f.transport.handshakeInfo?.protocolVersion, "TLSv1.2")
        f.socket.writeCapacity = 0
        let writtenBefore = f.socket.written.count
        XCTAssertEqual(SSL_renegotiate(peer), 1)
        _ = SSL_do_handshake(peer)
        f.pump()
        XCTAssertEqual(f.handler.lastRead, .wouldBlock, "no plaintext, no failure")
        XCTAssertTrue(f.socket.wantsWrite, "the refusal waits for the socket")
        XCTAssertEqual(f.socket.written.count, writtenBefore)
        f.socket.writeCapacity = nil
        f.pump()
        XCTAssertFalse(f.socket.wantsWrite)
        guard case .error(let e) = f.peerReads().last else { return XCTFail("the peer should hear the refusal") }
        XCTAssertTrue(e.message.contains("no renegotiation"), e.message)
    }

    func test_plainHTTP_failsHandshake_readIsAnError_withProtocolReason() throws {
        let f = try MemoryTLSFixture(role: .server)
        f.handler.readable = { $0.readOnce() }
        try f.start(readable: true, writable: false)
        f.socket.receive("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        f.loop.run()
        XCTAssertEqual(f.handler.lastRead, .error(EPROTO))
        XCTAssertEqual(f.transport.failure?.reason, .protocol)
        guard case .failure(let e)? = f.handshakes.first else { return XCTFail("no failure reported") }
        XCTAssertEqual(e.reason, .protocol)
        XCTAssertEqual(f.handler.write(Array("x".utf8)), .error(EPROTO))
        XCTAssertFalse(f.socket.wantsRead, "nothing more is read after a failure")
    }

    func test_failure_whileHandlerWantsNothing_deliveredWhenItAsks() throws {
        let f = try MemoryTLSFixture(role: .server)
        // As a real handler does: an error ends the connection (a failed transport stays readable,
        // as an errored socket does, so one that kept asking would be told forever).
        f.handler.readable = { h in
            if case .error = h.readOnce() { h.call { $0.close() } }
        }
        try f.start(readable: false, writable: false)
        f.socket.receive("GET / HTTP/1.1\r\n\r\n")
        f.pump()
        XCTAssertEqual(f.transport.failure?.reason, .protocol)
        XCTAssertEqual(f.handler.readableCount, 0)
        f.handler.setInterest(readable: true, writable: false)
        XCTAssertEqual(f.handler.readableCount, 0, "not from inside setInterest")
        f.pump()
        XCTAssertEqual(f.handler.lastRead, .error(EPROTO))
    }

    func test_endOfStreamDuringHandshake_connectionClosed() throws {
        let f = try MemoryTLSFixture(role: .server)
        f.handler.readable = { $0.readOnce() }
        try f.start(readable: true, writable: false)
        f.socket.receiveEOF()
        f.loop.run()
        XCTAssertEqual(f.transport.failure?.reason, .connectionClosed)
        XCTAssertEqual(f.handler.lastRead, .error(EPROTO))
    }

    func test_peerCloseNotify_readsEOF_clean() throws {
        let f = try establishedServer()
        f.handler.readable = { $0.readAll() }
        f.peerWrites(Array("bye".utf8))
        f.peer.shutdown()
        f.pump()
        XCTAssertEqual(f.handler.received, Array("bye".utf8))
        XCTAssertEqual(f.handler.lastRead, .eof)
        XCTAssertTrue(f.transport.session.receivedCloseNotify)
    }

    func test_peerHangsUpWithoutCloseNotify_readsEOF_notClean() throws {
        let f = try establishedServer()
        f.handler.readable = { $0.readAll() }
        f.peerWrites(Array("cut".utf8))
        f.pump()
        f.socket.receiveEOF()
        f.pump()
        XCTAssertEqual(f.handler.received, Array("cut".utf8))
        XCTAssertEqual(f.handler.lastRead, .eof)
        XCTAssertFalse(f.transport.session.receivedCloseNotify)
    }

    func test_shutdownWrite_closeNotifyBeforeFIN_evenWhenHeld() throws {
        let f = try establishedServer()
        f.socket.writeCapacity = 0
        XCTAssertEqual(f.handler.write(pattern(100)), .bytes(100))
        f.handler.call { $0.shutdownWrite() }
        XCTAssertFalse(f.socket.writeShut, "the FIN waits for the data and close_notify")
        XCTAssertEqual(f.handler.write(pattern(1)), .error(EPIPE))
        f.socket.writeCapacity = nil
        f.pump()
        XCTAssertTrue(f.socket.writeShut)
        let read = f.peerReads()
        assertSameBytes(read.bytes, pattern(100))
        XCTAssertEqual(read.last, .closed)
        XCTAssertTrue(f.peer.receivedCloseNotify)
    }

    func test_close_saysCloseNotify_andClosesTheSocket() throws {
        let f = try establishedServer()
        f.handler.call { $0.close() }
        XCTAssertTrue(f.socket.isClosed)
        f.pump()
        XCTAssertEqual(f.peerReads().last, .closed)
        XCTAssertTrue(f.peer.receivedCloseNotify)
        XCTAssertEqual(f.handler.readOnce(), .error(EBADF))
    }

    /// Trap: a handler closing as soon as its writes were taken (the proxy after a response to a
    /// client that half-closed) must not lose the ciphertext the socket had no room for.
    func test_closeRightAfterWrites_heldCiphertextStillSent_thenSocketClosed() throws {
        let f = try establishedServer()
        f.socket.writeCapacity = 1000
        let body = pattern(50_000)
        XCTAssertEqual(f.handler.write(body), .bytes(50_000))
        f.handler.call { $0.close() }
        XCTAssertFalse(f.socket.isClosed, "held ciphertext keeps the socket open")
        XCTAssertEqual(f.handler.readOnce(), .error(EBADF), "but the transport is closed to its handler")
        let callbacks = f.handler.readableCount + f.handler.writableCount
        f.socket.writeCapacity = nil
        f.pump()
        XCTAssertTrue(f.socket.isClosed)
        XCTAssertEqual(f.handler.readableCount + f.handler.writableCount, callbacks, "no callbacks after close")
        let read = f.peerReads()
        assertSameBytes(read.bytes, body)
        XCTAssertEqual(read.last, .closed)
        XCTAssertTrue(f.peer.receivedCloseNotify)
        f.scheduler.runDelayed()
        XCTAssertTrue(f.socket.isClosed)
    }

    func test_closeWithHeldCiphertext_peerNeverReads_closedAfterGrace() throws {
        let f = try establishedServer()
        f.socket.writeCapacity = 0
        XCTAssertEqual(f.handler.write(pattern(5000)), .bytes(5000))
        f.handler.call { $0.close() }
        f.pump()
        XCTAssertFalse(f.socket.isClosed)
        XCTAssertEqual(f.scheduler.delayed.map(\.ms), [f.transport.closeGraceMs])
        f.scheduler.runDelayed()
        XCTAssertTrue(f.socket.isClosed, "the grace period bounds how long a closed transport holds its socket")
    }

    // MARK: client side

    func test_client_handshakeStartsWhenConnectCompletes_thenWritable() throws {
        let f = try MemoryTLSFixture(role: .client, connecting: true)
        var connectErrorAtWritable: Int32?
        f.handler.readable = { $0.readAll() }
        f.handler.writable = { h in
            connectErrorAtWritable = h.call { $0.connectError() }
            h.setInterest(readable: true, writable: false)
        }
        try f.start(readable: false, writable: true)
        f.pump()
        XCTAssertTrue(f.socket.written.isEmpty, "no ClientHello before the connect completed")
        XCTAssertTrue(f.socket.wantsWrite)
        f.socket.finishConnect()
        f.pump()
        XCTAssertEqual(Array(f.socket.written.prefix(2)), [0x16, 0x03], "a handshake record")
        XCTAssertEqual(f.handler.writableCount, 1, "writable once: when TLS is up")
        XCTAssertEqual(connectErrorAtWritable, 0)
        XCTAssertNotNil(f.transport.handshakeInfo)
    }

    func test_client_connectRefused_isTheConnectError() throws {
        let f = try MemoryTLSFixture(role: .client, connecting: true)
        f.handler.writable = { h in h.setInterest(readable: false, writable: false) }
        try f.start(readable: false, writable: true)
        f.socket.finishConnect(errno: ECONNREFUSED)
        f.pump()
        XCTAssertEqual(f.handler.writableCount, 1)
        XCTAssertEqual(f.handler.call { $0.connectError() }, ECONNREFUSED)
        XCTAssertEqual(f.handler.write(Array("x".utf8)), .error(ECONNREFUSED))
        XCTAssertTrue(f.socket.written.isEmpty)
    }

    func test_client_handshakeFailure_isConnectErrorEPROTO_withReason() throws {
        let f = try MemoryTLSFixture(role: .client, serverName: "example.com", connecting: true)
        f.handler.writable = { h in h.setInterest(readable: false, writable: false) }
        try f.start(readable: false, writable: true)
        f.socket.finishConnect()
        f.pump()
        XCTAssertEqual(f.handler.writableCount, 1)
        XCTAssertEqual(f.handler.call { $0.connectError() }, EPROTO)
        XCTAssertEqual(f.transport.failure?.reason, .hostnameMismatch)
        guard case .failure(let e)? = f.handshakes.first else { return XCTFail("no failure reported") }
        XCTAssertEqual(e.reason, .hostnameMismatch)
        XCTAssertEqual(f.peer.failure?.reason, .badCertificate, "our alert reached the server")
    }

    func test_client_alreadyConnected_handshakeStartsInStart() throws {
        let f = try MemoryTLSFixture(role: .client)
        try f.start(readable: false, writable: true)
        XCTAssertEqual(Array(f.socket.written.prefix(2)), [0x16, 0x03])
    }
}
