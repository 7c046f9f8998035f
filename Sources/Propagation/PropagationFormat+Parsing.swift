/// Why a `--propagation` value was refused; the description names the bad value.
public struct PropagationFormatError: Error, Equatable, CustomStringConvertible {
    public var value: String

    public init(value: String) { self.value = value }

    public var description: String {
        "invalid propagation format '\(value)' (expected a comma-separated list of w3c, b3, jaeger)"
    }
}

extension Propagator {
    /// Parses `--propagation w3c,b3,jaeger`: names in extraction order, case-insensitive,
    /// whitespace around names ignored, duplicates dropped; an empty list or unknown name throws.
    public static func parseFormats(_ s: String) throws -> [PropagationFormat] {
        var out: [PropagationFormat] = []
        for part in s.split(separator: ",", omittingEmptySubsequences: false) {
            let name = trimmed(part).lowercased()
            guard let f = PropagationFormat(rawValue: name) else {
                throw PropagationFormatError(value: name.isEmpty ? s : String(trimmed(part)))
            }
            if !out.contains(f) { out.append(f) }
        }
        return out
    }

    /// Maps OpenTelemetry's `OTEL_PROPAGATORS` (`tracecontext,baggage,b3,b3multi,jaeger`) to our
    /// formats, in order. `baggage` needs nothing (baggage headers pass through), and `none` and
    /// propagators we do not speak (`xray`, `ottrace`) are ignored. nil when nothing we speak is
    /// named, so the caller keeps its default.
    public static func parseOTelPropagators(_ s: String) -> [PropagationFormat]? {
        var out: [PropagationFormat] = []
        for part in s.split(separator: ",") {
            let f: PropagationFormat?
            switch trimmed(part).lowercased() {
            case "tracecontext": f = .w3c
            case "b3", "b3multi": f = .b3
            case "jaeger": f = .jaeger
            default: f = nil
            }
            if let f, !out.contains(f) { out.append(f) }
        }
        return out.isEmpty ? nil : out
    }

    private static func trimmed(_ s: Substring) -> Substring {
        var t = s
        while let c = t.first, c == " " || c == "\t" { t.removeFirst() }
        while let c = t.last, c == " " || c == "\t" { t.removeLast() }
        return t
    }
}
