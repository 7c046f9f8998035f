import CEpoll
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Receives readiness for one file descriptor. Called only on the owning loop's queue.
public protocol EventHandler: AnyObject {
    /// Readable, or the peer hung up / errored (a read will say which).
    func onReadable()
    func onWritable()
}

/// One event loop: a serial queue that owns its file descriptors, driven by a single Dispatch read
/// source on the loop's own epoll descriptor.
///
/// Why not a Dispatch source per socket: libdispatch's Linux backend routes every event through one
/// manager thread and re-arms each source with EPOLLONESHOT, costing about 12 syscalls and a context
/// switch per proxied request. Watching one epoll fd pays that once per wake-up, and the handler
/// drains every ready socket. Everything registered here is touched only on `queue`, so the request
/// path takes no locks (handlers are not checked for Sendable on Linux: confinement is by design).
public final class EventLoop: @unchecked Sendable {
    public let queue: DispatchQueue
    public let index: Int
    /// Read and write buffers for this loop's connections.
    public let buffers = BufferPool()
    private let epfd: Int32
    private var source: DispatchSourceRead?
    private var tickTimer: DispatchSourceTimer?
    /// Handlers by fd, with a generation so an event for a closed-and-reused fd in the same batch is
    /// not delivered to the new owner.
    private var slots: [Slot] = []
    private var generation: UInt32 = 0
    private var tickHandlers: [(Int64) -> Void] = []
    private var tokens = [UInt64](repeating: 0, count: 256)
    private var events = [UInt32](repeating: 0, count: 256)
    /// Monotonic milliseconds, refreshed at each wake-up (cheap clock for timeouts).
    public private(set) var nowMs: Int64 = traceproxy_monotonic_ms()

    private struct Slot {
        var handler: EventHandler?
        var generation: UInt32
        var interest: UInt32
    }

    public init(index: Int, tickIntervalMs: Int = 100) throws(SystemError) {
        self.index = index
        queue = DispatchQueue(label: "traceproxy.loop.\(index)")
        epfd = traceproxy_epoll_create()
        if epfd < 0 { throw SystemError("epoll_create1", errno) }
        let src = DispatchSource.makeReadSource(fileDescriptor: epfd, queue: queue)
        let fd = epfd
        src.setEventHandler { [unowned self] in self.drain() }
        src.setCancelHandler { close(fd) }
        source = src
        src.resume()
        // The timer is made once at start-up: libdispatch creates its timerfd lazily, which fails
        // under EMFILE and would leave the accept back-off without a clock.
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(
            deadline: .now() + .milliseconds(tickIntervalMs), repeating: .milliseconds(tickIntervalMs),
            leeway: .milliseconds(tickIntervalMs / 4))
        timer.setEventHandler { [unowned self] in
            self.nowMs = traceproxy_monotonic_ms()
            for h in self.tickHandlers { h(self.nowMs) }
        }
        tickTimer = timer
        timer.resume()
    }

    /// Runs `body` on the loop.
    public func execute(_ body: @escaping @Sendable () -> Void) { queue.async(execute: body) }

    /// Calls `body` on every tick with the monotonic time in ms (timeouts, batch hand-off).
    /// Loop queue only.
    public func onTick(_ body: @escaping (Int64) -> Void) {
        assertOnLoop()
        tickHandlers.append(body)
    }

    /// Starts watching `fd`. Loop queue only.
    public func register(_ fd: Int32, handler: EventHandler, readable: Bool, writable: Bool) throws(SystemError) {
        assertOnLoop()
        let i = Int(fd)
        if i >= slots.count {
            slots.append(
                contentsOf: repeatElement(Slot(handler: nil, generation: 0, interest: 0), count: i + 64 - slots.count))
        }
        generation &+= 1
        let interest = Self.mask(readable, writable)
        slots[i] = Slot(handler: handler, generation: generation, interest: interest)
        if traceproxy_epoll_ctl(epfd, TRACEPROXY_EPOLL_CTL_ADD, fd, interest, Self.token(fd, generation)) != 0 {
            slots[i].handler = nil
            throw SystemError("epoll_ctl(ADD)", errno)
        }
    }

    /// Changes what `fd` is watched for; a no-op when unchanged. Loop queue only.
    public func setInterest(_ fd: Int32, readable: Bool, writable: Bool) {
        assertOnLoop()
        let i = Int(fd)
        guard i < slots.count, slots[i].handler != nil else { return }
        let interest = Self.mask(readable, writable)
        if slots[i].interest == interest { return }
        slots[i].interest = interest
        _ = traceproxy_epoll_ctl(epfd, TRACEPROXY_EPOLL_CTL_MOD, fd, interest, Self.token(fd, slots[i].generation))
    }

    /// Stops watching `fd` and closes it. Loop queue only.
    public func closeDescriptor(_ fd: Int32) {
        assertOnLoop()
        let i = Int(fd)
        if i < slots.count, slots[i].handler != nil {
            _ = traceproxy_epoll_ctl(epfd, TRACEPROXY_EPOLL_CTL_DEL, fd, 0, 0)
            slots[i].handler = nil
            slots[i].generation = 0
        }
        close(fd)
    }

    /// Stops the loop's sources; registered descriptors are left to their owners.
    public func stop() {
        tickTimer?.cancel()
        source?.cancel()
    }

    /// "Loop queue only", checked in debug builds: the slots and handlers are unsynchronised by
    /// design, so a call from another thread is a bug to catch in tests, not to lock against.
    @inline(__always)
    private func assertOnLoop() {
        #if DEBUG
            dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }

    private static func mask(_ r: Bool, _ w: Bool) -> UInt32 {
        (r ? TRACEPROXY_EPOLLIN | TRACEPROXY_EPOLLRDHUP : 0) | (w ? TRACEPROXY_EPOLLOUT : 0)
    }

    private static func token(_ fd: Int32, _ gen: UInt32) -> UInt64 {
        UInt64(gen) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    /// The read source's handler: deliver every ready event, without blocking.
    ///
    /// It polls again after each batch and keeps going while events keep arriving: under load the
    /// next socket is usually ready by the time the last one was served, and picking it up here
    /// saves a round trip through libdispatch's manager thread (two context switches). The bound
    /// keeps the loop's timers and signals from being starved.
    private func drain() {
        for _ in 0..<Self.maxPollsPerWakeup {
            let n = tokens.withUnsafeMutableBufferPointer { t in
                events.withUnsafeMutableBufferPointer { e in
                    traceproxy_epoll_wait(epfd, t.baseAddress, e.baseAddress, Int32(t.count), 0)
                }
            }
            if n <= 0 { return }
            nowMs = traceproxy_monotonic_ms()
            for k in 0..<Int(n) {
                let token = tokens[k]
                let fd = Int(UInt32(truncatingIfNeeded: token))
                let gen = UInt32(truncatingIfNeeded: token >> 32)
                let ev = events[k]
                if ev & (TRACEPROXY_EPOLLOUT | TRACEPROXY_EPOLLERR) != 0 {
                    guard fd < slots.count, slots[fd].generation == gen, let h = slots[fd].handler else { continue }
                    h.onWritable()
                }
                if ev & (TRACEPROXY_EPOLLIN | TRACEPROXY_EPOLLHUP | TRACEPROXY_EPOLLRDHUP | TRACEPROXY_EPOLLERR) != 0 {
                    guard fd < slots.count, slots[fd].generation == gen, let h = slots[fd].handler else { continue }
                    h.onReadable()
                }
            }
        }
    }

    static let maxPollsPerWakeup = 64
}
