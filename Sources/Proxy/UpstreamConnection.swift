import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// What the client side is told about its upstream connection.
protocol UpstreamDelegate: AnyObject {
    func upstreamConnected(_ up: UpstreamConnection)
    /// New bytes are in `up.input`.
    func upstreamReadable(_ up: UpstreamConnection)
    /// The upstream closed its side (or reset: `errno` nonzero).
    func upstreamClosed(_ up: UpstreamConnection, errno: Int32)
    /// Connect failed.
    func upstreamConnectFailed(_ up: UpstreamConnection, errno: Int32)
    /// The pending output fell below the low-water mark (resume reading the client).
    func upstreamDrained(_ up: UpstreamConnection)
}

/// One TCP connection to the upstream: a byte transport with eager writes and an output queue,
/// owned by one client exchange at a time or parked idle in the loop's pool.
final class UpstreamConnection: EventHandler {
    enum State { case connecting, open, closed }

    let fd: Int32
    let loop: EventLoop
    private(set) var state: State
    var input = ByteBuffer()
    private var output = ByteBuffer()
    weak var delegate: UpstreamDelegate?
    /// Served at least one exchange before (a stale pooled connection may have been closed by the
    /// upstream already: such a failure before any response byte is retried for idempotent requests).
    var reused = false
    private var readPaused = false
    var connectStartedNs: Int64 = 0

    static let highWater = 256 * 1024

    init(fd: Int32, loop: EventLoop, connected: Bool) {
        self.fd = fd
        self.loop = loop
        state = connected ? .open : .connecting
    }

    /// Opens a connection to `address` and registers it with the loop.
    static func connect(to address: SocketAddress, loop: EventLoop) throws(SystemError) -> UpstreamConnection {
        let (fd, connected) = try Socket.connect(address)
        let c = UpstreamConnection(fd: fd, loop: loop, connected: connected)
        c.connectStartedNs = Clock.monotonicNs()
        do {
            try loop.register(fd, handler: c, readable: connected, writable: !connected)
        } catch {
            loop.closeDescriptor(fd)
            throw error
        }
        return c
    }

    var isOpen: Bool { state != .closed }
    var pendingOutput: Int { output.readableCount }

    /// Queues bytes; nothing is written until `flushOutput()`. The client side gathers a request's
    /// head and the body bytes it already has into one write (one syscall instead of several).
    func send(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed, !bytes.isEmpty else { return }
        loop.buffers.provide(&output)
        output.append(bytes)
    }

    /// Writes what is queued now if the socket takes it; waits for writability otherwise.
    func flushOutput() {
        guard state == .open, !output.isEmpty else { return }
        flush()
    }

    func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { send($0) } }

    /// Stops reading (the client is not taking the response fast enough).
    func pauseReading(_ paused: Bool) {
        if readPaused == paused { return }
        readPaused = paused
        updateInterest()
    }

    func parkIdle() {
        delegate = nil
        reused = true
        readPaused = false
        input.removeAll()
        loop.buffers.reclaim(&input)
        updateInterest()
    }

    func close() {
        if state == .closed { return }
        state = .closed
        delegate = nil
        loop.closeDescriptor(fd)
        releaseBuffers()
    }

    /// Gives both buffers back to the loop's pool (whatever they still held is dropped).
    private func releaseBuffers() {
        input.removeAll()
        output.removeAll()
        loop.buffers.reclaim(&input)
        loop.buffers.reclaim(&output)
    }

    private func updateInterest() {
        guard state != .closed else { return }
        loop.setInterest(
            fd, readable: state == .open && !readPaused, writable: state == .connecting || !output.isEmpty)
    }

    func onWritable() {
        switch state {
        case .closed: return
        case .connecting:
            let err = Socket.pendingError(fd)
            if err != 0 {
                let d = delegate
                close()
                d?.upstreamConnectFailed(self, errno: err)
                return
            }
            state = .open
            flush()
            updateInterest()
            delegate?.upstreamConnected(self)
        case .open:
            flush()
        }
    }

    private func flush() {
        let before = output.readableCount
        while !output.isEmpty {
            switch output.write(to: fd) {
            case .bytes: continue
            case .wouldBlock: break
            case .eof, .error: break
            }
            break
        }
        loop.buffers.reclaim(&output)
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
        loop.buffers.provide(&input)
        switch input.read(from: fd) {
        case .bytes:
            d.upstreamReadable(self)
            if state != .closed { loop.buffers.reclaim(&input) }
        case .wouldBlock:
            loop.buffers.reclaim(&input)
            return
        case .eof:
            state = .closed
            loop.setInterest(fd, readable: false, writable: false)
            d.upstreamClosed(self, errno: 0)
            finishClose()
        case .error(let e):
            state = .closed
            d.upstreamClosed(self, errno: e)
            finishClose()
        }
    }

    private func finishClose() {
        delegate = nil
        loop.closeDescriptor(fd)
        releaseBuffers()
    }
}
