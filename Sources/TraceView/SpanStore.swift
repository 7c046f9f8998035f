import Propagation

/// The recent spans the trace view shows, bounded in count and so in memory.
///
/// Three places hold a span: the ring of the most recent `capacity` spans; a smaller ring of the
/// recent failed ones (`isError`); and, per route, the `slowPerRoute` slowest spans that ended
/// within `slowWindowMicros` of the newest one. Under load the first ring turns over in seconds;
/// the other two keep the spans a person comes looking for. A span in several places is stored
/// once (the places share the object) and counted once (the span counts its holders, so a span
/// belongs to one store). Single-threaded: the trace view wraps it in a lock.
public struct SpanStore: Sendable {
    public struct Limits: Sendable, Equatable {
        public var capacity: Int
        public var errorCapacity: Int
        public var slowPerRoute: Int
        /// Routes with a slow list of their own; later ones share `(other)`'s.
        public var maxRoutes: Int
        public var slowWindowMicros: Int64

        /// For `capacity` recent spans: a tenth of that (at least 50) for errors, 5 slow spans for
        /// each of 50 routes over five minutes.
        public init(
            capacity: Int, errorCapacity: Int? = nil, slowPerRoute: Int = 5, maxRoutes: Int = 50,
            slowWindowMicros: Int64 = 300_000_000
        ) {
            self.capacity = max(1, capacity)
            self.errorCapacity = max(1, errorCapacity ?? max(50, capacity / 10))
            self.slowPerRoute = max(1, slowPerRoute)
            self.maxRoutes = max(1, maxRoutes)
            self.slowWindowMicros = slowWindowMicros
        }
    }

    /// A fixed-capacity FIFO.
    struct Ring: Sendable {
        private(set) var items: [StoredSpan] = []
        private var head = 0
        let capacity: Int

        init(capacity: Int) { self.capacity = capacity }

        /// Appends; returns the span it pushed out when full.
        mutating func push(_ s: StoredSpan) -> StoredSpan? {
            if items.count < capacity {
                items.append(s)
                return nil
            }
            let old = items[head]
            items[head] = s
            head = (head + 1) % capacity
            return old
        }
    }

    public let limits: Limits
    private(set) var recent: Ring
    private(set) var errors: Ring
    /// Per route (by name, `(other)` past `maxRoutes`), its slowest recent spans. Keys are only
    /// ever added.
    private(set) var slowest: [String: [StoredSpan]] = [:]
    /// The last span's name and its list's place in `slowest` (valid until a key is added): a
    /// run of spans of one route skips the hash.
    private var lastSlow: (name: String, index: Dictionary<String, [StoredSpan]>.Index)?
    /// The memory of the spans held (each once).
    public private(set) var bytes = 0
    /// Spans held (each counted once).
    public private(set) var count = 0
    /// Spans ever inserted.
    public private(set) var inserted = 0

    public init(_ limits: Limits) {
        self.limits = limits
        recent = Ring(capacity: limits.capacity)
        errors = Ring(capacity: limits.errorCapacity)
    }

    public mutating func insert(_ span: StoredSpan) {
        inserted += 1
        retain(span)
        if let old = recent.push(span) { release(old) }
        if span.isError {
            retain(span)
            if let old = errors.push(span) { release(old) }
        }
        keepIfSlow(span)
    }

    /// The route's list is changed in place (one lookup, no copy of the list), and a span no
    /// slower than a full list's fastest costs no more than that look.
    private mutating func keepIfSlow(_ span: StoredSpan) {
        let index: Dictionary<String, [StoredSpan]>.Index
        if let lastSlow, lastSlow.name == span.name {
            index = lastSlow.index
        } else {
            guard let found = listIndex(for: span.name) else { return }
            index = found
            lastSlow = (span.name, found)
        }
        var released: [StoredSpan] = []
        let kept = Self.offer(span, to: &slowest.values[index], limits: limits, released: &released)
        if kept { retain(span) }
        for old in released { release(old) }
    }

    /// The place of the list a span named `name` goes to, made when new.
    private mutating func listIndex(for name: String) -> Dictionary<String, [StoredSpan]>.Index? {
        if let i = slowest.index(forKey: name) { return i }
        let key = slowest.count < limits.maxRoutes ? name : RouteStatsTable.otherRoute
        if let i = slowest.index(forKey: key) { return i }
        slowest[key] = []
        return slowest.index(forKey: key)
    }

