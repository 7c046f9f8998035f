import Reactor
import TLS
import TestSupport
import XCTest

/// Runs scheduled deliveries when the test says so, like a loop's later tasks.
final class ManualScheduler: ReadinessScheduler {
    private(set) var queued: [() -> Void] = []
    /// Delayed work with its delay; it runs only when the test says the time has passed.
    private(set) var delayed: [(ms: Int, body: () -> Void)] = []

    func runLater(_ body: @escaping () -> Void) { queued.append(body) }

    func runLater(afterMs delay: Int, _ body: @escaping () -> Void) { delayed.append((delay, body)) }

    /// Runs the delayed work as if its time had come.
    func runDelayed() {
        let work = delayed
        delayed = []
        for w in work { w.body() }
    }

    /// Runs what is queued now (not what those runs queue); returns how many ran.
    @discardableResult
    func runQueued() -> Int {
        let work = queued
        queued = []
        for w in work { w() }
        return work.count
    }
}

/// A handler whose reactions the test scripts, and which checks the transport's promise never to
/// call back from inside one of its own calls.
final class ScriptedHandler: EventHandler {
    var readable: (ScriptedHandler) -> Void = { _ in }
    var writable: (ScriptedHandler) -> Void = { _ in }
    private(set) var readableCount = 0
    private(set) var writableCount = 0
    private var insideCall = false
    var transport: TLSTransport!
    var received: [UInt8] = []
    var lastRead: Socket.IOResult?

    func onReadable() {
        XCTAssertFalse(insideCall, "readable delivered from inside a transport call")
        readableCount += 1
        readable(self)
    }

    func onWritable() {
        XCTAssertFalse(insideCall, "writable delivered from inside a transport call")
        writableCount += 1
        writable(self)
    }

    /// Every transport call of the test goes through here.
    func call<T, E: Error>(_ body: (TLSTransport) throws(E) -> T) throws(E) -> T {
        insideCall = true
        defer { insideCall = false }
        return try body(transport)
    }

    /// One read of up to `max` bytes into `received`. At the end of the stream it stops reading,
    /// as a real handler does (the end stays readable, as a socket's does).
    @discardableResult
    func readOnce(max: Int = 16 * 1024) -> Socket.IOResult {
        var buffer = [UInt8](repeating: 0, count: max)
        let r = buffer.withUnsafeMutableBytes { b in call { $0.read(into: b) } }
        if case .bytes(let n) = r { received += buffer[0..<n] }
        if r == .eof { setInterest(readable: false, writable: false) }
        lastRead = r
        return r
    }

    /// Reads until anything but bytes.
    @discardableResult
    func readAll(chunk: Int = 16 * 1024) -> Socket.IOResult {
        while true {
            let r = readOnce(max: chunk)
            if case .bytes = r { continue }
            return r
        }
    }

    func write(_ bytes: [UInt8]) -> Socket.IOResult {
        bytes.withUnsafeBytes { b in call { $0.write(b) } }
    }

    func setInterest(readable: Bool, writable: Bool) {
        call { $0.setInterest(readable: readable, writable: writable) }
    }
}

/// A `TLSTransport` over a `MemoryTransport`, with a bare `TLSSession` as the peer that the test
/// drives: every byte and every readiness moves only when `pump` (or the loop) moves it.
final class MemoryTLSFixture {
    let loop = MemoryLoop()
    let scheduler = ManualScheduler()
    let socket: MemoryTransport
    let transport: TLSTransport
    let peer: TLSSession
    let handler = ScriptedHandler()
    private(set) var handshakes: [Result<TLSHandshakeInfo, TLSError>] = []
    private var takenFromSocket = 0

    /// `role` is the transport's; the peer takes the other. `connecting` starts a client before
    /// its TCP connect completed.
    init(role: TLSConfiguration.Role, serverName: String = "localhost", connecting: Bool = false) throws {
        let session: TLSSession
        switch role {
        case .server:
            session = try Contexts.server().makeSession()
            peer = try Contexts.client().makeSession()
        case .client:
            session = try Contexts.client(serverName: serverName).makeSession()
            peer = try Contexts.server().makeSession()
        }
        socket = MemoryTransport(loop: loop, connecting: connecting)
        transport = TLSTransport(wrapping: socket, session: session, scheduler: scheduler, connecting: connecting)
        handler.transport = transport
        transport.onHandshake = { [unowned self] in self.handshakes.append($0) }
    }

    func start(readable: Bool, writable: Bool) throws {
        try handler.call { try $0.start(handler: handler, readable: readable, writable: writable) }
    }

    /// Ciphertext the transport wrote that the peer has not been fed yet.
    var unreadBySocketPeer: Int { socket.written.count - takenFromSocket }

    /// Moves ciphertext between the peer and the socket and runs the loop and scheduled deliveries
    /// until nothing moves.
    func pump(limit: Int = 1000) {
        for _ in 0..<limit {
            var moved = false
            peer.advanceHandshake()
            let toSocket = peer.takeCiphertext()
            if !toSocket.isEmpty {
                socket.receive(toSocket)
                moved = true
            }
            if socket.written.count > takenFromSocket {
                peer.feedCiphertext(Array(socket.written[takenFromSocket...]))
                takenFromSocket = socket.written.count
                moved = true
            }
            if loop.run() > 0 { moved = true }
            if scheduler.runQueued() > 0 { moved = true }
            if !moved { return }
        }
        XCTFail("pump did not settle")
    }

    /// Everything the peer can read now.
    func peerReads() -> (bytes: [UInt8], last: TLSSession.ReadResult) { SessionPair.readAll(peer) }

    /// Writes `bytes` from the peer.
    func peerWrites(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            guard case .bytes(let n) = bytes[offset...].withUnsafeBytes({ peer.writePlaintext($0) }) else {
                return XCTFail("the peer could not write")
            }
            offset += n
        }
    }
}
