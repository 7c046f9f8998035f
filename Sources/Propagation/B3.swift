/// B3 propagation: the single `b3` header and the `X-B3-*` multi-header form.
///
/// Spec: b3-propagation.md. The single header takes precedence over the multi-header form when
/// extracting ("Http Encodings"); ids are lower-hex, trace ids 16 or 32 characters and span ids
/// 16; a sampling decision may travel without ids ("Sampling State"); debug implies accept.
public enum B3 {
    /// Lowercased names this format owns (the proxy strips them before injecting).
    public static let headerNames = [
        "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags",
    ]

    /// The single header if it parses, else the multi-header form.
    ///
    /// A malformed `b3` falls back to the multi-header form rather than discarding both, as
    /// Brave's extractor does: the multi headers are an independent encoding of the same state.
    public static func extract(from headers: some HeaderSource) -> IncomingContext? {
        var single: IncomingContext?
        var seen = false
        headers.forEachValue(lowercasedName: "b3") { value in
            if !seen { single = parseSingle(value) }
            seen = true
        }
        if let single { return single }
        return extractMulti(from: headers)
    }

    /// `b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`, or a lone `0`, `1` or `d`.
    public static func parseSingle(_ v: UnsafeRawBufferPointer) -> IncomingContext? {
        if v.count == 1 {
            guard let (sampled, debug) = samplingState(v[0]) else { return nil }
            return IncomingContext(
                traceID: nil, spanID: .zero, sampled: sampled, debug: debug, format: .b3)
        }
        let dash = UInt8(ascii: "-")
        var traceEnd = 0
        while traceEnd < v.count && v[traceEnd] != dash { traceEnd += 1 }
        guard let trace = Hex.parseTraceID16or32(v, 0, traceEnd), trace.isValid else { return nil }
        let spanStart = traceEnd + 1
        guard v.count >= spanStart + 16, let span = Hex.parseLower(v, spanStart, 16), span != 0
        else { return nil }
        var pos = spanStart + 16
        var sampled: Bool?
        var debug = false
        if pos < v.count {
            // "-{SamplingState}" is exactly one character.
            guard v[pos] == dash, pos + 1 < v.count, let state = samplingState(v[pos + 1])
            else { return nil }
            sampled = state.sampled
            debug = state.debug
            pos += 2
            if pos < v.count {
                // "-{ParentSpanId}" is exactly 16 lower-hex characters and ends the value.
                guard v[pos] == dash, v.count == pos + 17, Hex.parseLower(v, pos + 1, 16) != nil
                else { return nil }
            }
        }
        return IncomingContext(
            traceID: trace, spanID: SpanID(span), sampled: sampled, debug: debug, format: .b3)
    }

    /// `0` deny, `1` accept, `d` debug (which implies accept).
    @inline(__always)
    static func samplingState(_ b: UInt8) -> (sampled: Bool, debug: Bool)? {
        switch b {
        case UInt8(ascii: "0"): return (false, false)
        case UInt8(ascii: "1"): return (true, false)
        case UInt8(ascii: "d"): return (true, true)
        default: return nil
        }
    }

