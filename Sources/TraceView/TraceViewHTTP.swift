import HTTP1
import Propagation

/// One answer of the trace view on the admin listener.
public struct TraceViewResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Besides Content-Type (and Content-Length, which the writer adds).
    public var headers: [(String, String)]
}

/// The trace view's routes on the admin listener: the page (`/traces` and its script and style;
/// `/` redirects there) and the JSON API. Pure: a method and a request target in, a response out.
public enum TraceViewHTTP {
    /// Sent with every answer. The page's script and style are files of their own (`'self'`), so
    /// no inline script or style is allowed, and nothing may be framed, posted or fetched
    /// elsewhere; the data the page shows reaches the DOM as text only (`textContent`).
    public static let securityHeaders: [(String, String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
                + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ]

    /// nil when the path is not the trace view's (the admin listener answers it, or 404s).
    /// `isHead`: a HEAD request (the caller drops the body, keeping its length).
    public static func respond(view: TraceView, method: String, target: String) -> TraceViewResponse? {
        let (path, query) = split(target)
        let isPage = ["/", "/traces", "/traces.js", "/traces.css", "/favicon.ico"].contains(path)
        guard isPage || path.hasPrefix("/api/") else { return nil }
        guard method == "GET" || method == "HEAD" else {
            var r = json(405, TraceViewJSON.error("method not allowed: use GET"))
            r.headers.append(("Allow", "GET, HEAD"))
            return r
        }
        switch path {
        case "/":
            return TraceViewResponse(
                status: 302, contentType: "text/plain; charset=utf-8", body: Array("see /traces\n".utf8),
                headers: securityHeaders + [("Location", "/traces")])
        case "/traces":
            return asset(TraceViewAssets.html, "text/html; charset=utf-8")
        case "/traces.js":
            return asset(TraceViewAssets.script, "text/javascript; charset=utf-8")
        case "/traces.css":
            return asset(TraceViewAssets.style, "text/css; charset=utf-8")
        case "/favicon.ico":
            return TraceViewResponse(status: 204, contentType: "image/x-icon", body: [], headers: securityHeaders)
        case "/api/spans":
            guard let query else { return json(400, TraceViewJSON.error("malformed percent-encoding in the query")) }
            return spans(view, query)
        case "/api/routes":
            return json(200, TraceViewJSON.routes(view.routes(), nowMicros: view.clock()))
        default:
            let prefix = "/api/traces/"
            if path.hasPrefix(prefix) { return trace(view, String(path.dropFirst(prefix.count))) }
            return json(404, TraceViewJSON.error("no such API: try /api/spans, /api/routes or /api/traces/{id}"))
        }
    }

    private static func spans(_ view: TraceView, _ query: [(String, String)]) -> TraceViewResponse {
        let filter: SpanFilter
        switch parseFilter(query) {
        case .success(let f): filter = f
        case .failure(let e): return json(400, TraceViewJSON.error(e.message))
        }
        let (spans, held) = view.query(filter)
        return json(
            200,
            TraceViewJSON.spans(
                spans, nowMicros: view.clock(), held: held, capacity: view.options.spans,
                uiURLTemplate: view.options.uiURLTemplate))
    }

    private static func trace(_ view: TraceView, _ text: String) -> TraceViewResponse {
        guard let id = parseTraceID(text) else {
            return json(400, TraceViewJSON.error("expected a trace id of 16 or 32 hex digits"))
        }
        let spans = view.trace(id)
        let body = TraceViewJSON.trace(id, spans: spans, uiURL: view.uiURL(for: id))
        return json(spans.isEmpty ? 404 : 200, body)
    }

    public struct FilterError: Error, Equatable {
        public var message: String
    }

    /// `route`, `status` (1xx…5xx, other, error), `min_ms` (decimal), `trace_id` (a hex prefix),
    /// `limit` (1…1000); empty values mean "any"; unknown parameters are ignored.
    public static func parseFilter(_ query: [(String, String)]) -> Result<SpanFilter, FilterError> {
        var f = SpanFilter()
        for (key, value) in query where !value.isEmpty {
            switch key {
            case "route":
                f.route = value
            case "status":
                guard let s = SpanFilter.StatusFilter(rawValue: value.lowercased()) else {
                    return .failure(FilterError(message: "status: expected 1xx, 2xx, 3xx, 4xx, 5xx, other or error"))
                }
                f.status = s
            case "min_ms":
                guard let ms = Double(value), ms.isFinite, ms >= 0, ms < 1e9 else {
                    return .failure(FilterError(message: "min_ms: expected a number of milliseconds"))
                }
                f.minDurationMicros = Int64((ms * 1000).rounded())
            case "trace_id":
                let lower = value.lowercased()
                guard lower.count <= 32, lower.allSatisfy(\.isHexDigit) else {
                    return .failure(FilterError(message: "trace_id: expected hex digits"))
                }
                // A 64-bit id is shown at full width, zero-padded.
                f.traceIDPrefix = lower.count == 16 ? String(repeating: "0", count: 16) + lower : lower
            case "limit":
                guard let n = Int(value), (1...SpanFilter.maxLimit).contains(n) else {
                    return .failure(FilterError(message: "limit: expected 1 to \(SpanFilter.maxLimit)"))
                }
                f.limit = n
            default:
                continue
            }
        }
        return .success(f)
    }

    /// 32 hex digits, or 16 (a 64-bit id, as B3 and Jaeger may carry); either case.
    public static func parseTraceID(_ text: String) -> TraceID? {
        guard text.count == 32 || text.count == 16, text.allSatisfy(\.isHexDigit) else { return nil }
        let padded = text.count == 16 ? String(repeating: "0", count: 16) + text : text
        guard let high = UInt64(padded.prefix(16), radix: 16), let low = UInt64(padded.suffix(16), radix: 16) else {
            return nil
        }
        let id = TraceID(high: high, low: low)
        return id.isValid ? id : nil
    }

    /// The path and the decoded query parameters (`application/x-www-form-urlencoded`); nil when
    /// a parameter's percent-encoding is broken.
    static func split(_ target: String) -> (String, [(String, String)]?) {
        guard let q = target.firstIndex(of: "?") else { return (target, []) }
        var params: [(String, String)] = []
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentDecoding.decode(kv[0], plusAsSpace: true),
                let value = kv.count > 1 ? PercentDecoding.decode(kv[1], plusAsSpace: true) : ""
            else { return (String(target[..<q]), nil) }
            params.append((key, value))
        }
        return (String(target[..<q]), params)
    }

    private static func json(_ status: Int, _ body: [UInt8]) -> TraceViewResponse {
        TraceViewResponse(
            status: status, contentType: "application/json", body: body, headers: securityHeaders)
    }

    private static func asset(_ text: String, _ type: String) -> TraceViewResponse {
        TraceViewResponse(status: 200, contentType: type, body: Array(text.utf8), headers: securityHeaders)
    }
}