    /// Offers `span` to a route's slow list: spans that ended before the window (reckoned from
    /// the newest span's end) give way, then the span joins a list with room or replaces the
    /// fastest of a full one if slower. Returns whether it was kept; what left is in `released`.
    private static func offer(
        _ span: StoredSpan, to list: inout [StoredSpan], limits: Limits, released: inout [StoredSpan]
    ) -> Bool {
        let horizon = span.endMicros - limits.slowWindowMicros
        if list.contains(where: { $0.endMicros < horizon }) {
            list.removeAll { old in
                guard old.endMicros < horizon else { return false }
                released.append(old)
                return true
            }
        }
        if list.count < limits.slowPerRoute {
            list.append(span)
            return true
        }
        var fastest = 0
        for j in list.indices where list[j].durationMicros < list[fastest].durationMicros { fastest = j }
        guard list[fastest].durationMicros < span.durationMicros else { return false }
        released.append(list[fastest])
        list[fastest] = span
        return true
    }

    private mutating func retain(_ s: StoredSpan) {
        if s.holders == 0 {
            bytes += s.approxBytes
            count += 1
        }
        s.holders += 1
    }

    private mutating func release(_ s: StoredSpan) {
        guard s.holders > 0 else { return }
        s.holders -= 1
        if s.holders == 0 {
            bytes -= s.approxBytes
            count -= 1
        }
    }

    /// The store's own arrays and lists (their references, not the spans), an upper bound.
    public var structureBytes: Int {
        (limits.capacity + limits.errorCapacity) * 8 + slowest.count * (64 + limits.slowPerRoute * 8)
    }

    /// Every span held, each once, in no particular order.
    public var all: [StoredSpan] {
        var seen = Set<ObjectIdentifier>()
        var out: [StoredSpan] = []
        out.reserveCapacity(count)
        func add(_ s: StoredSpan) {
            if seen.insert(ObjectIdentifier(s)).inserted { out.append(s) }
        }
        for s in recent.items { add(s) }
        for s in errors.items { add(s) }
        for list in slowest.values { for s in list { add(s) } }
        return out
    }

    /// The spans `filter` selects, newest (latest start) first, at most `filter.limit`.
    public func query(_ filter: SpanFilter) -> [StoredSpan] {
        var matching = all.filter(filter.matches)
        matching.sort { ($0.startMicros, $0.spanID.value) > ($1.startMicros, $1.spanID.value) }
        return Array(matching.prefix(filter.limit))
    }

    /// The spans held for one trace, earliest first.
    public func trace(_ id: TraceID) -> [StoredSpan] {
        all.filter { $0.traceID == id }.sorted { ($0.startMicros, $0.spanID.value) < ($1.startMicros, $1.spanID.value) }
    }
}

/// What `/api/spans` (and the page's list) asks for; every part optional.
public struct SpanFilter: Sendable, Equatable {
    public enum StatusFilter: String, Sendable, CaseIterable {
        case informational = "1xx"
        case success = "2xx"
        case redirect = "3xx"
        case clientError = "4xx"
        case serverError = "5xx"
        /// No status sent (the client left, the proxy gave up).
        case noStatus = "other"
        /// Failed spans (`isError`), whatever their status.
        case error
    }

    public static let defaultLimit = 100
    public static let maxLimit = 1000

    public var route: String?
    public var status: StatusFilter?
    public var minDurationMicros: Int64 = 0
    /// Lower-case hex; a prefix of the 32-digit trace id matches.
    public var traceIDPrefix: String?
    public var limit = SpanFilter.defaultLimit

    public init(
        route: String? = nil, status: StatusFilter? = nil, minDurationMicros: Int64 = 0, traceIDPrefix: String? = nil,
        limit: Int = SpanFilter.defaultLimit
    ) {
        self.route = route
        self.status = status
        self.minDurationMicros = minDurationMicros
        self.traceIDPrefix = traceIDPrefix
        self.limit = limit
    }

    public func matches(_ s: StoredSpan) -> Bool {
        if let route, s.name != route { return false }
        if s.durationMicros < minDurationMicros { return false }
        if let status {
            switch status {
            case .error: if !s.isError { return false }
            default: if s.statusClass != status.rawValue { return false }
            }
        }
        if let p = traceIDPrefix, !p.isEmpty, !s.traceID.hex32.hasPrefix(p) { return false }
        return true
    }
}
