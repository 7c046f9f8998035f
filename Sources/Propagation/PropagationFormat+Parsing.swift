/// Why a propagation list was refused; `description` says what was expected.
public struct PropagationFormatError: Error, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// The one propagation-list grammar, for `--propagation` and for OpenTelemetry's
/// `OTEL_PROPAGATORS`. Names are case-insensitive, spaces around them are ignored, duplicates are
/// dropped (the first keeps its place: order is the extraction precedence), and an empty item or
/// an empty list is refused.
extension Propagator {
    public static let formatsExpectation = "expected a comma-separated list of w3c, b3, jaeger"
    public static let otelPropagatorsExpectation =
        "expected a comma-separated list of tracecontext, b3, b3multi, jaeger (baggage is ignored)"

    /// `--propagation w3c,b3,jaeger`.
    public static func parseFormats(_ text: String) throws(PropagationFormatError) -> [PropagationFormat] {
        guard let formats = parseList(text, { PropagationFormat(rawValue: $0).map { .some($0) } }) else {
            throw PropagationFormatError(formatsExpectation)
        }
        return formats
    }

    /// `OTEL_PROPAGATORS` (OpenTelemetry "General SDK Configuration"): `tracecontext` is W3C, `b3`
    /// and `b3multi` both map to B3 (the proxy reads both forms), and `baggage` is ignored because
    /// baggage headers are forwarded untouched anyway.
    public static func parseOTelPropagators(_ text: String) throws(PropagationFormatError) -> [PropagationFormat] {
        let parsed = parseList(text) { name -> PropagationFormat?? in
            switch name {
            case "tracecontext": .some(.w3c)
            case "b3", "b3multi": .some(.b3)
            case "jaeger": .some(.jaeger)
            case "baggage": .some(nil)
            default: nil
            }
        }
        guard let parsed else { throw PropagationFormatError(otelPropagatorsExpectation) }
        return parsed
    }

    /// `lookup` answers nil for an unknown name, `.some(nil)` for a known name to skip.
    private static func parseList(_ text: String, _ lookup: (String) -> PropagationFormat??) -> [PropagationFormat]? {
        var formats: [PropagationFormat] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let known = lookup(trimmed(item).lowercased()) else { return nil }
            if let format = known, !formats.contains(format) { formats.append(format) }
        }
        return formats.isEmpty ? nil : formats
    }

    private static func trimmed(_ s: Substring) -> Substring {
        var t = s
        while let c = t.first, c == " " || c == "\t" { t.removeFirst() }
        while let c = t.last, c == " " || c == "\t" { t.removeLast() }
        return t
    }
}
