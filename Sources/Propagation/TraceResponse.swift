/// The W3C `traceresponse` response header (processing model, "Working with Trace Context
/// Response Header"): tells the caller which trace and span served it and the sampling decision,
/// which matters when the proxy restarted the trace or made the decision itself.
public enum TraceResponse {
    /// `00-<trace>-<span>-<flags>` for the proxy's span: the same value grammar as `traceparent`,
    /// so it is written by the same code.
    public static func value(_ ctx: OutgoingContext) -> String {
        var out: [UInt8] = []
        appendValue(ctx, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The value appended to a head being written: no String per response.
    public static func appendValue(_ ctx: OutgoingContext, to out: inout [UInt8]) {
        W3CTraceContext.appendValue(traceID: ctx.traceID, spanID: ctx.spanID, sampled: ctx.sampled, to: &out)
    }

    /// The whole field line, `traceresponse: <value>` CRLF.
    public static func appendField(_ ctx: OutgoingContext, to out: inout [UInt8]) {
        out.append(contentsOf: fieldPrefix)
        appendValue(ctx, to: &out)
        out.append(13)
        out.append(10)
    }

    private static let fieldPrefix = Array("traceresponse: ".utf8)
}
