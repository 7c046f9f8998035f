// Shared by the propagation fuzz targets: a HeaderSource over fuzz bytes and the round-trip check.

/// Header fields from bytes: one field per line (LF or CRLF), `name:value`, value OWS-trimmed as
/// the HTTP parser does; lines without a colon are ignored.
struct FuzzHeaders: HeaderSource {
    var bytes: [UInt8]
    var fields: [(name: Range<Int>, value: Range<Int>)] = []

    init(_ raw: UnsafeRawBufferPointer) {
        bytes = Array(raw)
        var start = 0
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            var end = i
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            if let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) {
                var vs = colon + 1
                var ve = end
                while vs < ve && (bytes[vs] == 0x20 || bytes[vs] == 0x09) { vs += 1 }
                while ve > vs && (bytes[ve - 1] == 0x20 || bytes[ve - 1] == 0x09) { ve -= 1 }
                fields.append((start..<colon, vs..<ve))
            }
            start = i + 1
        }
    }

    func forEachValue(lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        let name = lowercasedName.utf8
        bytes.withUnsafeBytes { p in
            for f in fields where f.name.count == name.count {
                let same = zip(p[f.name], name).allSatisfy { b, l in
                    (b >= 0x41 && b <= 0x5A ? b | 0x20 : b) == l
                }
                // Each value gets its own exact-size buffer so AddressSanitizer sees over-reads.
                if same {
                    let v = UnsafeMutableRawBufferPointer.allocate(byteCount: f.value.count, alignment: 1)
                    defer { v.deallocate() }
                    v.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[f.value]))
                    body(UnsafeRawBufferPointer(v))
                }
            }
        }
    }

    /// The fields as lines, leaving out those `keep` refuses.
    func lines(keeping keep: (UnsafeRawBufferPointer) -> Bool) -> [UInt8] {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { p in
            for f in fields where keep(UnsafeRawBufferPointer(rebasing: p[f.name])) {
                out += p[f.name]
                out += [UInt8(ascii: ":"), 0x20]
                out += p[f.value]
                out += [0x0D, 0x0A]
            }
        }
        return out
    }
}

/// Extracts with `formats` from fuzz bytes and checks what comes out, then plays the proxy:
/// strips the fields the propagator owns, injects the outgoing context, and checks that every
/// configured format reads back exactly the ids, decision and tracestate that were injected.
func checkPropagation(_ raw: UnsafeRawBufferPointer, _ propagator: Propagator) {
    let formats = propagator.formats
    let incoming = FuzzHeaders(raw)
    let extracted = propagator.extract(from: incoming)

    // owns(headerName:) is the allocation-free form of ownedHeaderNames.contains(lowercased()).
    incoming.bytes.withUnsafeBytes { p in
        for f in incoming.fields {
            let name = UnsafeRawBufferPointer(rebasing: p[f.name])
            // Only names that could be owned (length and bytes aside) are worth the String.
            if name.count <= 17, name.allSatisfy({ $0 < 0x80 }) {
                let lowered = String(decoding: name, as: UTF8.self).lowercased()
                fuzzCheck(
                    propagator.owns(headerName: name) == propagator.ownedHeaderNames.contains(lowered),
                    "owns(headerName:) disagrees with ownedHeaderNames for \(lowered)")
            }
        }
    }

    var outgoing = OutgoingContext(
        traceID: TraceID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210),
        spanID: SpanID(0x1111_2222_3333_4444), parentSpanID: .zero, sampled: true, debug: false,
        traceState: nil)
    if let ctx = extracted {
        fuzzCheck(formats.contains(ctx.format), "context from an unconfigured format")
        fuzzCheck(!ctx.debug || ctx.sampled == true, "debug without sampled")
        if let trace = ctx.traceID {
            fuzzCheck(trace.isValid && ctx.spanID.isValid, "context with an invalid id")
            outgoing.traceID = trace
            outgoing.parentSpanID = ctx.spanID
        } else {
            fuzzCheck(ctx.spanID == .zero && ctx.sampled != nil, "decision-only context carries ids")
        }
        if let state = ctx.traceState {
            fuzzCheck(ctx.format == .w3c, "tracestate from \(ctx.format)")
            fuzzCheck(TraceState.normalize(state) == state, "tracestate not normalised: \(state)")
        }
        outgoing.sampled = ctx.sampled ?? true
        outgoing.debug = ctx.debug
        outgoing.traceState = ctx.traceState
    }

    // What the proxy forwards: the incoming fields it does not own, then its own.
    var forwarded = incoming.lines { !propagator.owns(headerName: $0) }
    let injectedStart = forwarded.count
    propagator.inject(outgoing, into: &forwarded)
    checkInjectedLines(forwarded[injectedStart...], propagator)

    let upstream = forwarded.withUnsafeBytes { FuzzHeaders($0) }
    for format in formats {
        let got = singleFormat[format]!.extract(from: upstream)
        var want = IncomingContext(
            traceID: outgoing.traceID, spanID: outgoing.spanID, sampled: outgoing.sampled,
            debug: format == .w3c ? false : outgoing.debug,
            traceState: format == .w3c ? outgoing.traceState : nil, format: format)
        if format == .w3c, want.traceState?.isEmpty == true { want.traceState = nil }
        fuzzCheck(
            got == want, "round trip through \(format): injected \(outgoing), read back \(String(describing: got))")
    }
}

/// Injected lines are `name: value CRLF` with a token name the propagator owns and a value of
/// visible ASCII and spaces: nothing a client sent can break the head the proxy writes.
func checkInjectedLines(_ lines: ArraySlice<UInt8>, _ propagator: Propagator) {
    var start = lines.startIndex
    var i = lines.startIndex
    while i < lines.endIndex {
        if lines[i] == 0x0A {
            fuzzCheck(i > start && lines[i - 1] == 0x0D, "injected line without CRLF")
            let line = lines[start..<i - 1]
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                fuzzCheck(false, "injected line without a colon")
                return
            }
            fuzzCheck(colon > line.startIndex && colon + 1 < line.endIndex && line[colon + 1] == 0x20, "name: value")
            for b in line[colon + 2..<line.endIndex] {
                fuzzCheck(b >= 0x20 && b <= 0x7E, "injected value byte \(b)")
            }
            let name = Array(line[line.startIndex..<colon])
            name.withUnsafeBytes { n in
                fuzzCheck(propagator.owns(headerName: n), "injects a field it does not own")
            }
            start = i + 1
        }
        i += 1
    }
    fuzzCheck(start == lines.endIndex, "injected bytes do not end with a line end")
}

/// One propagator per format, built once (a Propagator builds a Set of names).
let singleFormat: [PropagationFormat: Propagator] = Dictionary(
    uniqueKeysWithValues: PropagationFormat.allCases.map { ($0, Propagator(formats: [$0])) })
