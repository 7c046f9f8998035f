// Demonstrates the ThreadSanitizer false positive with Synchronization.Mutex on Linux (see
// fuzz/README.md, "Sanitizers"): no race, yet TSan reports a "Swift access race" once the lock is
// contended:  swiftc -sanitize=thread mutex_false_positive.swift -o /tmp/m && SWIFT_BACKTRACE=enable=no /tmp/m

import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

final class Box: @unchecked Sendable {
    let state = Mutex<[Int]>([])
}
let box = Box()
var threads: [pthread_t] = []
for _ in 0..<4 {
    var t = pthread_t()
    pthread_create(
        &t, nil,
        { _ in
            for i in 0..<20000 {
                box.state.withLock {
                    $0.append(i)
                    if $0.count > 100 { $0.removeAll(keepingCapacity: true) }
                }
            }
            return nil
        }, nil)
    threads.append(t)
}
for t in threads { pthread_join(t, nil) }
print("count", box.state.withLock { $0.count })
