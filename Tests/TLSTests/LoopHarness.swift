import Dispatch
import Foundation
import Reactor
import Stats
import TLS

#if canImport(Glibc)
    import Glibc
#endif

/// What one connection of the harness saw, updated on the loop and read by the test.
struct ConnectionRecord {
    var handshake: Result<TLSHandshakeInfo, TLSError>?
    var received: [UInt8] = []
    var eof = false
    var closeNotify = false
    var ioError: Int32?
    var failure: TLSError?
    var connectError: Int32?
    var closed = false
    /// Writes the transport refused (socket full, ciphertext held): the transfer tests check the
    /// path was taken.
    var refusedWrites = 0
}

/// Records shared between the loop and the test, with a wake-up for each change.
final class Recorder: @unchecked Sendable {
    private let records = Locked<[ConnectionRecord]>([])
    private let changed = DispatchSemaphore(value: 0)

    func add() -> Int {
        records.withLock {
            $0.append(ConnectionRecord())
            return $0.count - 1
        }
    }

    func update(_ index: Int, _ body: (inout ConnectionRecord) -> Void) {
        records.withLock { body(&$0[index]) }
        changed.signal()
    }

    /// Waits until record `index` exists and satisfies `condition`; returns it either way (nil
    /// when it never existed). The condition is checked under the lock and nothing is copied out
    /// until it holds: a copy held by this thread would make the loop's next append to `received`
    /// copy megabytes (copy-on-write), once per read.
    func wait(_ index: Int = 0, timeout: TimeInterval = 15, until condition: (ConnectionRecord) -> Bool)
        -> ConnectionRecord?
    {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let done = records.withLock { index < $0.count && condition($0[index]) }
            let left = end.timeIntervalSinceNow
            if done || left <= 0 { return records.withLock { index < $0.count ? $0[index] : nil } }
            _ = changed.wait(timeout: .now() + left)
        }
    }
}

/// How a harness connection reads: `readsPerEvent` below `.max` stops before `.wouldBlock` (the
/// handler relies on being told again), `pauseAfterRead` turns reading off after each read and
/// back on from a later loop task (outside any callback).
struct ReadStyle {
    var chunk = 16 * 1024
    var readsPerEvent = Int.max
    var pauseAfterRead = false
}

func setSmallBuffers(_ fd: Int32, bytes: Int32 = 32 * 1024) {
    var size = bytes
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
}

/// A connection handler for both harness sides: writes `toSend`, echoes what it reads when
/// `echo`, keeps what it reads, and after `closeAfterReceiving` bytes (or the peer's end, once its
/// output is flushed) says close_notify and closes.
final class HarnessConnection: EventHandler {
    let transport: TLSTransport
    private let loop: EventLoop
    private let recorder: Recorder
    private let index: Int
    private let style: ReadStyle
    private let echo: Bool
    private let closeAfterReceiving: Int?
    private var out = ByteBuffer()
    private var readBuffer: [UInt8]
    private var receivedCount = 0
    private var peerEnded = false
    private var finished = false
    private var paused = false
    private var waitingForConnect: Bool
    /// Echo input is not read while this much output waits (back-pressure, as the proxy does).
    private let highWater = 256 * 1024

    init(
        transport: TLSTransport, loop: EventLoop, recorder: Recorder, index: Int, style: ReadStyle, echo: Bool,
        toSend: [UInt8] = [], closeAfterReceiving: Int? = nil, connecting: Bool = false
    ) {
        self.transport = transport
        self.loop = loop
        self.recorder = recorder
        self.index = index
        self.style = style
        self.echo = echo
        self.closeAfterReceiving = closeAfterReceiving
        self.waitingForConnect = connecting
        readBuffer = [UInt8](repeating: 0, count: style.chunk)
        out.append(toSend)
    }

    func start() throws {
        try transport.start(handler: self, readable: !waitingForConnect, writable: waitingForConnect || !out.isEmpty)
    }

    func onReadable() {
        if finished || paused { return }
        var reads = 0
        while reads < style.readsPerEvent && !backlogged {
            let r = readBuffer.withUnsafeMutableBytes { transport.read(into: $0) }
            switch r {
            case .bytes(let n):
                reads += 1
                receivedCount += n
                let chunk = readBuffer[0..<n]
                recorder.update(index) { $0.received += chunk }
                if echo { out.append(Array(chunk)) }
                if style.pauseAfterRead {
                    pause()
                    flush()
                    return
                }
            case .wouldBlock:
                flush()
                return
            case .eof:
                peerEnded = true
                let clean = transport.session.receivedCloseNotify
                recorder.update(index) {
                    $0.eof = true
                    $0.closeNotify = clean
                }
                flush()
                return
            case .error(let e):
                fail(e)
                return
            }
        }
        flush()
    }

    func onWritable() {
        if finished { return }
        if waitingForConnect {
            waitingForConnect = false
            let e = transport.connectError()
            if e != 0 {
                recorder.update(index) {
                    $0.connectError = e
                    $0.failure = self.transport.failure
                }
                finish()
                return
            }
        }
        flush()
    }

    private func pause() {
        paused = true
        // A later loop task, not this callback: the transport must deliver the plaintext it still
        // holds although the socket has nothing new.
        loop.runLater { [self] in
            self.paused = false
            if !self.finished { self.updateInterest() }
        }
    }

    private func flush() {
        while !out.isEmpty {
            switch out.write(to: transport) {
            case .bytes: continue
            case .wouldBlock:
                recorder.update(index) { $0.refusedWrites += 1 }
                updateInterest()
                return
            case .eof: return fail(EPIPE)
            case .error(let e): return fail(e)
            }
        }
        out.removeAll()
        if peerEnded || (closeAfterReceiving.map { receivedCount >= $0 } ?? false) {
            transport.shutdownWrite()
            finish()
            return
        }
        updateInterest()
    }

