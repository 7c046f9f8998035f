/// A loop's free list of byte buffers. Connections take a buffer when bytes arrive or wait to be
/// written and give it back as soon as it is empty, so an idle keep-alive connection holds no
/// buffer at all (RSS per idle connection stays small) and a busy one does not allocate per read.
/// Loop queue only.
public final class BufferPool {
    @usableFromInline var free: [ByteBuffer] = []
    public let bufferSize: Int
    public let maxFree: Int

    public init(bufferSize: Int = 16 * 1024, maxFree: Int = 256) {
        self.bufferSize = bufferSize
        self.maxFree = maxFree
    }

    /// Gives `buffer` storage if it has none.
    @inlinable
    public func provide(_ buffer: inout ByteBuffer) {
        if buffer.capacity > 0 { return }
        buffer = free.popLast() ?? ByteBuffer(capacity: bufferSize)
    }

    /// Takes `buffer`'s storage back when it holds no bytes; a buffer that grew far beyond the
    /// usual size (a large head or a burst) is freed instead of kept.
    @inlinable
    public func reclaim(_ buffer: inout ByteBuffer) {
        guard buffer.isEmpty, buffer.capacity > 0 else { return }
        if free.count < maxFree && buffer.capacity <= bufferSize * 4 {
            buffer.removeAll()
            free.append(buffer)
        }
        buffer = ByteBuffer()
    }

    public var freeCount: Int { free.count }
}
