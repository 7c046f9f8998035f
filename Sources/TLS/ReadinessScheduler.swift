import Dispatch
import Reactor

/// Runs a closure soon, on the queue that owns a transport, outside whatever call is running now.
///
/// `TLSTransport` needs it because decrypted bytes can wait inside OpenSSL while the socket has
/// nothing more: epoll will not report readable again, yet a handler that stopped reading early, or
/// turns reading back on later, must still hear about them. The transport then delivers the
/// readiness itself, and the `ByteTransport` contract forbids doing that from inside the
/// `setInterest` or `read` call that revealed it.
///
/// The delayed form bounds a closed transport's last flush (see `TLSTransport.close`).
public protocol ReadinessScheduler: AnyObject {
    func runLater(_ body: @escaping () -> Void)
    func runLater(afterMs delay: Int, _ body: @escaping () -> Void)
}

extension EventLoop: ReadinessScheduler {
    public func runLater(_ body: @escaping () -> Void) {
        let work = LoopConfinedWork(body: body)
        execute { work.body() }
    }

    public func runLater(afterMs delay: Int, _ body: @escaping () -> Void) {
        let work = LoopConfinedWork(body: body)
        queue.asyncAfter(deadline: DispatchTime.now() + DispatchTimeInterval.milliseconds(delay)) { work.body() }
    }
}

/// A closure that touches loop-confined state, sent to the loop's own queue: it runs on the
/// thread that owns that state, which the compiler cannot see.
private struct LoopConfinedWork: @unchecked Sendable {
    let body: () -> Void
}
