import Propagation
import SpanEncoding

/// The JSON of the trace view's API (`/api/spans`, `/api/routes`, `/api/traces/{id}`), written
/// with the span encoders' `JSONBytes`, so one writer escapes every string the proxy emits as JSON.
/// Times are integers in microseconds (`*_us`), rates and shares decimals.
public enum TraceViewJSON {
    /// `{"now_us":…,"held":…,"capacity":…,"ui_url_template":…,"spans":[summary…]}`.
    public static func spans(
        _ spans: [StoredSpan], nowMicros: Int64, held: Int, capacity: Int, uiURLTemplate: String?
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + spans.count * 320)
        raw("{\"now_us\":", &out)
        JSONBytes.appendDecimal(nowMicros, into: &out)
        raw(",\"held\":", &out)
        JSONBytes.appendDecimal(Int64(held), into: &out)
        raw(",\"capacity\":", &out)
        JSONBytes.appendDecimal(Int64(capacity), into: &out)
        raw(",\"ui_url_template\":", &out)
        optionalString(uiURLTemplate, &out)
        raw(",\"spans\":[", &out)
        for (i, s) in spans.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            let (method, path) = s.methodAndPath
            out.append(UInt8(ascii: "{"))
            summary(s, method: method, path: path, &out)
            out.append(UInt8(ascii: "}"))
        }
        raw("]}", &out)
        return out
    }

    /// `{"trace_id":…,"ui_url":…,"spans":[summary plus kind, timings, tags and logs…]}`.
    public static func trace(_ id: TraceID, spans: [StoredSpan], uiURL: String?) -> [UInt8] {
        var out: [UInt8] = []
        raw("{\"trace_id\":", &out)
        JSONBytes.appendString(id.hex32, into: &out)
        raw(",\"ui_url\":", &out)
        optionalString(uiURL, &out)
        raw(",\"spans\":[", &out)
        for (i, s) in spans.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            // Rendered here, for the few spans of one trace, not when they arrived.
            let details = s.details()
            out.append(UInt8(ascii: "{"))
            summary(s, method: details.method, path: details.path, &out)
            raw(",\"kind\":", &out)
            JSONBytes.appendString(s.kind.rawValue, into: &out)
            raw(",\"upstream_connected_us\":", &out)
            optionalNumber(s.upstreamConnectedMicros, &out)
            raw(",\"first_response_byte_us\":", &out)
            optionalNumber(s.firstResponseByteMicros, &out)
            raw(",\"tags\":", &out)
            fields(details.tags, &out)
            raw(",\"logs\":[", &out)
            for (j, log) in details.logs.enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                raw("{\"timestamp_us\":", &out)
                JSONBytes.appendDecimal(log.timestampMicros, into: &out)
                raw(",\"fields\":", &out)
                fields(log.fields, &out)
                out.append(UInt8(ascii: "}"))
            }
            raw("]}", &out)
        }
        raw("]}", &out)
        return out
    }

    /// `{"now_us":…,"slot_us":…,"routes":[{"route":…,"1m":{…},"5m":{…},"series":[…]}…]}`.
    public static func routes(_ routes: [RouteSummary], nowMicros: Int64) -> [UInt8] {
        var out: [UInt8] = []
        raw("{\"now_us\":", &out)
        JSONBytes.appendDecimal(nowMicros, into: &out)
        raw(",\"slot_us\":", &out)
        JSONBytes.appendDecimal(RouteStatsTable.slotMicros, into: &out)
        raw(",\"routes\":[", &out)
        for (i, r) in routes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            raw("{\"route\":", &out)
            JSONBytes.appendString(r.route, into: &out)
            raw(",\"1m\":", &out)
            window(r.last1m, &out)
            raw(",\"5m\":", &out)
            window(r.last5m, &out)
            raw(",\"series\":[", &out)
            for (j, p) in r.series.enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                raw("{\"t_us\":", &out)
                JSONBytes.appendDecimal(p.startMicros, into: &out)
                raw(",\"count\":", &out)
                JSONBytes.appendDecimal(Int64(p.count), into: &out)
                raw(",\"errors\":", &out)
                JSONBytes.appendDecimal(Int64(p.errors), into: &out)
                raw(",\"p50_us\":", &out)
                optionalNumber(p.p50, &out)
                raw(",\"p99_us\":", &out)
                optionalNumber(p.p99, &out)
                out.append(UInt8(ascii: "}"))
            }
            raw("]}", &out)
        }
        raw("]}", &out)
        return out
    }

    /// `{"error":…}`.
    public static func error(_ message: String) -> [UInt8] {
        var out: [UInt8] = []
        raw("{\"error\":", &out)
        JSONBytes.appendString(message, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func summary(_ s: StoredSpan, method: String, path: String, _ out: inout [UInt8]) {
        raw("\"trace_id\":", &out)
        JSONBytes.appendString(s.traceID.hex32, into: &out)
        raw(",\"span_id\":", &out)
        JSONBytes.appendString(s.spanID.hex16, into: &out)
        raw(",\"parent_id\":", &out)
        if s.parentSpanID.isValid {
            JSONBytes.appendString(s.parentSpanID.hex16, into: &out)
        } else {
            raw("null", &out)
        }
        raw(",\"name\":", &out)
        JSONBytes.appendString(s.name, into: &out)
        raw(",\"method\":", &out)
        JSONBytes.appendString(method, into: &out)
        raw(",\"path\":", &out)
        JSONBytes.appendString(path, into: &out)
        raw(",\"status\":", &out)
        JSONBytes.appendDecimal(Int64(s.status), into: &out)
        raw(",\"status_class\":", &out)
        JSONBytes.appendString(s.statusClass, into: &out)
        raw(",\"error\":", &out)
        raw(s.isError ? "true" : "false", &out)
        raw(",\"start_us\":", &out)
        JSONBytes.appendDecimal(s.startMicros, into: &out)
        raw(",\"duration_us\":", &out)
        JSONBytes.appendDecimal(s.durationMicros, into: &out)
    }

    private static func window(_ w: RouteWindow, _ out: inout [UInt8]) {
        raw("{\"count\":", &out)
        JSONBytes.appendDecimal(Int64(w.count), into: &out)
        raw(",\"errors\":", &out)
        JSONBytes.appendDecimal(Int64(w.errors), into: &out)
        raw(",\"rate\":", &out)
        decimal(w.rate, &out)
        raw(",\"error_rate\":", &out)
        decimal(w.errorRate, &out)
        raw(",\"p50_us\":", &out)
        optionalNumber(w.p50, &out)
        raw(",\"p90_us\":", &out)
        optionalNumber(w.p90, &out)
        raw(",\"p99_us\":", &out)
        optionalNumber(w.p99, &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func fields(_ fields: [StoredSpan.Field], _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, f) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            raw("{\"key\":", &out)
            JSONBytes.appendString(f.key, into: &out)
            raw(",\"value\":", &out)
            switch f.value {
            case .text(let s): JSONBytes.appendString(s, into: &out)
            case .bool(let b): raw(b ? "true" : "false", &out)
            case .long(let l): JSONBytes.appendDecimal(l, into: &out)
            case .double(let d): decimal(d, &out, places: nil)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A finite number (rounded to `places` decimals when given); NaN and infinities as null,
    /// which JSON has no literal for.
    static func decimal(_ d: Double, _ out: inout [UInt8], places: Int? = 3) {
        guard d.isFinite else { return raw("null", &out) }
        var v = d
        if let places {
            var scale = 1.0
            for _ in 0..<places { scale *= 10 }
            v = (d * scale).rounded() / scale
        }
        if v == v.rounded() && abs(v) < 1e15 {
            JSONBytes.appendDecimal(Int64(v), into: &out)
        } else {
            rawText(v.description, &out)
        }
    }

    private static func optionalNumber(_ v: Int64?, _ out: inout [UInt8]) {
        if let v { JSONBytes.appendDecimal(v, into: &out) } else { raw("null", &out) }
    }

    private static func optionalString(_ s: String?, _ out: inout [UInt8]) {
        if let s { JSONBytes.appendString(s, into: &out) } else { raw("null", &out) }
    }

    private static func raw(_ s: StaticString, _ out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private static func rawText(_ s: String, _ out: inout [UInt8]) { out.append(contentsOf: s.utf8) }
}