    /// An echo stops reading while its answer is backed up; a sender keeps reading (its peer may
    /// be an echo waiting for us to read before it reads more).
    private var backlogged: Bool { echo && out.readableCount >= highWater }

    private func updateInterest() {
        let readable = !paused && !peerEnded && !backlogged
        transport.setInterest(readable: readable, writable: !out.isEmpty)
    }

    private func fail(_ e: Int32) {
        let failure = transport.failure
        recorder.update(index) {
            $0.ioError = e
            $0.failure = failure
        }
        finish()
    }

    private func finish() {
        finished = true
        transport.close()
        recorder.update(index) { $0.closed = true }
    }
}

/// Our TLS server on a real event loop: each accepted socket becomes a server `TLSTransport`
/// served by an echoing `HarnessConnection`. The context is read per connection from a
/// lock-protected reference, as the listener will do to swap it on SIGHUP.
final class EchoServer: @unchecked Sendable {
    let loop: EventLoop
    let recorder = Recorder()
    private(set) var port: UInt16 = 0
    let context: Locked<TLSContext>
    private let style: ReadStyle
    private let smallBuffers: Bool
    private let closeAfterReceiving: Int?
    private let echo: Bool
    private let toSend: [UInt8]
    private var listener: Listener?

    /// `echo` off: a sink that keeps what it reads. `toSend` is written to each connection first.
    init(
        context: TLSContext, style: ReadStyle = ReadStyle(), smallBuffers: Bool = false,
        closeAfterReceiving: Int? = nil,
        echo: Bool = true, toSend: [UInt8] = []
    ) throws {
        self.context = Locked(context)
        self.style = style
        self.smallBuffers = smallBuffers
        self.closeAfterReceiving = closeAfterReceiving
        self.echo = echo
        self.toSend = toSend
        loop = try EventLoop(index: 0, tickIntervalMs: 50)
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: 0)
        try loop.queue.sync { () throws -> Void in
            let fd = try Socket.listen(address, reusePort: false)
            port = Socket.localAddress(fd).hostAndPort.port
            listener = try Listener(fd: fd, loop: loop) { [self] fd, _ in accept(fd) }
        }
    }

    private func accept(_ fd: Int32) {
        // As the proxy's listener does: with small buffers, Nagle and delayed ACKs would add 40 ms
        // per round trip.
        Socket.setNoDelay(fd)
        if smallBuffers { setSmallBuffers(fd) }
        let transport: TLSTransport
        do {
            transport = try TLSTransport.accepted(fd: fd, loop: loop, context: context.withLock { $0 })
        } catch {
            close(fd)
            return
        }
        let index = recorder.add()
        transport.onHandshake = { [recorder] result in recorder.update(index) { $0.handshake = result } }
        let connection = HarnessConnection(
            transport: transport, loop: loop, recorder: recorder, index: index, style: style, echo: echo,
            toSend: toSend, closeAfterReceiving: closeAfterReceiving)
        do { try connection.start() } catch { transport.close() }
    }

    func stop() {
        loop.queue.sync { listener?.close() }
        loop.stop()
    }
}

/// Plain TCP connects with small socket buffers: the inner connector of the client tests.
final class TestSocketConnector: TransportConnector {
    private let address: SocketAddress
    private let loop: EventLoop
    private let smallBuffers: Bool

    init(port: UInt16, loop: EventLoop, smallBuffers: Bool) throws {
        address = try SocketAddress.resolve(host: "127.0.0.1", port: port)
        self.loop = loop
        self.smallBuffers = smallBuffers
    }

    func connect() throws(SystemError) -> (transport: ByteTransport, connected: Bool) {
        let (fd, connected) = try Socket.connect(address)
        if smallBuffers { setSmallBuffers(fd) }
        return (SocketTransport(fd: fd, loop: loop), connected)
    }
}

/// Our TLS client on a real event loop: connects through `TLSConnector`, sends `payload`, keeps
/// what comes back, and closes after `closeAfterReceiving` bytes (or at the peer's end).
final class ClientRun: @unchecked Sendable {
    let loop: EventLoop
    let recorder = Recorder()

    init(
        port: UInt16, context: TLSContext, serverName: String? = nil, payload: [UInt8], style: ReadStyle = ReadStyle(),
        smallBuffers: Bool = false, closeAfterReceiving: Int? = nil, loop existing: EventLoop? = nil
    ) throws {
        loop = try existing ?? EventLoop(index: 1, tickIntervalMs: 50)
        let loop = self.loop
        let recorder = self.recorder
        try loop.queue.sync { () throws -> Void in
            let inner = try TestSocketConnector(port: port, loop: loop, smallBuffers: smallBuffers)
            let connector = try TLSConnector(inner: inner, context: context, serverName: serverName, scheduler: loop)
            let index = recorder.add()
            connector.onHandshake = { result in recorder.update(index) { $0.handshake = result } }
            let (transport, connected) = try connector.connect()
            precondition(!connected, "a TLS connector reports connected only through writable")
            let connection = HarnessConnection(
                transport: transport as! TLSTransport, loop: loop, recorder: recorder, index: index, style: style,
                echo: false, toSend: payload, closeAfterReceiving: closeAfterReceiving, connecting: true)
            try connection.start()
        }
    }

    func stop() { loop.stop() }
}

/// Deterministic bytes for transfers: a 251-byte cycle, so misplaced chunks show up.
func pattern(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count { bytes[i] = UInt8(i % 251) }
    return bytes
}
