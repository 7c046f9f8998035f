/// The process's metrics, rendered as Prometheus text on the admin listener.
///
/// Families are registered at start-up (and when a reporter is created); the request path only
/// touches `Counter`s it looked up once, so registration may take a lock.
public final class MetricsRegistry: Sendable {
    public enum Kind: String, Sendable { case counter, gauge }

    struct Series: Sendable {
        let labels: String
        let counter: Counter
    }

    struct Family: Sendable {
        let name: String
        let help: String
        let kind: Kind
        var series: [Series]
    }

    private let families = Locked<[Family]>([])
    /// Families rendered by their owner (the trace view's histogram), appended after the counters.
    private let collectors = Locked<[@Sendable () -> String]>([])

    public init() {}

    /// Returns the counter for `name{labels}`, creating the family and series on first use.
    /// `labels` are pairs of label name and value; values are escaped here.
    public func counter(
        _ name: String, help: String, kind: Kind = .counter, labels: [(String, String)] = []
    ) -> Counter {
        let rendered =
            labels.isEmpty
            ? ""
            : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        return families.withLock { families in
            if let f = families.firstIndex(where: { $0.name == name }) {
                if let s = families[f].series.first(where: { $0.labels == rendered }) { return s.counter }
                let c = Counter()
                families[f].series.append(Series(labels: rendered, counter: c))
                return c
            }
            let c = Counter()
            families.append(Family(name: name, help: help, kind: kind, series: [Series(labels: rendered, counter: c)]))
            return c
        }
    }

    /// Adds text that `render` appends: whole families (HELP, TYPE and samples) in the exposition
    /// format, for metrics that are not counters (a histogram). Called at start-up.
    public func addCollector(_ render: @escaping @Sendable () -> String) {
        collectors.withLock { $0.append(render) }
    }

    /// Prometheus text exposition format 0.0.4.
    public func render() -> String {
        let snapshot = families.withLock { $0 }
        var out = ""
        for f in snapshot {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.series { out += "\(f.name)\(s.labels) \(s.counter.value)\n" }
        }
        for collect in collectors.withLock({ $0 }) { out += collect() }
        return out
    }

    /// A label value's escaping (`\\`, `\"`, `\\n`).
    public static func escape(_ v: String) -> String {
        var r = ""
        for ch in v {
            switch ch {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.append(ch)
            }
        }
        return r
    }
}
