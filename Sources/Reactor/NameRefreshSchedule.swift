/// The rules of a host name kept resolved in the background, without I/O and without a clock of
/// its own (each call is given the time), so tests drive it in memory: when to try again (a short
/// doubling backoff while the name fails, a fixed interval once it resolves: getaddrinfo reports
/// no TTL), which address is in use (a failed re-resolution keeps the last one, as Envoy's
/// strict DNS clusters do), when that address changed (`generation`), and which results are news
/// for the log (a change of status, never a repeated attempt).
///
/// `ResolvedName` is the I/O shell around it.
public struct NameRefreshSchedule: Sendable {
    public struct Policy: Sendable, Equatable {
        /// How often a name that resolves is resolved again (`--dns-refresh-ms`).
        public var refreshMs: Int64
        /// The first retry after a failure; each further failure doubles the wait...
        public var firstRetryMs: Int64
        /// ...up to this, or the refresh interval when that is shorter.
        public var maxRetryMs: Int64

        public static let defaultRefreshMs: Int64 = 30_000

        public init(refreshMs: Int64 = defaultRefreshMs, firstRetryMs: Int64 = 250, maxRetryMs: Int64 = 5_000) {
            self.refreshMs = max(1, refreshMs)
            self.firstRetryMs = max(1, firstRetryMs)
            self.maxRetryMs = max(1, maxRetryMs)
        }

        /// The wait after the `failures`-th failure in a row (1 for the first).
        public func retryDelayMs(failures: Int) -> Int64 {
            let cap = min(maxRetryMs, refreshMs)
            let doublings = min(max(0, failures - 1), 32)
            return min(cap, firstRetryMs << Int64(doublings))
        }
    }

    public enum Status: Equatable, Sendable {
        /// Not tried yet.
        case pending
        /// Never resolved; why the last attempt failed.
        case unresolved(reason: String)
        case resolved(SocketAddress)
        /// Resolved before, and the latest attempt failed: the last address stays in use.
        case stale(SocketAddress, reason: String)

        /// The address connections go to, if any.
        public var address: SocketAddress? {
            switch self {
            case .pending, .unresolved: nil
            case .resolved(let a), .stale(let a, _): a
            }
        }
    }

    /// One attempt's result: an address, or getaddrinfo's reason.
    public enum Outcome: Equatable, Sendable {
        case success(SocketAddress)
        case failure(reason: String)
    }

    public let policy: Policy
    public private(set) var status = Status.pending
    /// Counts changes of the address in use (none to one, one to another): what was connected
    /// under an older generation goes to an address no longer current.
    public private(set) var generation: UInt64 = 0
    public private(set) var nextAttemptMs: Int64
    public private(set) var consecutiveFailures = 0

    /// The first attempt is due at once.
    public init(policy: Policy, nowMs: Int64) {
        self.policy = policy
        nextAttemptMs = nowMs
    }

    public func isDue(nowMs: Int64) -> Bool { nowMs >= nextAttemptMs }

    /// How long until the next attempt is due (0 when it is).
    public func delayMs(nowMs: Int64) -> Int64 { max(0, nextAttemptMs - nowMs) }

    /// Takes an attempt's result and schedules the next attempt. Returns the status it replaced
    /// when the status changed (news for the log), nil when nothing changed.
    public mutating func record(_ outcome: Outcome, nowMs: Int64) -> Status? {
        let before = status
        switch outcome {
        case .success(let address):
            consecutiveFailures = 0
            nextAttemptMs = nowMs + policy.refreshMs
            status = .resolved(address)
        case .failure(let reason):
            consecutiveFailures += 1
            nextAttemptMs = nowMs + policy.retryDelayMs(failures: consecutiveFailures)
            status = before.address.map { .stale($0, reason: reason) } ?? .unresolved(reason: reason)
        }
        if status.address != before.address { generation &+= 1 }
        return status == before ? nil : before
    }

    /// The log line for a change of status of `name` (`host:port`), and whether it is a warning.
    public static func describe(name: String, from: Status, to: Status) -> (warning: Bool, text: String) {
        switch (from.address, to) {
        case (nil, .resolved(let a)):
            let now = from == .pending ? "" : " now"
            return (false, "\(name) resolves\(now) to \(a)")
        case (let old?, .resolved(let a)):
            return old == a
                ? (false, "\(name) resolves again to \(a)") : (false, "\(name) moved from \(old) to \(a)")
        case (_, .unresolved(let reason)):
            return (true, "\(name) does not resolve (\(reason)); retrying in the background")
        case (_, .stale(let a, let reason)):
            return (true, "\(name) no longer resolves (\(reason)); keeping \(a), retrying in the background")
        case (_, .pending):
            return (false, "\(name) not resolved yet")
        }
    }
}
