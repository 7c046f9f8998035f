/// Jaeger's native propagation: `uber-trace-id` and `jaeger-debug-id`.
///
/// `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` (Jaeger client-libraries
/// "Propagation Format"): hex ids that receivers accept shorter than 16/32 characters (clients
/// drop leading zeros), flags in hex (1 sampled, 2 debug), and a value clients URL-encode, so it is
/// URL-decoded first. Baggage (`uberctx-*`) is not ours: it passes through untouched.
public enum JaegerUberTraceID {
    /// Lowercased names this format owns (the proxy strips them before injecting).
    public static let headerNames = ["uber-trace-id", "jaeger-debug-id"]

    static let flagSampled: UInt64 = 0x01
    static let flagDebug: UInt64 = 0x02

    /// `uber-trace-id` if valid; else a decision-only debug context when `jaeger-debug-id` is
    /// present (it asks for a new sampled+debug trace, as jaeger clients do when no valid parent
    /// context came with it).
    public static func extract(from headers: some HeaderSource) -> IncomingContext? {
        var ctx: IncomingContext?
        var seen = false
        headers.forEachValue(lowercasedName: "uber-trace-id") { value in
            if !seen { ctx = parse(value) }
            seen = true
        }
        if let ctx { return ctx }
        var debugID = false
        headers.forEachValue(lowercasedName: "jaeger-debug-id") { value in
            if !value.isEmpty { debugID = true }
        }
        guard debugID else { return nil }
        return IncomingContext(
            traceID: nil, spanID: .zero, sampled: true, debug: true, format: .jaeger)
    }

    /// Parses one `uber-trace-id` value (URL-encoded or not); nil when invalid.
    public static func parse(_ raw: UnsafeRawBufferPointer) -> IncomingContext? {
        guard raw.count <= 256 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(raw.count, 1)) { tmp in
            let n = urlDecode(raw, into: tmp)
            return parseDecoded(
                UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tmp)[0..<n]))
        }
    }

    /// Percent-decodes `raw` into `out` (same or smaller size); a `%` not followed by two hex
    /// digits is kept as is and later fails the id grammar.
    static func urlDecode(
        _ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>
    )
        -> Int
    {
        var i = 0
        var n = 0
        while i < raw.count {
            let c = raw[i]
            if c == UInt8(ascii: "%"), i + 2 < raw.count,
                let h = Hex.anyCaseValue(raw[i + 1]), let l = Hex.anyCaseValue(raw[i + 2])
            {
                out[n] = UInt8(h << 4 | l)
                i += 3
            } else {
                out[n] = c
                i += 1
            }
            n += 1
        }
        return n
    }

    static func parseDecoded(_ v: UnsafeRawBufferPointer) -> IncomingContext? {
        // Field boundaries: exactly four colon-separated fields.
        var colons = (0, 0, 0)
        var found = 0
        for i in 0..<v.count where v[i] == UInt8(ascii: ":") {
            switch found {
            case 0: colons.0 = i
            case 1: colons.1 = i
            case 2: colons.2 = i
            default: return nil
            }
            found += 1
        }
        guard found == 3 else { return nil }
        guard let trace = parseTraceID(v, 0, colons.0), trace.isValid,
            let span = parseHex(v, colons.0 + 1, colons.1, maxDigits: 16), span != 0,
            parseHex(v, colons.1 + 1, colons.2, maxDigits: 16) != nil,
            let flags = parseHex(v, colons.2 + 1, v.count, maxDigits: 2)
        else { return nil }
        let debug = flags & flagDebug != 0
        return IncomingContext(
            traceID: trace, spanID: SpanID(span), sampled: debug || flags & flagSampled != 0,
            debug: debug, format: .jaeger)
    }

    /// 1 to `maxDigits` hex digits of either case in `[s, e)`.
    static func parseHex(_ v: UnsafeRawBufferPointer, _ s: Int, _ e: Int, maxDigits n: Int)
        -> UInt64?
    {
        guard e > s, e - s <= n else { return nil }
        var x: UInt64 = 0
        for i in s..<e {
            guard let d = Hex.anyCaseValue(v[i]) else { return nil }
            x = x << 4 | d
        }
        return x
    }

    /// 1 to 32 hex digits; the last 16 are the low half.
    static func parseTraceID(_ v: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> TraceID? {
        guard e > s, e - s <= 32 else { return nil }
        let split = max(s, e - 16)
        let high: UInt64
        if split > s {
            guard let h = parseHex(v, s, split, maxDigits: 16) else { return nil }
            high = h
        } else {
            high = 0
        }
        guard let low = parseHex(v, split, e, maxDigits: 16) else { return nil }
        return TraceID(high: high, low: low)
    }

    /// Appends `uber-trace-id: <32 hex>:<16 hex span>:<16 hex parent or 0>:<flags>\r\n`, with
    /// flags 1 (sampled), 3 (debug, which implies sampled) or 0. Written unencoded: receivers
    /// URL-decode, and a colon needs no encoding in a header value.
    public static func inject(_ ctx: OutgoingContext, into out: inout [UInt8]) {
        out.appendASCII("uber-trace-id: ")
        Hex.append32(ctx.traceID, to: &out)
        out.append(UInt8(ascii: ":"))
        Hex.append16(ctx.spanID.value, to: &out)
        out.append(UInt8(ascii: ":"))
        if ctx.parentSpanID.isValid {
            Hex.append16(ctx.parentSpanID.value, to: &out)
        } else {
            out.append(UInt8(ascii: "0"))
        }
        out.appendASCII(ctx.debug ? ":3\r\n" : ctx.sampled ? ":1\r\n" : ":0\r\n")
    }
}
