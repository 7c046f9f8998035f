import Foundation
import Reactor
import TLS
import XCTest

/// Megabytes through `TLSTransport` on real event loops with 32 KB socket buffers (64 KB once the
/// kernel doubles them, less than one write's ciphertext; smaller ones make loopback TCP itself
/// stall against 16 KB records: 23 s for 4 MB between two Python TLS sockets), so writes keep
/// meeting a full socket (held ciphertext, writable later) and readers that stop early or pause
/// keep leaving decrypted plaintext behind (deliveries the socket cannot give).
final class TLSTransferTests: XCTestCase {
    /// Under a sanitizer's slowdown the reader can keep up and a full socket is not guaranteed:
    /// the bytes are still checked, only "the path was exercised" is not asserted.
    static let underSanitizer =
        ProcessInfo.processInfo.environment["TSAN_OPTIONS"] != nil
        || ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil

    static let size = 4 * 1024 * 1024
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for c in cleanups.reversed() { c() }
    }

    func test_ourClientAndServer_4MBEachWay_smallBuffers_earlyStoppingAndPausingReaders() throws {
        let payload = pattern(Self.size)
        // The server reads 1 KB per readable and returns; the client turns reading off after
        // every read and back on from a later loop task.
        let server = try EchoServer(
            context: Contexts.server(), style: ReadStyle(chunk: 1024, readsPerEvent: 1), smallBuffers: true)
        cleanups.append(server.stop)
        let run = try ClientRun(
            port: server.port, context: Contexts.client(), payload: payload,
            style: ReadStyle(chunk: 4096, pauseAfterRead: true), smallBuffers: true, closeAfterReceiving: payload.count)
        cleanups.append(run.stop)
        let client = try XCTUnwrap(run.recorder.wait(timeout: 60) { $0.closed })
        XCTAssertNil(client.ioError, "\(client.failure?.message ?? "")")
        assertSameBytes(client.received, payload, "echoed back")
        if !Self.underSanitizer {
            XCTAssertGreaterThan(client.refusedWrites, 0, "the client's writes met a full socket")
        }
        let served = try XCTUnwrap(server.recorder.wait(timeout: 30) { $0.closed })
        if !Self.underSanitizer { XCTAssertGreaterThan(served.refusedWrites, 0, "the echo met a full socket") }
        XCTAssertEqual(served.received.count, payload.count)
        XCTAssertTrue(served.closeNotify, "the client ended with close_notify")
    }

    func test_ourClient_pythonEchoServer_4MB_smallBuffers() throws {
        let pki = try TestPKI.get()
        let peer = try PythonTLSPeer.server(["--cert", pki.serverChain, "--key", pki.serverKey, "--small-buffers"])
        cleanups.append(peer.stop)
        let payload = pattern(Self.size)
        let run = try ClientRun(
            port: peer.port, context: Contexts.client(), payload: payload,
            style: ReadStyle(chunk: 2048, readsPerEvent: 1), smallBuffers: true, closeAfterReceiving: payload.count)
        cleanups.append(run.stop)
        let client = try XCTUnwrap(run.recorder.wait(timeout: 60) { $0.closed })
        XCTAssertNil(client.ioError, "\(client.failure?.message ?? "") \(peer.transcript)")
        assertSameBytes(client.received, payload)
        if !Self.underSanitizer { XCTAssertGreaterThan(client.refusedWrites, 0, "writes met a full socket") }
        let eof = try XCTUnwrap(peer.event("eof"), peer.transcript)
        XCTAssertEqual(eof["bytes"] as? Int, payload.count)
        XCTAssertEqual(eof["clean"] as? Bool, true)
    }

    func test_pythonClientSends4MB_ourServerReadsSmallChunks() throws {
        let pki = try TestPKI.get()
        let server = try EchoServer(
            context: Contexts.server(), style: ReadStyle(chunk: 1000, readsPerEvent: 1), smallBuffers: true,
            closeAfterReceiving: Self.size, echo: false)
        cleanups.append(server.stop)
        let peer = try PythonTLSPeer.client(
            port: server.port,
            ["--ca", pki.rootCA, "--server-name", "localhost", "--small-buffers", "--action", "send:\(Self.size)"])
        cleanups.append(peer.stop)
        let record = try XCTUnwrap(server.recorder.wait(timeout: 60) { $0.closed })
        assertSameBytes(record.received, pattern(Self.size))
        XCTAssertEqual(peer.event("eof")?["clean"] as? Bool, true, peer.transcript)
    }

    func test_ourServerSends4MB_pythonClientReads() throws {
        let pki = try TestPKI.get()
        let server = try EchoServer(
            context: Contexts.server(), smallBuffers: true, closeAfterReceiving: 0, echo: false,
            toSend: pattern(Self.size))
        cleanups.append(server.stop)
        let peer = try PythonTLSPeer.client(
            port: server.port,
            ["--ca", pki.rootCA, "--server-name", "localhost", "--small-buffers", "--action", "request:"])
        cleanups.append(peer.stop)
        let eof = try XCTUnwrap(peer.event("eof", timeout: 60), peer.transcript)
        if !Self.underSanitizer {
            XCTAssertGreaterThan(server.recorder.wait { $0.closed }?.refusedWrites ?? 0, 0, "writes met a full socket")
        }
        XCTAssertEqual(eof["bytes"] as? Int, Self.size)
        XCTAssertEqual(eof["pattern"] as? Bool, true, "bytes in order")
        XCTAssertEqual(eof["clean"] as? Bool, true, "close_notify after the last byte")
    }
}
