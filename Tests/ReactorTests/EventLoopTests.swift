import Foundation
import Reactor
import Stats
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Records what the loop delivers; optionally drains reads and drops write interest so a
/// level-triggered readiness does not repeat forever.
final class RecordingHandler: EventHandler, @unchecked Sendable {
    struct Counts {
        var readable = 0
        var writable = 0
        var bytes: [UInt8] = []
        var eof = false
        var onQueue = true
    }

    let fd: Int32
    let loop: EventLoop
    let counts = Locked(Counts())
    var dropWritableAfterEvent = true

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    var snapshot: Counts { counts.withLock { $0 } }

    func onReadable() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let r = buffer.withUnsafeMutableBytes { Socket.read(fd, into: $0) }
        counts.withLock { c in
            c.readable += 1
            if case .bytes(let n) = r { c.bytes += buffer[0..<n] }
            if r == .eof { c.eof = true }
        }
        if r == .eof { loop.setInterest(fd, readable: false, writable: false) }
    }

    func onWritable() {
        counts.withLock { $0.writable += 1 }
        if dropWritableAfterEvent { loop.setInterest(fd, readable: true, writable: false) }
    }
}

func makeSocketPair() throws -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0, &fds)
    guard rc == 0 else { throw SystemError("socketpair", errno) }
    return (fds[0], fds[1])
}

func writeAll(_ fd: Int32, _ text: String) -> Int {
    Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
}

final class EventLoopTests: XCTestCase {
    private var loop: EventLoop!

    override func setUpWithError() throws {
        loop = try EventLoop(index: 0, tickIntervalMs: 20)
    }

    override func tearDown() {
        loop.stop()
    }

    private func register(_ fd: Int32, readable: Bool, writable: Bool) throws -> RecordingHandler {
        let handler = RecordingHandler(fd: fd, loop: loop)
        let loop = self.loop!
        try loop.queue.sync {
            try loop.register(fd, handler: handler, readable: readable, writable: writable)
        }
        return handler
    }

    func test_readable_bytesWrittenToPeer_deliveredToHandler() throws {
        let (a, b) = try makeSocketPair()
        defer { close(b) }
        let handler = try register(a, readable: true, writable: false)
        XCTAssertEqual(writeAll(b, "ping"), 4)
        XCTAssertTrue(waitUntil(timeout: 5) { handler.snapshot.bytes == Array("ping".utf8) })
        XCTAssertEqual(writeAll(b, "pong"), 4)
        XCTAssertTrue(waitUntil(timeout: 5) { handler.snapshot.bytes == Array("pingpong".utf8) })
        close(b)
        XCTAssertTrue(waitUntil(timeout: 5) { handler.snapshot.eof }, "peer close not delivered as readable/EOF")
        loop.queue.sync { loop.closeDescriptor(a) }
    }

    func test_noInterest_noEvents_thenWritableInterest_deliversWritable() throws {
        let (a, b) = try makeSocketPair()
        defer { close(b) }
        let handler = try register(a, readable: false, writable: false)
        usleep(150_000)
        XCTAssertEqual(handler.snapshot.writable, 0, "writable delivered without interest")
        XCTAssertEqual(handler.snapshot.readable, 0)
        let loop = self.loop!
        loop.queue.sync { loop.setInterest(a, readable: false, writable: true) }
        XCTAssertTrue(waitUntil(timeout: 5) { handler.snapshot.writable == 1 })
        // The handler dropped write interest: no more writable events although the socket stays writable.
        usleep(150_000)
        XCTAssertEqual(handler.snapshot.writable, 1)
        loop.queue.sync { loop.setInterest(a, readable: true, writable: true) }
        XCTAssertTrue(waitUntil(timeout: 5) { handler.snapshot.writable == 2 })
        loop.queue.sync { loop.closeDescriptor(a) }
    }

    func test_closeDescriptor_noFurtherEventsAndFdClosed() throws {
        let (a, b) = try makeSocketPair()
        defer { close(b) }
        let handler = try register(a, readable: true, writable: false)
        let loop = self.loop!
        loop.queue.sync { loop.closeDescriptor(a) }
        XCTAssertEqual(fcntl(a, F_GETFD), -1, "closeDescriptor must close the fd")
        _ = writeAll(b, "late")
        usleep(150_000)
        XCTAssertEqual(handler.snapshot.readable, 0)
        XCTAssertEqual(handler.snapshot.writable, 0)
    }

    func test_reusedDescriptorNumber_eventsGoToNewHandlerOnly() throws {
        let (a, b) = try makeSocketPair()
        let old = try register(a, readable: true, writable: false)
        let loop = self.loop!
        loop.queue.sync { loop.closeDescriptor(a) }
        close(b)
        let (c, d) = try makeSocketPair()
        defer { close(d) }
        let new = try register(c, readable: true, writable: false)
        _ = writeAll(d, "x")
        XCTAssertTrue(waitUntil(timeout: 5) { new.snapshot.bytes == [UInt8(ascii: "x")] })
        XCTAssertEqual(old.snapshot.readable, 0)
        loop.queue.sync { loop.closeDescriptor(c) }
    }

    func test_onTick_calledRepeatedlyWithMonotonicTime() throws {
        let ticks = Locked<[Int64]>([])
        let loop = self.loop!
        loop.queue.sync { loop.onTick { now in ticks.withLock { $0.append(now) } } }
        XCTAssertTrue(waitUntil(timeout: 5) { ticks.withLock { $0.count } >= 3 })
        let seen = ticks.withLock { $0 }
        XCTAssertEqual(seen, seen.sorted())
    }

    func test_execute_runsOnTheLoopQueue() {
        let done = expectation(description: "ran")
        let key = DispatchSpecificKey<Int>()
        loop.queue.setSpecific(key: key, value: 7)
        loop.execute {
            XCTAssertEqual(DispatchQueue.getSpecific(key: key), 7)
            done.fulfill()
        }
        wait(for: [done], timeout: 5)
    }
}
