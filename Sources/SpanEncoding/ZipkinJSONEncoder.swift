import Spans

/// Zipkin v2 JSON (`ListOfSpans`) for `POST /api/v2/spans`.
public enum ZipkinJSONEncoder {
    /// Appends the JSON array of `spans` to `out`; `localEndpoint.serviceName` comes from `process`.
    public static func encode(_ spans: some Collection<FinishedSpan>, process: ServiceProcess, into out: inout [UInt8]) {
        fatalError("implemented by the SpanEncoding work")
    }
}
