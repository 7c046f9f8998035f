import Synchronization

/// A monotonically increasing (or, for gauges, up-and-down) integer shared between event loops and
/// the reporter thread. Relaxed atomics: the request path pays one uncontended add, no lock.
public final class Counter: Sendable {
    private let storage = Atomic<Int>(0)

    public init() {}

    public func add(_ n: Int = 1) { storage.wrappingAdd(n, ordering: .relaxed) }
    public func subtract(_ n: Int = 1) { storage.wrappingSubtract(n, ordering: .relaxed) }
    public func set(_ n: Int) { storage.store(n, ordering: .relaxed) }
    public var value: Int { storage.load(ordering: .relaxed) }
}
