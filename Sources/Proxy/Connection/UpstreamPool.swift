/// Idle keep-alive connections to the upstream, per loop (so taking one needs no lock).
final class UpstreamPool {
    private var idle: [UpstreamConnection] = []
    let maxIdle: Int
    /// The upstream name's generation (`ResolvedName`) new connections are opened under; one of
    /// an older generation goes to an address the name no longer has, and is not pooled again.
    private(set) var generation: UInt64

    init(maxIdle: Int, generation: UInt64 = 0) {
        self.maxIdle = maxIdle
        self.generation = generation
    }

    /// The upstream moved: idle connections to the old address close now, busy ones after their
    /// exchange (`put`), so nothing in flight is cut.
    func retire(olderThan newGeneration: UInt64) {
        generation = newGeneration
        idle.removeAll { c in
            if c.generation == newGeneration { return false }
            c.close()
            return true
        }
    }

    /// The most recently used idle connection (warmest), or nil.
    func take() -> UpstreamConnection? {
        while let c = idle.popLast() {
            if c.isOpen { return c }
        }
        return nil
    }

    /// Returns a healthy connection after a complete exchange; closes it when the pool is full.
    func put(_ c: UpstreamConnection) {
        if idle.count >= maxIdle || !c.isOpen || c.generation != generation {
            c.close()
            return
        }
        c.parkIdle()
        idle.append(c)
    }

    func pruneClosed() { idle.removeAll { !$0.isOpen } }

    func closeAll() {
        for c in idle { c.close() }
        idle.removeAll()
    }

    var count: Int { idle.count }
}
