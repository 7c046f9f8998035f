import HTTP1
import Reactor

/// The read side of a client connection: bytes from the transport into a pooled buffer, and the
/// request parser over them. Pipelined requests wait here, unparsed, until the connection asks
/// for the next event.
struct RequestReader {
    private var input = ByteBuffer()
    private var parser: HTTPParser
    private let buffers: BufferPool
    private let rules: RequestRules
    /// When the current request's first byte was read: the span's start.
    private(set) var startWall: Int64 = 0
    private(set) var startNs: Int64 = 0

    init(limits: HTTPParser.Limits, rules: RequestRules, buffers: BufferPool) {
        parser = HTTPParser(kind: .request, limits: limits)
        self.rules = rules
        self.buffers = buffers
    }

    var isEmpty: Bool { input.isEmpty }

    mutating func markStart(_ time: TimeSource) {
        startWall = time.wallMicros()
        startNs = time.monotonicNs()
    }
    /// Enough is buffered: stop reading until the connection catches up.
    var isFull: Bool { input.readableCount >= 64 * 1024 }

    mutating func read(from transport: ByteTransport, discard: Bool) -> Socket.IOResult {
        buffers.provide(&input)
        let result = input.read(from: transport, chunk: discard ? 4096 : 16 * 1024)
        if discard { input.removeAll() }
        return result
    }

    /// The next request event, or nil when more bytes are needed. Body bytes go to `body` before
    /// it returns. A head the codec accepts but the proxy's rules refuse is an error here, so
    /// both kinds of refusal reach the connection the same way.
    mutating func next(body: (UnsafeRawBufferPointer) -> Void) throws(ExchangeFailure) -> HTTPParser.Event? {
        let event: HTTPParser.Event?
        do {
            event = try input.nextEvent(of: &parser, body: body)
        } catch {
            throw .malformedRequest(error)
        }
        if case .head(let head) = event, let failure = rules.check(head) { throw failure }
        return event
    }

    /// Hands the buffered bytes to `body` and drops them (a tunnel passes them on as they are).
    mutating func drain(_ body: (UnsafeRawBufferPointer) -> Void) {
        input.withReadableBytes(body)
        input.removeAll()
    }

    mutating func removeAll() { input.removeAll() }

    /// Gives an empty buffer back to the pool (an idle connection holds none).
    mutating func reclaim() { buffers.reclaim(&input) }

    /// Drops what is buffered and gives the buffer back (the connection is closing).
    mutating func release() {
        input.removeAll()
        buffers.reclaim(&input)
    }
}
