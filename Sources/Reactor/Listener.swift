#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket on one loop. Accepts until EAGAIN on each wake-up; on EMFILE/ENFILE it stops
/// watching the socket and tries again on a later tick instead of spinning on a readiness it cannot
/// serve (the pending connections wait in the kernel's backlog meanwhile).
public final class Listener: EventHandler {
    public let fd: Int32
    public let loop: EventLoop
    private let onAccept: (Int32, SocketAddress) -> Void
    private var backoffUntil: Int64 = 0
    private var paused = false
    private var closed = false
    /// Stop accepting while the owner is at its connection limit.
    public var atCapacity: () -> Bool = { false }
    public var onError: (SystemError) -> Void = { _ in }

    public init(fd: Int32, loop: EventLoop, onAccept: @escaping (Int32, SocketAddress) -> Void) throws(SystemError) {
        self.fd = fd
        self.loop = loop
        self.onAccept = onAccept
        try loop.register(fd, handler: self, readable: true, writable: false)
        loop.onTick { [weak self] now in self?.tick(now) }
    }

    public func onReadable() {
        if closed { return }
        // Bounded per wake-up so one busy listener cannot starve the loop's connections.
        for _ in 0..<64 {
            if atCapacity() {
                pause()
                return
            }
            do {
                guard let (c, addr) = try Socket.accept(fd) else { return }
                onAccept(c, addr)
            } catch {
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    backoffUntil = loop.nowMs + 100
                    pause()
                    onError(error)
                }
                return
            }
        }
    }

    public func onWritable() {}

    /// Accepts what is waiting in the kernel's queue now (before closing for a drain).
    public func acceptBacklog() {
        if !paused { onReadable() }
    }

    private func pause() {
        if paused { return }
        paused = true
        loop.setInterest(fd, readable: false, writable: false)
    }

    /// Accepting again after a connection closed or the back-off ran out.
    public func resumeIfPaused() {
        if closed || !paused || loop.nowMs < backoffUntil || atCapacity() { return }
        paused = false
        loop.setInterest(fd, readable: true, writable: false)
    }

    private func tick(_ now: Int64) { resumeIfPaused() }

    public func close() {
        if closed { return }
        closed = true
        loop.closeDescriptor(fd)
    }
}
