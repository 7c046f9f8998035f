/// W3C Trace Context: the `traceparent` and `tracestate` request headers.
///
/// Spec: w3c-trace-context-headers.md §3.2 (traceparent) and §3.3 (tracestate), and the
/// processing model. W3C never carries "no decision": the sampled flag is always true or false.
public enum W3CTraceContext {
    /// Lowercased names this format owns (the proxy strips them before injecting).
    public static let headerNames = ["traceparent", "tracestate"]

    /// The parsed fields of a valid `traceparent`.
    public struct Traceparent: Equatable, Sendable {
        public var traceID: TraceID
        public var parentID: SpanID
        /// Only bit 0x01 (sampled) is read; other bits are not ours to copy (§3.2.2.5).
        public var sampled: Bool
    }

    /// Version 00 is exactly this long: `2 + 1 + 32 + 1 + 16 + 1 + 2`.
    static let version00Length = 55

    /// Parses one `traceparent` value; nil when invalid.
    ///
    /// §3.2.2: lowercase hex only, version `ff` is invalid, all-zero trace or parent ids are
    /// invalid, version 00 is exactly 55 characters. §3.2.4 (Versioning): a higher version is read
    /// at the version-00 offsets, and the flags must be followed by the end or a dash.
    public static func parseTraceparent(_ v: UnsafeRawBufferPointer) -> Traceparent? {
        guard v.count >= version00Length else { return nil }
        guard let version = Hex.parseLower(v, 0, 2), version != 0xFF else { return nil }
        if version == 0 {
            guard v.count == version00Length else { return nil }
        } else if v.count > version00Length && v[version00Length] != UInt8(ascii: "-") {
            return nil
        }
        let dash = UInt8(ascii: "-")
        guard v[2] == dash, v[35] == dash, v[52] == dash else { return nil }
        guard let high = Hex.parseLower(v, 3, 16), let low = Hex.parseLower(v, 19, 16),
            let parent = Hex.parseLower(v, 36, 16), let flags = Hex.parseLower(v, 53, 2)
        else { return nil }
        let trace = TraceID(high: high, low: low)
        guard trace.isValid, parent != 0 else { return nil }
        return Traceparent(traceID: trace, parentID: SpanID(parent), sampled: flags & 1 == 1)
    }

    /// Reads the context: one valid `traceparent` (two fields are invalid: combined per RFC 9110
    /// they no longer parse) plus the validated `tracestate`.
    public static func extract(from headers: some HeaderSource) -> IncomingContext? {
        var count = 0
        var parsed: Traceparent?
        headers.forEachValue(lowercasedName: "traceparent") { value in
            count += 1
            if count == 1 { parsed = parseTraceparent(value) }
        }
        guard count == 1, let tp = parsed else { return nil }
        return IncomingContext(
            traceID: tp.traceID, spanID: tp.parentID, sampled: tp.sampled, debug: false,
            traceState: TraceState.extract(from: headers), format: .w3c)
    }

    /// Appends `traceparent: 00-<trace>-<span>-<flags>\r\n` and `tracestate` when present.
    ///
    /// Flags carry only the sampled bit: Jaeger's debug (0x02) would read as W3C level 2's
    /// "random trace id" flag, so meanings are mapped, bits are never copied.
    public static func inject(_ ctx: OutgoingContext, into out: inout [UInt8]) {
        out.appendASCII("traceparent: ")
        appendValue(traceID: ctx.traceID, spanID: ctx.spanID, sampled: ctx.sampled, to: &out)
        out.appendASCII("\r\n")
        if let state = ctx.traceState, !state.isEmpty {
            out.appendASCII("tracestate: ")
            out.append(contentsOf: state.utf8)
            out.appendASCII("\r\n")
        }
    }

    /// `00-<32 hex>-<16 hex>-<01|00>`, shared by `traceparent` and `traceresponse`.
    static func appendValue(
        traceID: TraceID, spanID: SpanID, sampled: Bool, to out: inout [UInt8]
    ) {
        out.appendASCII("00-")
        Hex.append32(traceID, to: &out)
        out.append(UInt8(ascii: "-"))
        Hex.append16(spanID.value, to: &out)
        out.appendASCII(sampled ? "-01" : "-00")
    }
}