    /// The multi-header form; "when extracting state headers, the first value wins".
    ///
    /// Without `X-B3-TraceId` and `X-B3-SpanId` the headers may still carry a decision
    /// (`X-B3-Sampled: 0` alone, `X-B3-Flags: 1` alone). One id without the other, a malformed id
    /// or a malformed parent id make the context invalid. `X-B3-Sampled` accepts the legacy
    /// `true`/`false` spellings (the spec allows a lenient reader); any other value is treated as
    /// absent (defer). `X-B3-Flags` other than `1` is ignored, as the spec says.
    public static func extractMulti(from headers: some HeaderSource) -> IncomingContext? {
        var traceID: TraceID?
        var traceSeen = false
        var traceValid = false
        headers.forEachValue(lowercasedName: "x-b3-traceid") { v in
            guard !traceSeen else { return }
            traceSeen = true
            traceID = Hex.parseTraceID16or32(v, 0, v.count)
            traceValid = traceID?.isValid ?? false
        }
        var spanID: UInt64?
        var spanSeen = false
        headers.forEachValue(lowercasedName: "x-b3-spanid") { v in
            guard !spanSeen else { return }
            spanSeen = true
            spanID = v.count == 16 ? Hex.parseLower(v, 0, 16) : nil
        }
        var parentValid = true
        var parentSeen = false
        headers.forEachValue(lowercasedName: "x-b3-parentspanid") { v in
            guard !parentSeen else { return }
            parentSeen = true
            parentValid = v.count == 16 && Hex.parseLower(v, 0, 16) != nil
        }
        var sampled: Bool?
        var sampledSeen = false
        headers.forEachValue(lowercasedName: "x-b3-sampled") { v in
            guard !sampledSeen else { return }
            sampledSeen = true
            sampled = parseSampled(v)
        }
        var debug = false
        var flagsSeen = false
        headers.forEachValue(lowercasedName: "x-b3-flags") { v in
            guard !flagsSeen else { return }
            flagsSeen = true
            debug = v.count == 1 && v[0] == UInt8(ascii: "1")
        }
        if debug { sampled = true }

        if !traceSeen && !spanSeen {
            guard sampled != nil else { return nil }
            return IncomingContext(
                traceID: nil, spanID: .zero, sampled: sampled, debug: debug, format: .b3)
        }
        guard traceValid, let traceID, let spanID, spanID != 0, parentValid else { return nil }
        return IncomingContext(
            traceID: traceID, spanID: SpanID(spanID), sampled: sampled, debug: debug, format: .b3)
    }

    static func parseSampled(_ v: UnsafeRawBufferPointer) -> Bool? {
        if v.count == 1 {
            switch v[0] {
            case UInt8(ascii: "1"): return true
            case UInt8(ascii: "0"): return false
            default: return nil
            }
        }
        if asciiEqualsIgnoringCase(v, "true") { return true }
        if asciiEqualsIgnoringCase(v, "false") { return false }
        return nil
    }

    /// Appends the multi-header form: `X-B3-TraceId` (32 hex, full width), `X-B3-SpanId`,
    /// `X-B3-ParentSpanId` for a non-root span, then `X-B3-Flags: 1` for debug (and no
    /// `X-B3-Sampled`: "Debug implies an accept decision, so don't also send the X-B3-Sampled
    /// header") or `X-B3-Sampled: 1|0`.
    ///
    /// Both encodings are the client's to lose: the proxy strips `b3` and `X-B3-*` whichever it
    /// writes, so no stale B3 context reaches the upstream beside the proxy's.
    public static func inject(_ ctx: OutgoingContext, into out: inout [UInt8]) {
        out.appendASCII("X-B3-TraceId: ")
        Hex.append32(ctx.traceID, to: &out)
        out.appendASCII("\r\nX-B3-SpanId: ")
        Hex.append16(ctx.spanID.value, to: &out)
        out.appendASCII("\r\n")
        if ctx.parentSpanID.isValid {
            out.appendASCII("X-B3-ParentSpanId: ")
            Hex.append16(ctx.parentSpanID.value, to: &out)
            out.appendASCII("\r\n")
        }
        if ctx.debug {
            out.appendASCII("X-B3-Flags: 1\r\n")
        } else {
            out.appendASCII(ctx.sampled ? "X-B3-Sampled: 1\r\n" : "X-B3-Sampled: 0\r\n")
        }
    }

    /// Appends the single header, `b3: {TraceId}-{SpanId}-{SamplingState}[-{ParentSpanId}]`: the
    /// trace id at full width, the sampling state always (`d` for debug, which implies accept,
    /// else `1` or `0`), the parent only for a non-root span, as in the multi form.
    public static func injectSingle(_ ctx: OutgoingContext, into out: inout [UInt8]) {
        out.appendASCII("b3: ")
        Hex.append32(ctx.traceID, to: &out)
        out.append(UInt8(ascii: "-"))
        Hex.append16(ctx.spanID.value, to: &out)
        out.appendASCII(ctx.debug ? "-d" : ctx.sampled ? "-1" : "-0")
        if ctx.parentSpanID.isValid {
            out.append(UInt8(ascii: "-"))
            Hex.append16(ctx.parentSpanID.value, to: &out)
        }
        out.appendASCII("\r\n")
    }
}
