import HTTP1
import Reactor
import TLS

/// What the client side is told about its upstream connection.
protocol UpstreamDelegate: AnyObject {
    func upstreamConnected(_ up: UpstreamConnection)
    /// New bytes are in the connection's input.
    func upstreamReadable(_ up: UpstreamConnection)
    /// The upstream closed its side (or reset: `errno` nonzero).
    func upstreamClosed(_ up: UpstreamConnection, errno: Int32)
    func upstreamConnectFailed(_ up: UpstreamConnection, errno: Int32)
    /// The pending output fell below the low-water mark (resume reading the client).
    func upstreamDrained(_ up: UpstreamConnection)
}

/// One connection to the upstream: a byte transport with an output queue, owned by one client
/// exchange at a time or parked idle in the loop's pool.
final class UpstreamConnection: EventHandler {
    enum State { case connecting, open, closed }

    private let transport: ByteTransport
    private let buffers: BufferPool
    private(set) var state: State
    private var input = ByteBuffer()
    private var output = ByteBuffer()
    /// What the upstream sends is parsed here, with the connection: a pooled connection reuses its
    /// parser's head storage for every response it carries.
    private var parser = HTTPParser(kind: .response)
    weak var delegate: UpstreamDelegate?
    /// Served at least one exchange before (a stale pooled connection may have been closed by the
    /// upstream already: such a failure before any response byte is retried for idempotent requests).
    private(set) var reused = false
    private var readPaused = false
    /// The upstream name's generation when this connection was opened (`UpstreamPool.retire`).
    var generation: UInt64 = 0

    static let highWater = 256 * 1024

    private init(transport: ByteTransport, buffers: BufferPool, connected: Bool) {
        self.transport = transport
        self.buffers = buffers
        state = connected ? .open : .connecting
    }

    /// Opens a connection through `connector` and starts watching it.
    static func connect(
        with connector: TransportConnector, buffers: BufferPool, delegate: UpstreamDelegate
    ) throws(SystemError) -> UpstreamConnection {
        let (transport, connected) = try connector.connect()
        let c = UpstreamConnection(transport: transport, buffers: buffers, connected: connected)
        c.delegate = delegate
        do {
            try transport.start(handler: c, readable: connected, writable: !connected)
        } catch {
            transport.close()
            throw error
        }
        return c
    }

    var isOpen: Bool { state != .closed }
    /// Why the TLS handshake of an https upstream failed, if it did.
    var tlsFailure: TLSError? { (transport as? TLSTransport)?.failure }
    var pendingOutput: Int { output.readableCount }
    var hasInput: Bool { !input.isEmpty }

    /// Queues bytes; nothing is written until `flushOutput()`, so a request's head and the body
    /// bytes already read leave in one write.
    func send(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed, !bytes.isEmpty else { return }
        buffers.provide(&output)
        output.append(bytes)
    }

    func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { send($0) } }

    /// Writes what is queued now if the transport takes it; waits for writability otherwise.
    func flushOutput() {
        guard state == .open, !output.isEmpty else { return }
        flush()
    }

    /// Lends the unread bytes to `body`, which returns how many it used (a tunnel relays them).
    func consumeInput(_ body: (UnsafeRawBufferPointer) -> Int) {
        input.consume(input.withReadableBytes(body))
    }

    /// The next exchange's response is coming, to a request with `method` (HEAD: no body;
    /// CONNECT: a 2xx starts a tunnel).
    func expectResponse(to method: HTTPMethod) {
        parser.reset()
        parser.expectResponse(to: method)
    }

    /// The next response event from the bytes read so far, or nil when more are needed. Body
    /// bytes go to `body` first.
    func nextResponseEvent(body: (UnsafeRawBufferPointer) -> Void) throws(HTTPParseError) -> HTTPParser.Event? {
        try input.nextEvent(of: &parser, body: body)
    }

    /// The upstream closed: whether that completed the response (a close-delimited body), found
    /// none under way, or cut one short.
    func responseEndOnClose() -> ConnectionStateMachine.UpstreamEnd {
        do {
            if case .end = try parser.finish() { return .complete }
            return .nothing
        } catch {
            return .truncated
        }
    }

    /// Stops reading (the client is not taking the response fast enough).
    func pauseReading(_ paused: Bool) {
        if readPaused == paused { return }
        readPaused = paused
        updateInterest()
    }

    func shutdownWrite() { transport.shutdownWrite() }

    func parkIdle() {
        delegate = nil
        reused = true
        readPaused = false
        input.removeAll()
        buffers.reclaim(&input)
        updateInterest()
    }

    func close() {
        if state == .closed { return }
        state = .closed
        finishClose()
    }

    private func finishClose() {
        delegate = nil
        transport.close()
        input.removeAll()
        output.removeAll()
        buffers.reclaim(&input)
        buffers.reclaim(&output)
    }

    private func updateInterest() {
        guard state != .closed else { return }
        transport.setInterest(
            readable: state == .open && !readPaused, writable: state == .connecting || !output.isEmpty)
    }

    func onWritable() {
        switch state {
        case .closed: return
        case .connecting:
            let err = transport.connectError()
            if err != 0 {
                let d = delegate
                close()
                d?.upstreamConnectFailed(self, errno: err)
                return
            }
            state = .open
            flush()
            delegate?.upstreamConnected(self)
        case .open:
            flush()
        }
    }

    private func flush() {
        let before = output.readableCount
        // A failed write shows up as EOF or an error on the next read; nothing to do here.
        while !output.isEmpty, case .bytes(let n) = output.write(to: transport), n > 0 {}
        buffers.reclaim(&output)
        updateInterest()
        if before >= Self.highWater / 2 && output.readableCount < Self.highWater / 2 {
            delegate?.upstreamDrained(self)
        }
    }

    func onReadable() {
        guard state == .open else { return }
        guard let d = delegate else {
            // Idle in the pool: any byte or EOF means the upstream is done with this connection.
            close()
            return
        }
        buffers.provide(&input)
        switch input.read(from: transport) {
        case .bytes:
            d.upstreamReadable(self)
            if state != .closed { buffers.reclaim(&input) }
        case .wouldBlock:
            buffers.reclaim(&input)
        case .eof:
            state = .closed
            transport.setInterest(readable: false, writable: false)
            d.upstreamClosed(self, errno: 0)
            finishClose()
        case .error(let e):
            state = .closed
            d.upstreamClosed(self, errno: e)
            finishClose()
        }
    }
}
