import HTTP1
import Reactor

/// The write side of a client connection: writes go straight to the transport while nothing is
/// queued, the rest waits in a buffer from the loop's pool (given back once empty, so an idle
/// connection holds none).
///
/// A failed write only sets `failed`: writes happen while an upstream buffer is being read, and
/// closing there would release that buffer under its reader. The connection acts on it later.
final class ClientWriter {
    private let transport: ByteTransport
    private let buffers: BufferPool
    private var output = ByteBuffer()
    /// While set, writes only queue: a response head and the body bytes read with it leave in one
    /// write (one syscall instead of two or three).
    private(set) var corked = false
    private(set) var failed = false

    /// Past this much queued, the upstream's response is not read further until the client
    /// catches up (and the client's next request is not read either).
    static let highWater = 256 * 1024

    init(transport: ByteTransport, buffers: BufferPool) {
        self.transport = transport
        self.buffers = buffers
    }

    var pending: Int { output.readableCount }

    func write(_ bytes: UnsafeRawBufferPointer) {
        guard !failed, !bytes.isEmpty else { return }
        if corked || !output.isEmpty {
            buffers.provide(&output)
            output.append(bytes)
            return
        }
        switch transport.write(bytes) {
        case .bytes(let n) where n == bytes.count: return
        case .bytes(let n):
            buffers.provide(&output)
            output.append(UnsafeRawBufferPointer(rebasing: bytes[n...]))
        case .wouldBlock:
            buffers.provide(&output)
            output.append(bytes)
        case .eof, .error: failed = true
        }
    }

    func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    /// Body bytes, as one chunk when the client's framing is chunked.
    func writeBody(_ bytes: UnsafeRawBufferPointer, chunked: Bool) {
        if chunked {
            ChunkedFraming.withChunkHeader(size: bytes.count) { write($0) }
            write(bytes)
            write(ChunkedFraming.chunkTrailer)
        } else {
            write(bytes)
        }
    }

    /// One of the proxy's own answers: `status`, its reason as the body, `Connection: close` when
    /// `close`. Only on error paths, so the bytes are built in a fresh array.
    func writeAnswer(status: Int, close: Bool, extraFields: (inout [UInt8]) -> Void = { _ in }) {
        var out: [UInt8] = []
        HeadWriter.appendSimpleResponse(
            status: status, body: StatusText.reason(status) + "\n", connection: close ? .close : .none, to: &out,
            extraFields: extraFields)
        write(out)
    }

    func cork() { corked = true }

    func uncork() { corked = false }

    /// Writes what is queued, as far as the transport takes it: nil when the client is gone,
    /// otherwise whether the queue just fell to the low-water mark (half of `highWater`).
    func flush() -> Bool? {
        let before = output.readableCount
        switch output.write(to: transport) {
        case .bytes, .wouldBlock: return before > Self.highWater / 2 && output.readableCount <= Self.highWater / 2
        case .eof, .error: return nil
        }
    }

    /// The failure was acted on.
    func clearFailure() { failed = false }

    /// Gives an empty buffer back to the pool (not while corked: bytes are about to be queued).
    func reclaim() {
        if !corked { buffers.reclaim(&output) }
    }

    /// Drops what is queued (the connection is closing).
    func discard() {
        output.removeAll()
        buffers.reclaim(&output)
    }
}
