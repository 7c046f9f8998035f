#if canImport(Glibc)
    import Glibc
#endif

/// A value behind a pthread mutex, for state shared between threads off the request path.
///
/// Used instead of `Synchronization.Mutex`: on Linux a contended `Mutex` is handed over inside
/// the standard library where ThreadSanitizer cannot see it, so TSan reports every access made
/// under it as a race (`fuzz/tsan-mutex/` shows this). pthread mutexes are intercepted, so the
/// sanitizer run stays meaningful without suppressions.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
