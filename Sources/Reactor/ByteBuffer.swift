/// A growable byte buffer with a read and a write index, reused for the life of a connection so the
/// request path does not allocate per read. `Data` measured 2.4x slower per request in the probe.
public struct ByteBuffer {
    public private(set) var storage: [UInt8]
    public private(set) var readerIndex = 0
    public private(set) var writerIndex = 0

    public init(capacity: Int = 0) {
        storage = [UInt8](repeating: 0, count: capacity)
    }

    public var readableCount: Int { writerIndex - readerIndex }
    public var capacity: Int { storage.count }
    public var isEmpty: Bool { readerIndex == writerIndex }

    /// Drops `n` readable bytes; resets to the start when everything was read, so the common
    /// request/response cycle never moves memory.
    @inline(__always)
    public mutating func consume(_ n: Int) {
        readerIndex += n
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
    }

    public mutating func removeAll() {
        readerIndex = 0
        writerIndex = 0
    }

    /// Frees the storage (an idle connection should not hold a read buffer).
    public mutating func release() {
        readerIndex = 0
        writerIndex = 0
        storage = []
    }

    /// Makes room for at least `n` more bytes at the end, compacting before growing.
    public mutating func reserve(_ n: Int) {
        if storage.count - writerIndex >= n { return }
        if readerIndex > 0 {
            let count = readableCount
            if count > 0 {
                storage.withUnsafeMutableBytes { p in
                    p.baseAddress!.advanced(by: 0).copyMemory(
                        from: p.baseAddress!.advanced(by: readerIndex), byteCount: count)
                }
            }
            readerIndex = 0
            writerIndex = count
            if storage.count - writerIndex >= n { return }
        }
        var newSize = max(storage.count * 2, 4096)
        while newSize - writerIndex < n { newSize *= 2 }
        storage.append(contentsOf: repeatElement(0, count: newSize - storage.count))
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.isEmpty { return }
        reserve(bytes.count)
        let w = writerIndex
        storage.withUnsafeMutableBytes { p in
            p.baseAddress!.advanced(by: w).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        writerIndex += bytes.count
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Reads once from `fd` into the free space (at least `chunk` bytes of it).
    public mutating func read(from fd: Int32, chunk: Int = 16 * 1024) -> Socket.IOResult {
        readInto(chunk: chunk) { Socket.read(fd, into: $0) }
    }

    /// Writes as much of the readable bytes as the socket takes.
    public mutating func write(to fd: Int32) -> Socket.IOResult {
        writeFrom { Socket.write(fd, $0) }
    }

    /// One read into the free space by `body`, which returns what the read returned.
    @inline(__always)
    public mutating func readInto(
        chunk: Int, _ body: (UnsafeMutableRawBufferPointer) -> Socket.IOResult
    ) -> Socket.IOResult {
        reserve(chunk)
        let w = writerIndex
        let r = storage.withUnsafeMutableBytes { p in body(UnsafeMutableRawBufferPointer(rebasing: p[w...])) }
        if case .bytes(let n) = r { writerIndex += n }
        return r
    }

    /// One write of the readable bytes by `body`; what it took is consumed.
    @inline(__always)
    public mutating func writeFrom(_ body: (UnsafeRawBufferPointer) -> Socket.IOResult) -> Socket.IOResult {
        if isEmpty { return .bytes(0) }
        let (r0, w0) = (readerIndex, writerIndex)
        let r = storage.withUnsafeBytes { p in body(UnsafeRawBufferPointer(rebasing: p[r0..<w0])) }
        if case .bytes(let n) = r { consume(n) }
        return r
    }

    @inline(__always)
    public func withReadableBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let (r0, w0) = (readerIndex, writerIndex)
        // Array.withUnsafeBytes only rethrows untyped errors; carry the typed one out in a Result.
        let result = storage.withUnsafeBytes { p in
            Result { () throws(E) -> R in try body(UnsafeRawBufferPointer(rebasing: p[r0..<w0])) }
        }
        return try result.get()
    }
}
