/// A byte stream the proxy reads and writes without knowing what carries it: a plain socket today,
/// a TLS session or an in-memory pipe in tests. Everything above this seam (framing, timeouts,
/// retries, spans) is the same whichever carries the bytes.
///
/// Readiness is delivered to the `EventHandler` given to `start`, on the owning loop's queue; the
/// handler then calls `read`/`write` until they report `.wouldBlock`. A transport never calls back
/// from inside `read`, `write` or `close`, so a handler can use them while its own state is half
/// updated.
public protocol ByteTransport: AnyObject {
    /// Begins delivering readiness to `handler` (held until `close`).
    func start(handler: EventHandler, readable: Bool, writable: Bool) throws(SystemError)
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Socket.IOResult
    func write(_ bytes: UnsafeRawBufferPointer) -> Socket.IOResult
    /// Which readiness the handler wants next; a no-op when unchanged.
    func setInterest(readable: Bool, writable: Bool)
    /// Sends EOF to the peer and keeps reading (a tunnel passing a half-close on, lingering).
    func shutdownWrite()
    /// Stops readiness and releases the transport; nothing is called on the handler after it.
    func close()
    /// After a non-blocking connect reported writable: 0 when connected, otherwise the errno.
    func connectError() -> Int32
}

extension ByteBuffer {
    /// Reads once from `transport` into the free space (at least `chunk` bytes of it).
    @inlinable
    public mutating func read(from transport: ByteTransport, chunk: Int = 16 * 1024) -> Socket.IOResult {
        readInto(chunk: chunk) { transport.read(into: $0) }
    }

    /// Writes as much of the readable bytes as `transport` takes.
    @inlinable
    public mutating func write(to transport: ByteTransport) -> Socket.IOResult {
        writeFrom { transport.write($0) }
    }
}
