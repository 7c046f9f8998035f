// The same program with a pthread_mutex_t lock: TSan intercepts pthread_mutex_lock and reports
// nothing. A lock like this in Sources would let fuzz/tsan.supp go.

#if canImport(Glibc)
    import Glibc
#endif

final class Locked<T>: @unchecked Sendable {
    private var m = pthread_mutex_t()
    private var value: T
    init(_ v: T) {
        value = v
        pthread_mutex_init(&m, nil)
    }
    func withLock<R>(_ body: (inout T) -> R) -> R {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return body(&value)
    }
}
let box = Locked<[Int]>([])
var threads: [pthread_t] = []
for _ in 0..<4 {
    var t = pthread_t()
    pthread_create(
        &t, nil,
        { _ in
            for i in 0..<20000 {
                box.withLock {
                    $0.append(i)
                    if $0.count > 100 { $0.removeAll(keepingCapacity: true) }
                }
            }
            return nil
        }, nil)
    threads.append(t)
}
for t in threads { pthread_join(t, nil) }
print("count", box.withLock { $0.count })
