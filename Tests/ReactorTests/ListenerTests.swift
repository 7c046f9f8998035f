import Foundation
import Reactor
import Stats
import Synchronization
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class ListenerTests: XCTestCase {
    private var loop: EventLoop!

    override func setUpWithError() throws {
        loop = try EventLoop(index: 0, tickIntervalMs: 20)
    }

    override func tearDown() {
        loop.stop()
    }

    /// What the accept callback saw, shared with the test thread.
    private final class Accepted: Sendable {
        struct State {
            var fds: [Int32] = []
            var peers: [String] = []
        }
        let state = Locked(State())

        func withLock<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }
    }

    private func makeListener(
        _ accepted: Accepted, atCapacity: (@Sendable () -> Bool)? = nil
    ) throws -> (Listener, UInt16) {
        let fd = try Socket.listen(SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
        let port = Socket.localAddress(fd).hostAndPort.port
        XCTAssertNotEqual(port, 0)
        let loop = self.loop!
        let listener = try loop.queue.sync { () throws -> Listener in
            let l = try Listener(fd: fd, loop: loop) { c, peer in
                accepted.withLock {
                    $0.fds.append(c)
                    $0.peers.append(peer.hostAndPort.host)
                }
            }
            if let atCapacity { l.atCapacity = atCapacity }
            return l
        }
        return (listener, port)
    }

    func test_listener_acceptsLoopbackConnectionsWithPeerAddress() throws {
        let accepted = Accepted()
        let (listener, port) = try makeListener(accepted)
        let clients = try (0..<3).map { _ in try RawHTTPClient(port: port) }
        XCTAssertTrue(waitUntil(timeout: 5) { accepted.withLock { $0.fds.count } == 3 })
        XCTAssertEqual(accepted.withLock { $0.peers }, ["127.0.0.1", "127.0.0.1", "127.0.0.1"])
        // Accepted sockets are non-blocking: an empty read says wouldBlock instead of hanging.
        let fd = accepted.withLock { $0.fds[0] }
        var byte: UInt8 = 0
        let r = withUnsafeMutableBytes(of: &byte) { Socket.read(fd, into: $0) }
        XCTAssertEqual(r, .wouldBlock)
        try clients[0].send("hi")
        var two = [UInt8](repeating: 0, count: 2)
        XCTAssertTrue(
            waitUntil(timeout: 5) { two.withUnsafeMutableBytes { Socket.read(fd, into: $0) } == .bytes(2) })
        XCTAssertEqual(two, Array("hi".utf8))
        loop.queue.sync { listener.close() }
        for fd in accepted.withLock({ $0.fds }) { close(fd) }
    }

    func test_listener_atCapacity_pausesUntilCapacityReturns() throws {
        let accepted = Accepted()
        let full = Atomic<Bool>(true)
        let (listener, port) = try makeListener(accepted) { full.load(ordering: .relaxed) }
        let client = try RawHTTPClient(port: port)  // completes in the kernel backlog
        usleep(200_000)
        XCTAssertEqual(accepted.withLock { $0.fds.count }, 0, "accepted while at capacity")
        full.store(false, ordering: .relaxed)
        XCTAssertTrue(waitUntil(timeout: 5) { accepted.withLock { $0.fds.count } == 1 }, "never resumed")
        _ = client
        loop.queue.sync { listener.close() }
        for fd in accepted.withLock({ $0.fds }) { close(fd) }
    }

    func test_listener_close_refusesNewConnections() throws {
        let accepted = Accepted()
        let (listener, port) = try makeListener(accepted)
        loop.queue.sync { listener.close() }
        XCTAssertThrowsError(try RawHTTPClient(port: port))
    }
}
