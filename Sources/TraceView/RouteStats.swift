import Stats

/// Request rate, error rate and latency percentiles per route (the span's operation name) over
/// sliding windows, plus the cumulative Prometheus histogram `traceproxy_request_duration_seconds`.
///
/// Time is cut into 10-second slots; each route keeps the last 30 (five minutes), each slot a
/// count, an error count and a `LatencyHistogram`, so a window is the sum of its slots and the
/// memory is fixed per route. At most `maxRoutes` routes are tracked by name; later ones share
/// the `(other)` row, so a scan of random paths cannot grow the table. Pure: the caller gives the
/// span's end time and the current time (wall-clock microseconds), tests move both by hand.
public struct RouteStatsTable: Sendable {
    public static let otherRoute = "(other)"
    public static let slotMicros: Int64 = 10_000_000
    public static let slotCount = 30
    /// Prometheus bucket bounds (seconds, `le`), the client libraries' defaults from 1 ms.
    public static let bucketBoundsSeconds: [String] = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
    ]
    static let bucketBoundsMicros: [Int64] = [
        1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
        10_000_000,
    ]
    /// The `code` label: the status class, as `traceproxy_requests_total` has it. A class rather
    /// than the code keeps the series at routes x 6 x buckets; the page and the spans have the code.
    public static let classLabels = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"]

    struct Slot: Sendable {
        /// The slot's number (time / `slotMicros`); `Int64.min` while unused, below any real one.
        var index: Int64 = .min
        var count = 0
        var errors = 0
        var histogram: LatencyHistogram?
    }

    /// Cumulative, never reset: what Prometheus expects of a histogram. `buckets[i]` counts the
    /// values in bucket i alone (above bound i-1); `/metrics` sums them up to each bound.
    struct Cumulative: Sendable {
        var buckets = [Int](repeating: 0, count: RouteStatsTable.bucketBoundsMicros.count)
        var count = 0
        var sumMicros: Int64 = 0
    }

    struct Route: Sendable {
        var slots = [Slot](repeating: Slot(), count: RouteStatsTable.slotCount)
        var byClass = [Cumulative?](repeating: nil, count: 6)
    }

    public let maxRoutes: Int
    /// Keys are only ever added.
    private(set) var routes: [String: Route] = [:]
    /// The last span's route and its row's place in `routes` (valid until a key is added).
    private var last: (route: String, index: Dictionary<String, Route>.Index)?
    /// Names in the order they were first seen, for a stable `/metrics`.
    private(set) var order: [String] = []

    public init(maxRoutes: Int = 50) { self.maxRoutes = max(1, maxRoutes) }

    /// The name a span is counted under: its own, or `(other)` once `maxRoutes` are taken.
    public func key(for route: String) -> String {
        routes[route] != nil || routes.count < maxRoutes ? route : Self.otherRoute
    }

    /// One lookup for a known route (none for the same route as the last span), and its
    /// counters are changed in place.
    public mutating func record(route: String, endMicros: Int64, durationMicros: Int64, status: Int, isError: Bool) {
        let index: Dictionary<String, Route>.Index
        if let last, last.route == route {
            index = last.index
        } else {
            index = routeIndex(for: route)
            last = (route, index)
        }
        let slotIndex = endMicros / Self.slotMicros
        let cls = (1...5).contains(status / 100) ? status / 100 : 0
        let d = max(0, durationMicros)
        approxBytes += routes.values[index].record(
            slotIndex: slotIndex, durationMicros: d, isError: isError, statusClass: cls)
    }

    /// The place of the row a span of `route` is counted in, made when new.
    private mutating func routeIndex(for route: String) -> Dictionary<String, Route>.Index {
        if let i = routes.index(forKey: route) { return i }
        let name = routes.count < maxRoutes ? route : Self.otherRoute
        if let i = routes.index(forKey: name) { return i }
        routes[name] = Route()
        order.append(name)
        approxBytes += Self.routeBytes + name.utf8.count
        return routes.index(forKey: name)!
    }

    /// Every route's windows and its five-minute series, in first-seen order.
    public func summaries(nowMicros: Int64) -> [RouteSummary] {
        order.map { name in routes[name]!.summary(name: name, nowMicros: nowMicros) }
    }

    /// The histogram family in the text exposition format, or "" before the first span.
    public func renderPrometheus() -> String {
        guard !order.isEmpty else { return "" }
        let name = "traceproxy_request_duration_seconds"
        var out = "# HELP \(name) Request duration by route (span name) and status class, from the trace view.\n"
        out += "# TYPE \(name) histogram\n"
        for route in order {
            let label = MetricsRegistry.escape(route)
            for (cls, c) in routes[route]!.byClass.enumerated() {
                guard let c else { continue }
                let labels = "route=\"\(label)\",code=\"\(Self.classLabels[cls])\""
                var below = 0
                for (i, bound) in Self.bucketBoundsSeconds.enumerated() {
                    below += c.buckets[i]
                    out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(below)\n"
                }
                out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(c.count)\n"
                out += "\(name)_sum{\(labels)} \(Self.seconds(c.sumMicros))\n"
                out += "\(name)_count{\(labels)} \(c.count)\n"
            }
        }
        return out
    }

    /// Microseconds as decimal seconds without floating point: 1234567 -> "1.234567".
    static func seconds(_ micros: Int64) -> String {
        let frac = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    /// An upper bound of the table's memory: counters and the slots' histograms, kept up to date
    /// as routes, histograms and status classes appear (none goes away).
    public private(set) var approxBytes = 0

    /// Where slot `index` lives in a route's 30: never negative, even for a time before the
    /// epoch plus five minutes (a test's clock, a span given whole with an odd start), where `%`
    /// alone would index the array with a negative number.
    static func place(ofSlot index: Int64) -> Int {
        let n = Int64(slotCount)
        return Int((index % n + n) % n)
    }

    static let routeBytes = 64 + slotCount * 40
    static let histogramBytes = LatencyHistogram.bucketCount * 4 + 48
    static let cumulativeBytes = bucketBoundsMicros.count * 8 + 48
}

