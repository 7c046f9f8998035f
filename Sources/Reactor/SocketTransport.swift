/// A connected, non-blocking TCP socket registered with an event loop: the plain-text
/// `ByteTransport`. The loop delivers readiness straight to the handler, so this adds no hop.
public final class SocketTransport: ByteTransport {
    public let fd: Int32
    private let loop: EventLoop
    private var closed = false

    public init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    public func start(handler: EventHandler, readable: Bool, writable: Bool) throws(SystemError) {
        try loop.register(fd, handler: handler, readable: readable, writable: writable)
    }

    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Socket.IOResult { Socket.read(fd, into: buffer) }

    @inline(__always)
    public func write(_ bytes: UnsafeRawBufferPointer) -> Socket.IOResult { Socket.write(fd, bytes) }

    public func setInterest(readable: Bool, writable: Bool) {
        loop.setInterest(fd, readable: readable, writable: writable)
    }

    public func shutdownWrite() { Socket.shutdownWrite(fd) }

    /// Idempotent: the descriptor is closed once (a second close could hit a reused fd).
    public func close() {
        if closed { return }
        closed = true
        loop.closeDescriptor(fd)
    }

    public func connectError() -> Int32 { Socket.pendingError(fd) }
}
