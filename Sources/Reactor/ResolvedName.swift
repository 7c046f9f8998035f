import Dispatch
import Stats

/// How names are kept resolved: the schedule's policy, and the resolver (getaddrinfo unless a
/// test injects one).
public struct NameRefreshSettings: Sendable {
    public var policy: NameRefreshSchedule.Policy
    /// nil: `SocketAddress.resolve` (getaddrinfo), with the name's own IPv4 preference.
    public var resolver: ResolvedName.Resolver?

    public init(policy: NameRefreshSchedule.Policy = .init(), resolver: ResolvedName.Resolver? = nil) {
        self.policy = policy
        self.resolver = resolver
    }
}

/// A host name kept resolved in the background: the I/O shell around `NameRefreshSchedule`.
///
/// The first attempt runs in `init`, on the caller's thread (start-up). After `start()`, attempts
/// run on a serial queue of the name's own, when the schedule says, so a blocking getaddrinfo never
/// holds an event loop or a reporter's worker. Readers take the current address under a short
/// lock: once per new connection, never per request. An IP literal is resolved once, without
/// a lookup, and never again.
public final class ResolvedName: Sendable, CustomStringConvertible {
    public typealias Resolver = @Sendable (_ host: String, _ port: UInt16) throws(SystemError) -> SocketAddress

    /// What happened, for the metrics and the log; reported on the thread that made the attempt.
    public enum Event: Sendable {
        case attempted(failed: Bool)
        case changed(from: NameRefreshSchedule.Status, to: NameRefreshSchedule.Status)
    }

    /// The status and generation (see `NameRefreshSchedule.generation`), read together.
    public struct Snapshot: Sendable {
        public var status: NameRefreshSchedule.Status
        public var generation: UInt64
        public var address: SocketAddress? { status.address }
    }

    public let host: String
    public let port: UInt16
    /// `host:port` as configured (bracketed IPv6), for logs and metric labels.
    public let name: String
    /// An IP literal: never looked up.
    public let isLiteral: Bool

    private struct State {
        var schedule: NameRefreshSchedule
        var started = false
        var stopped = false
    }

    private let state: Locked<State>
    private let resolver: Resolver
    private let onEvent: @Sendable (Event) -> Void
    private let queue: DispatchQueue

    public init(
        host: String, port: UInt16, settings: NameRefreshSettings = .init(), preferringIPv4: Bool = false,
        onEvent: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        name = HostPortSyntax.format(host: host, port: port)
        self.onEvent = onEvent
        queue = DispatchQueue(label: "traceproxy.dns.\(name)")
        var schedule = NameRefreshSchedule(policy: settings.policy, nowMs: Clock.monotonicMs())
        if let literal = SocketAddress.literal(host: host, port: port) {
            isLiteral = true
            resolver = { _, _ in literal }
            _ = schedule.record(.success(literal), nowMs: Clock.monotonicMs())
            state = Locked(State(schedule: schedule))
            return
        }
        isLiteral = false
        if let injected = settings.resolver {
            resolver = injected
        } else {
            resolver = { host, port throws(SystemError) in
                try SocketAddress.resolve(host: host, port: port, preferringIPv4: preferringIPv4)
            }
        }
        state = Locked(State(schedule: schedule))
        _ = attempt()
    }

    /// Starts the background attempts (once; nothing for a literal).
    public func start() {
        guard !isLiteral else { return }
        let delay = state.withLock { s -> Int64? in
            guard !s.started, !s.stopped else { return nil }
            s.started = true
            return s.schedule.delayMs(nowMs: Clock.monotonicMs())
        }
        if let delay { schedule(afterMs: delay) }
    }

    /// No attempt starts after this.
    public func stop() {
        state.withLock { $0.stopped = true }
    }

    public var current: Snapshot {
        state.withLock { Snapshot(status: $0.schedule.status, generation: $0.schedule.generation) }
    }

    /// The address to connect to, if the name resolved.
    public var address: SocketAddress? { current.address }

    /// Why there is no address, as a connect error (`isResolverFailure`).
    public func unresolvedError() -> SystemError {
        let reason: String
        switch current.status {
        case .unresolved(let r): reason = r
        default: reason = "not resolved yet"
        }
        return SystemError(call: "\(name) does not resolve", resolverReason: reason)
    }

    /// The address in use, or the name while there is none.
    public var description: String { address?.description ?? "\(name) (unresolved)" }

    /// One lookup, recorded; returns the wait until the next one.
    private func attempt() -> Int64 {
        let outcome: NameRefreshSchedule.Outcome
        do {
            outcome = .success(try resolver(host, port))
        } catch {
            outcome = .failure(reason: error.reason)
        }
        let nowMs = Clock.monotonicMs()
        let (before, after, delay) = state.withLock { s in
            let before = s.schedule.record(outcome, nowMs: nowMs)
            return (before, s.schedule.status, s.schedule.delayMs(nowMs: nowMs))
        }
        if case .failure = outcome {
            onEvent(.attempted(failed: true))
        } else {
            onEvent(.attempted(failed: false))
        }
        if let before { onEvent(.changed(from: before, to: after)) }
        return delay
    }

    private func schedule(afterMs delay: Int64) {
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(delay))) { [weak self] in
            guard let self, !self.state.withLock({ $0.stopped }) else { return }
            self.schedule(afterMs: self.attempt())
        }
    }
}
