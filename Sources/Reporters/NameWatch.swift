import Logging
import Reactor
import Stats

/// Makes the `ResolvedName`s of one kind of target (the upstream, or reporters) and is the one
/// owner of what their events become: the `traceproxy_dns_*` series of each name, and one log
/// line per change of status (never one per attempt).
public struct NameWatch: Sendable {
    /// `upstream` or `reporter`: the `target` label.
    public let target: String
    public var settings: NameRefreshSettings
    /// nil: no metrics (tests that build a reporter alone).
    public var metrics: MetricsRegistry?
    public var logger: Logger

    public init(
        target: String, settings: NameRefreshSettings = .init(), metrics: MetricsRegistry? = nil,
        logger: Logger = Logger(label: "traceproxy")
    ) {
        self.target = target
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    static let failures = "traceproxy_dns_failures_total"
    static let resolved = "traceproxy_dns_resolved"
    static let changes = "traceproxy_dns_address_changes_total"

    /// Resolves `host` once now (start-up: a name that does not resolve yet is logged, not fatal)
    /// and starts its background refresh.
    public func resolve(host: String, port: UInt16, preferringIPv4: Bool = false) -> ResolvedName {
        let labels = [("target", target), ("name", HostPortSyntax.format(host: host, port: port))]
        let failures = metrics?.counter(
            Self.failures, help: "Host name lookups that failed, by target.", labels: labels)
        let resolved = metrics?.counter(
            Self.resolved, help: "1 while the name has an address in use, 0 while it has none.", kind: .gauge,
            labels: labels)
        let changes = metrics?.counter(
            Self.changes, help: "Times a name's address changed after it first resolved.", labels: labels)
        let logger = self.logger
        let target = self.target
        let name = ResolvedName(host: host, port: port, settings: settings, preferringIPv4: preferringIPv4) {
            event in
            switch event {
            case .attempted(let failed):
                if failed { failures?.add() }
            case .changed(let from, let to):
                resolved?.set(to.address == nil ? 0 : 1)
                if from.address != nil, to.address != nil, from.address != to.address { changes?.add() }
                let (warning, text) = NameRefreshSchedule.describe(
                    name: HostPortSyntax.format(host: host, port: port), from: from, to: to)
                if warning {
                    logger.warning("\(target) \(text)")
                } else if from == .pending {
                    logger.debug("\(target) \(text)")  // the common start-up case: no news
                } else {
                    logger.info("\(target) \(text)")
                }
            }
        }
        resolved?.set(name.address == nil ? 0 : 1)
        name.start()
        return name
    }
}
