import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// One end of an in-memory connection: what the code under test reads is what the test
/// `receive`s, what it writes collects in `written`. Readiness is level-triggered like epoll's and
/// delivered only by `MemoryLoop.run()`, never from inside a call, as the `ByteTransport` contract
/// asks.
public final class MemoryTransport: ByteTransport {
    public private(set) var handler: EventHandler?
    public private(set) var wantsRead = false
    public private(set) var wantsWrite = false
    public private(set) var isClosed = false
    /// The code under test shut its write side (sent EOF).
    public private(set) var writeShut = false
    /// Everything written and not yet taken by the test.
    public private(set) var written: [UInt8] = []
    /// How many more bytes a write takes before it would block; nil is no limit.
    public var writeCapacity: Int?
    /// Still connecting: writable (and `connectError`) only after `finishConnect`.
    public private(set) var connecting: Bool
    private var connectErrno: Int32 = 0
    private var inbound: [UInt8] = []
    private var peerClosed = false
    private var peerReset: Int32 = 0
    private weak var loop: MemoryLoop?

    public init(loop: MemoryLoop, connecting: Bool = false) {
        self.loop = loop
        self.connecting = connecting
        loop.add(self)
    }

    // MARK: the test's side

    /// Bytes from the peer.
    public func receive(_ bytes: [UInt8]) { inbound += bytes }
    public func receive(_ text: String) { receive(Array(text.utf8)) }
    /// The peer closes its side: reads return EOF once the received bytes are read.
    public func receiveEOF() { peerClosed = true }
    /// The peer resets: the next read or write fails with `errno`.
    public func reset(errno: Int32 = ECONNRESET) { peerReset = errno }

    /// The connect completes (errno 0) or fails.
    public func finishConnect(errno: Int32 = 0) {
        connecting = false
        connectErrno = errno
    }

    /// Takes what was written so far, as text.
    public func takeWritten() -> String {
        defer { written.removeAll() }
        return String(decoding: written, as: UTF8.self)
    }

    var readReady: Bool { !inbound.isEmpty || peerClosed || peerReset != 0 }
    var writeReady: Bool { !connecting && (writeCapacity ?? 1) > 0 }

    // MARK: ByteTransport

    public func start(handler: EventHandler, readable: Bool, writable: Bool) throws(SystemError) {
        self.handler = handler
        wantsRead = readable
        wantsWrite = writable
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Socket.IOResult {
        if peerReset != 0 { return .error(peerReset) }
        if inbound.isEmpty { return peerClosed ? .eof : .wouldBlock }
        let n = min(buffer.count, inbound.count)
        buffer.copyBytes(from: inbound[0..<n])
        inbound.removeFirst(n)
        return .bytes(n)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Socket.IOResult {
        if peerReset != 0 { return .error(peerReset) }
        if isClosed || writeShut { return .error(EPIPE) }
        let n = min(bytes.count, writeCapacity ?? bytes.count)
        if n == 0 { return .wouldBlock }
        written += bytes[0..<n]
        if let c = writeCapacity { writeCapacity = c - n }
        return .bytes(n)
    }

    public func setInterest(readable: Bool, writable: Bool) {
        wantsRead = readable
        wantsWrite = writable
    }

    public func shutdownWrite() { writeShut = true }

    public func close() {
        isClosed = true
        handler = nil
    }

    public func connectError() -> Int32 { connectErrno }
}

/// Delivers readiness to the handlers of its transports until nothing more happens: the event
/// loop of the in-memory tests, run by the test itself after each step.
public final class MemoryLoop {
    private var transports: [MemoryTransport] = []

    public init() {}

    func add(_ t: MemoryTransport) { transports.append(t) }

    /// Runs until no transport has a readiness its handler asked for (at most `limit` rounds, so a
    /// handler that never consumes what it is offered fails the test rather than hanging it).
    @discardableResult
    public func run(limit: Int = 10_000) -> Int {
        var rounds = 0
        while rounds < limit {
            var progressed = false
            for t in transports where !t.isClosed {
                if t.wantsWrite && t.writeReady, let h = t.handler {
                    let before = (t.written.count, t.wantsWrite, t.connecting)
                    h.onWritable()
                    progressed = progressed || before != (t.written.count, t.wantsWrite, t.connecting)
                }
                if t.wantsRead && t.readReady && !t.isClosed, let h = t.handler {
                    h.onReadable()
                    progressed = true
                    if t.isClosed { continue }
                }
            }
            transports.removeAll { $0.isClosed }
            if !progressed { break }
            rounds += 1
        }
        precondition(rounds < limit, "MemoryLoop: readiness never settled")
        return rounds
    }
}

/// Hands out in-memory connections, each to be answered by the test (`last`, `opened`).
public final class MemoryConnector: TransportConnector {
    public enum Mode {
        /// Connected at once, as loopback usually is.
        case immediate
        /// Connecting until the test calls `finishConnect`.
        case pending
        /// `connect` itself fails (ECONNREFUSED on loopback does).
        case refuse(errno: Int32)
        /// `connect` throws this (a name with no address throws its resolver failure).
        case fail(SystemError)
    }

    private let loop: MemoryLoop
    public var mode = Mode.immediate
    public private(set) var opened: [MemoryTransport] = []

    public init(loop: MemoryLoop) { self.loop = loop }

    public var last: MemoryTransport? { opened.last }

    public func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool) {
        switch mode {
        case .refuse(let e): throw SystemError("connect", e)
        case .fail(let error): throw error
        case .immediate:
            let t = MemoryTransport(loop: loop)
            opened.append(t)
            return (t, true)
        case .pending:
            let t = MemoryTransport(loop: loop, connecting: true)
            opened.append(t)
            return (t, false)
        }
    }
}

/// A clock the test moves by hand.
public final class ManualTime: TimeSource {
    public private(set) var nowNs: Int64
    public let wallOriginMicros: Int64

    public init(startMs: Int64 = 1_000, wallOriginMicros: Int64 = 1_767_225_600_000_000) {
        nowNs = startMs * 1_000_000
        self.wallOriginMicros = wallOriginMicros
    }

    public func advance(ms: Int64) { nowNs += ms * 1_000_000 }

    public func monotonicNs() -> Int64 { nowNs }
    public func monotonicMs() -> Int64 { nowNs / 1_000_000 }
    public func wallMicros() -> Int64 { wallOriginMicros + nowNs / 1000 }
}
