/// Why a propagation list was refused; `description` says what was expected.
public struct PropagationFormatError: Error, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// The one propagation-list grammar, for `--propagation` and for OpenTelemetry's
/// `OTEL_PROPAGATORS`. Names are case-insensitive, spaces around them are ignored, duplicates are
/// dropped (the first keeps its place: order is the extraction precedence), and an empty item or
/// an empty list is refused. `none` (no trace context read or written) stands alone.
///
/// `baggage` is accepted and adds nothing: the W3C `baggage` header (like Jaeger's `uberctx-*`)
/// is an end-to-end header the proxy never writes, so it is forwarded unchanged whatever the
/// list says. A list of `baggage` alone therefore propagates no trace context, as in an
/// OpenTelemetry SDK.
extension Propagator {
    public static let formatsExpectation =
        "expected a comma-separated list of w3c (or tracecontext), b3 (or b3multi), b3single, jaeger, baggage; "
        + "or none"
    public static let otelPropagatorsExpectation =
        "expected a comma-separated list of tracecontext, b3, b3multi, jaeger, baggage; or none"

    /// `--propagation w3c,b3,jaeger`, with OpenTelemetry's names as aliases. `b3` is the `X-B3-*`
    /// headers, as it has always been for this flag (`b3multi` says the same), and `b3single` the
    /// single `b3` header.
    public static func parseFormats(_ text: String) throws(PropagationFormatError) -> [PropagationFormat] {
        let parsed = parseList(text) { name -> ListItem? in
            switch name {
            case "w3c", "tracecontext": .format(.w3c)
            case "b3", "b3multi": .format(.b3)
            case "b3single": .format(.b3Single)
            case "jaeger": .format(.jaeger)
            default: ListItem(otherName: name)
            }
        }
        guard let parsed else { throw PropagationFormatError(formatsExpectation) }
        return parsed
    }

    /// `OTEL_PROPAGATORS` (OpenTelemetry "General SDK Configuration"): `tracecontext` is W3C, `b3`
    /// the single `b3` header and `b3multi` the `X-B3-*` headers, as the specification says.
    /// Propagators the proxy does not speak (`xray`, `ottrace`) are refused.
    public static func parseOTelPropagators(_ text: String) throws(PropagationFormatError) -> [PropagationFormat] {
        let parsed = parseList(text) { name -> ListItem? in
            switch name {
            case "tracecontext": .format(.w3c)
            case "b3": .format(.b3Single)
            case "b3multi": .format(.b3)
            case "jaeger": .format(.jaeger)
            default: ListItem(otherName: name)
            }
        }
        guard let parsed else { throw PropagationFormatError(otelPropagatorsExpectation) }
        return parsed
    }

    private enum ListItem {
        case format(PropagationFormat)
        case baggage
        case nothing

        /// The names both lists share beside the formats.
        init?(otherName name: String) {
            switch name {
            case "baggage": self = .baggage
            case "none": self = .nothing
            default: return nil
            }
        }
    }

    /// `lookup` answers nil for an unknown name.
    private static func parseList(_ text: String, _ lookup: (String) -> ListItem?) -> [PropagationFormat]? {
        var formats: [PropagationFormat] = []
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        for item in items {
            switch lookup(trimmed(item).lowercased()) {
            case nil: return nil
            case .format(let format)?: if !formats.contains(format) { formats.append(format) }
            case .baggage?: break
            case .nothing?: if items.count > 1 { return nil }
            }
        }
        return formats
    }

    private static func trimmed(_ s: Substring) -> Substring {
        var t = s
        while let c = t.first, c == " " || c == "\t" { t.removeFirst() }
        while let c = t.last, c == " " || c == "\t" { t.removeLast() }
        return t
    }
}
