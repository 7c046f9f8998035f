/// The W3C `traceresponse` response header (processing model, "Working with Trace Context
/// Response Header"): tells the caller which trace and span served it and the sampling decision,
/// which matters when the proxy restarted the trace or made the decision itself.
public enum TraceResponse {
    public static let headerName = "traceresponse"

    /// Appends `traceresponse: 00-<trace>-<span>-<flags>\r\n`.
    public static func write(
        traceID: TraceID, spanID: SpanID, sampled: Bool, into out: inout [UInt8]
    ) {
        out.appendASCII("traceresponse: ")
        W3CTraceContext.appendValue(traceID: traceID, spanID: spanID, sampled: sampled, to: &out)
        out.appendASCII("\r\n")
    }

    /// Appends the `traceresponse` line for the proxy's span.
    public static func write(_ ctx: OutgoingContext, into out: inout [UInt8]) {
        write(traceID: ctx.traceID, spanID: ctx.spanID, sampled: ctx.sampled, into: &out)
    }
}
