import HTTP1

/// `--no-trace-path` values: an exact path (`/healthz`), or a prefix ending in `*` (`/metrics*`).
/// Checked on every request before the trace decision, so it compares bytes and allocates nothing.
struct PathMatcher {
    private let exact: [[UInt8]]
    private let prefixes: [[UInt8]]

    init(_ paths: [String]) {
        exact = paths.filter { !$0.hasSuffix("*") }.map { Array($0.utf8) }
        prefixes = paths.filter { $0.hasSuffix("*") }.map { Array($0.dropLast().utf8) }
    }

    var isEmpty: Bool { exact.isEmpty && prefixes.isEmpty }

    /// Whether the request's path (the forwarded target up to `?`) is one of them.
    func matches(_ head: HTTPHead) -> Bool {
        let target = head.bytes[head.forwardTargetRange]
        let path = target[..<(target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex)]
        for e in exact where path.elementsEqual(e) { return true }
        for p in prefixes where path.starts(with: p) { return true }
        return false
    }
}