extension RouteStatsTable.Route {
    /// Returns the bytes it allocated (a slot's first histogram, a status class's first counters).
    mutating func record(slotIndex: Int64, durationMicros d: Int64, isError: Bool, statusClass cls: Int) -> Int {
        let i = RouteStatsTable.place(ofSlot: slotIndex)
        if slots[i].index != slotIndex {
            // A span later than the slot's newer contents belongs to a window already gone.
            if slots[i].index > slotIndex { return recordCumulative(d, cls) }
            slots[i].index = slotIndex
            slots[i].count = 0
            slots[i].errors = 0
            slots[i].histogram?.reset()
        }
        slots[i].count += 1
        if isError { slots[i].errors += 1 }
        var grown = 0
        if slots[i].histogram == nil {
            slots[i].histogram = LatencyHistogram()
            grown += RouteStatsTable.histogramBytes
        }
        slots[i].histogram!.record(d)
        return grown + recordCumulative(d, cls)
    }

    private mutating func recordCumulative(_ d: Int64, _ cls: Int) -> Int {
        var grown = 0
        if byClass[cls] == nil {
            byClass[cls] = RouteStatsTable.Cumulative()
            grown = RouteStatsTable.cumulativeBytes
        }
        if let b = RouteStatsTable.bucketBoundsMicros.firstIndex(where: { d <= $0 }) { byClass[cls]!.buckets[b] += 1 }
        byClass[cls]!.count += 1
        byClass[cls]!.sumMicros += d
        return grown
    }

    func summary(name: String, nowMicros: Int64) -> RouteSummary {
        let slotMicros = RouteStatsTable.slotMicros
        let nowSlot = nowMicros / slotMicros
        let intoSlot = nowMicros - nowSlot * slotMicros
        func window(_ n: Int) -> RouteWindow {
            var h = LatencyHistogram()
            var count = 0
            var errors = 0
            for s in slots where s.index > nowSlot - Int64(n) && s.index <= nowSlot {
                count += s.count
                errors += s.errors
                if let sh = s.histogram { h.add(sh) }
            }
            // The window covers n-1 whole slots and the part of the current one gone so far.
            let covered = Int64(n - 1) * slotMicros + max(1, intoSlot)
            return RouteWindow(
                count: count, errors: errors, coveredMicros: covered, p50: h.percentile(50), p90: h.percentile(90),
                p99: h.percentile(99))
        }
        var series: [SlotPoint] = []
        for k in (0..<RouteStatsTable.slotCount).reversed() {
            let index = nowSlot - Int64(k)
            let s = slots[RouteStatsTable.place(ofSlot: index)]
            if s.index == index {
                series.append(
                    SlotPoint(
                        startMicros: index * slotMicros, count: s.count, errors: s.errors,
                        p50: s.histogram?.percentile(50), p99: s.histogram?.percentile(99)))
            } else {
                series.append(SlotPoint(startMicros: index * slotMicros, count: 0, errors: 0, p50: nil, p99: nil))
            }
        }
        return RouteSummary(
            route: name, last1m: window(6), last5m: window(RouteStatsTable.slotCount), series: series)
    }
}

/// One sliding window of a route.
public struct RouteWindow: Sendable, Equatable {
    public var count: Int
    public var errors: Int
    /// The time the window spans so far (its slots less the unfinished part of the current one).
    public var coveredMicros: Int64
    public var p50: Int64?
    public var p90: Int64?
    public var p99: Int64?

    /// Requests per second.
    public var rate: Double { Double(count) * 1_000_000 / Double(max(1, coveredMicros)) }
    /// Errors as a share of requests, 0...1.
    public var errorRate: Double { count == 0 ? 0 : Double(errors) / Double(count) }
}

/// One 10-second slot of a route's five-minute series (the page's sparkline).
public struct SlotPoint: Sendable, Equatable {
    public var startMicros: Int64
    public var count: Int
    public var errors: Int
    public var p50: Int64?
    public var p99: Int64?
}

public struct RouteSummary: Sendable, Equatable {
    public var route: String
    public var last1m: RouteWindow
    public var last5m: RouteWindow
    /// Oldest first, 30 points.
    public var series: [SlotPoint]
}
