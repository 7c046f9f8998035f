/// Route templates (`--route '/users/{id}/orders'`), matched against a request's path to name its
/// span `GET /users/{id}/orders` and set `http.route`. A `{name}` segment matches any one
/// non-empty segment; a last segment `*` (or `{name...}`) matches the rest of the path, however
/// deep. The first template that matches wins, in the order given; a path no template matches
/// keeps the automatic id collapse.
public struct RouteTable: Equatable, Sendable {
    /// One template, split into segments once.
    struct Template: Equatable, Sendable {
        enum Segment: Equatable, Sendable {
            case literal([UInt8])
            case parameter
            case rest
        }

        let text: String
        let segments: [Segment]
    }

    let templates: [Template]

    public init() { templates = [] }

    /// Parses each template; the error names the first bad one.
    public init(_ routes: [String]) throws(RouteError) {
        var templates: [Template] = []
        for route in routes {
            guard route.hasPrefix("/"), !route.contains("?"), !route.contains("#"), !route.contains(" ") else {
                throw RouteError(route: route, reason: "a route is a path starting with / (no query, no spaces)")
            }
            var segments: [Template.Segment] = []
            let parts = route.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                let isLast = i == parts.count - 1
                if part == "*" || (part.hasPrefix("{") && part.hasSuffix("...}")) {
                    guard isLast else { throw RouteError(route: route, reason: "* must be the last segment") }
                    segments.append(.rest)
                } else if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                    segments.append(.parameter)
                } else if part.contains("{") || part.contains("}") {
                    throw RouteError(route: route, reason: "a parameter is a whole segment, {name}")
                } else {
                    segments.append(.literal(Array(part.utf8)))
                }
            }
            templates.append(Template(text: route, segments: segments))
        }
        self.templates = templates
    }

    public var isEmpty: Bool { templates.isEmpty }
    public var routes: [String] { templates.map(\.text) }

    /// The template `path` (no query) matches, if any. Walks the path's segments in place (no
    /// array of them): every reporter names every span through here.
    public func match(_ path: ArraySlice<UInt8>) -> String? {
        guard !templates.isEmpty, path.first == UInt8(ascii: "/") else { return nil }
        let rest = path.dropFirst()
        for t in templates where Self.matches(t.segments, rest) { return t.text }
        return nil
    }

    /// `path` without its leading `/`: segments split at every `/`, empty ones included (`/a/`
    /// has two, `a` and the empty one after it).
    private static func matches(_ template: [Template.Segment], _ path: ArraySlice<UInt8>) -> Bool {
        var start = path.startIndex
        var consumed = false
        for segment in template {
            if case .rest = segment { return true }
            guard !consumed else { return false }
            let end = path[start...].firstIndex(of: UInt8(ascii: "/")) ?? path.endIndex
            let piece = path[start..<end]
            if case .literal(let bytes) = segment {
                guard piece.elementsEqual(bytes) else { return false }
            } else if piece.isEmpty {
                return false  // a parameter needs a non-empty segment
            }
            if end == path.endIndex { consumed = true } else { start = end + 1 }
        }
        return consumed
    }
}

public struct RouteError: Error, CustomStringConvertible, Sendable {
    public let route: String
    public let reason: String
    public var description: String { reason }
}
