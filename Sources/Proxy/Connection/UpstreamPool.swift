/// Idle keep-alive connections to the upstream, per loop (so taking one needs no lock).
final class UpstreamPool {
    private var idle: [UpstreamConnection] = []
    let maxIdle: Int

    init(maxIdle: Int) { self.maxIdle = maxIdle }

    /// The most recently used idle connection (warmest), or nil.
    func take() -> UpstreamConnection? {
        while let c = idle.popLast() {
            if c.isOpen { return c }
        }
        return nil
    }

    /// Returns a healthy connection after a complete exchange; closes it when the pool is full.
    func put(_ c: UpstreamConnection) {
        if idle.count >= maxIdle || !c.isOpen {
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
