/// Extract-first-valid and inject-all over the configured formats.
///
/// Implementations for each format live beside this file (W3C, B3, Jaeger). Injection writes
/// complete header lines (`name: value\r\n`) straight into the outgoing head buffer so the request
/// path builds no intermediate header objects.
public struct Propagator: Sendable {
    public let formats: [PropagationFormat]

    /// Lowercased names of the incoming header fields the proxy must not forward because it
    /// re-injects them (the configured formats' headers). Other formats' headers and baggage
    /// (`baggage`, `uberctx-*`) pass through.
    public let ownedHeaderNames: Set<String>

    /// Duplicates in `formats` are dropped, keeping the first occurrence.
    public init(formats: [PropagationFormat]) {
        var unique: [PropagationFormat] = []
        for f in formats where !unique.contains(f) { unique.append(f) }
        self.formats = unique
        self.ownedHeaderNames = Set(unique.flatMap { $0.headerNames })
    }

    /// The first valid context in the order of `formats`, or nil.
    ///
    /// A decision-only context (`b3: 0`, `X-B3-Sampled: 0` alone, `jaeger-debug-id`) counts as
    /// valid: the caller deliberately sent a decision, and B3's own example of it is a proxy
    /// switching tracing off for a health check.
    public func extract(from headers: some HeaderSource) -> IncomingContext? {
        for format in formats {
            if var ctx = format.extract(from: headers) {
                ctx.format = format
                return ctx
            }
        }
        return nil
    }

    /// Appends the header lines of every configured format for `context` to `out`.
    public func inject(_ context: OutgoingContext, into out: inout [UInt8]) {
        for format in formats {
            format.inject(context, into: &out)
        }
    }

    /// Whether the proxy owns (strips) a header, given its name bytes in any case; the
    /// allocation-free form of `ownedHeaderNames.contains(name.lowercased())`.
    public func owns(headerName name: UnsafeRawBufferPointer) -> Bool {
        for format in formats {
            for owned in format.headerNames where asciiEqualsIgnoringCase(name, owned) {
                return true
            }
        }
        return false
    }
}

extension PropagationFormat {
    /// Lowercased header names the format reads and writes.
    public var headerNames: [String] {
        switch self {
        case .w3c: W3CTraceContext.headerNames
        case .b3, .b3Single: B3.headerNames
        case .jaeger: JaegerUberTraceID.headerNames
        }
    }

    func extract(from headers: some HeaderSource) -> IncomingContext? {
        switch self {
        case .w3c: W3CTraceContext.extract(from: headers)
        case .b3, .b3Single: B3.extract(from: headers)
        case .jaeger: JaegerUberTraceID.extract(from: headers)
        }
    }

    func inject(_ ctx: OutgoingContext, into out: inout [UInt8]) {
        switch self {
        case .w3c: W3CTraceContext.inject(ctx, into: &out)
        case .b3: B3.inject(ctx, into: &out)
        case .b3Single: B3.injectSingle(ctx, into: &out)
        case .jaeger: JaegerUberTraceID.inject(ctx, into: &out)
        }
    }
}

/// ASCII case-insensitive comparison of raw bytes against a lowercase String: the one copy in
/// Propagation (header names, B3's `true`/`false`). HTTP1 has its own (`ASCII.equalsIgnoringCase`)
/// because neither module depends on the other and the codecs must stay usable without a parser.
func asciiEqualsIgnoringCase(_ v: UnsafeRawBufferPointer, _ lower: String) -> Bool {
    var s = lower
    return s.withUTF8 { l in
        guard l.count == v.count else { return false }
        for i in 0..<l.count {
            var c = v[i]
            if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { c |= 0x20 }
            if c != l[i] { return false }
        }
        return true
    }
}
