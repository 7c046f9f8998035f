import Foundation
import Synchronization

/// The thread bookkeeping every blocking test server here shares: a stop flag its loops poll,
/// a count of running threads, and a stop that waits for all of them before closing the listener.
public final class ServerThreads: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)

    public init() {}

    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Runs `body` on a new thread, counted until it returns.
    public func spawn(_ body: @escaping @Sendable () -> Void) {
        running.add(1, ordering: .acquiringAndReleasing)
        let thread = Thread { [self] in
            body()
            running.subtract(1, ordering: .acquiringAndReleasing)
        }
        thread.start()
    }

    /// Sets the flag, waits for every thread (hung ones notice the flag), then closes `listenFD`.
    /// Only the first call does anything.
    public func stop(closing listenFD: Int32) {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        while running.load(ordering: .acquiring) > 0 { usleep(1000) }
        close(listenFD)
    }
}
