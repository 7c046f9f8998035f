import Propagation
import Spans

/// Zipkin v2 JSON (`ListOfSpans`) for `POST /api/v2/spans`.
///
/// Written byte by byte into the caller's buffer (zipkin2-api.yaml, definitions `Span`, `Endpoint`,
/// `Annotation`, `Tags`): ids as lowercase hex (traceId 32 characters when the high half is set,
/// else 16), times as integer microseconds, every tag value a string. `error=false` is never sent,
/// because Zipkin marks a span failed when an `error` tag is present at all.
public enum ZipkinJSONEncoder {
    /// Appends the JSON array of `spans` to `out`; `localEndpoint.serviceName` comes from `process`,
    /// its `ipv4` from the process tag `ip` when that is a dotted IPv4 address.
    public static func encode(
        _ spans: some Collection<SpanRecord>, process: ServiceProcess, into out: inout [UInt8]
    ) {
        encode(spans, process: process, lines: false, into: &out) { $1.render($0, process: process) }
    }

    /// The same for spans given as tags (tests, tools).
    public static func encode(
        _ spans: some Collection<FinishedSpan>, process: ServiceProcess, into out: inout [UInt8]
    ) {
        encode(spans, process: process, lines: false, into: &out) { $1.render($0) }
    }

    /// The span objects one per line (JSON Lines, each line ending in a newline) instead of an
    /// array, for logs and line-oriented shippers.
    public static func encodeLines(
        _ spans: some Collection<SpanRecord>, process: ServiceProcess, into out: inout [UInt8]
    ) {
        encode(spans, process: process, lines: true, into: &out) { $1.render($0, process: process) }
    }

    /// Buffers reused across the spans of one call.
    struct Scratch {
        var rendered = RenderedSpan()
        var annotation: [UInt8] = []
        var written: [Range<Int>] = []
    }

    private static func encode<C: Collection>(
        _ spans: C, process: ServiceProcess, lines: Bool, into out: inout [UInt8],
        render: (C.Element, inout RenderedSpan) -> Void
    ) {
        var localIPv4: String?
        for tag in process.tags where tag.key == "ip" {
            localIPv4 = ipv4String(tag.value)
        }
        var scratch = Scratch()
        if !lines { out.append(UInt8(ascii: "[")) }
        var first = true
        for span in spans {
            if !first && !lines { out.append(UInt8(ascii: ",")) }
            first = false
            render(span, &scratch.rendered)
            encodeSpan(serviceName: process.serviceName, localIPv4: localIPv4, scratch: &scratch, into: &out)
            if lines { out.append(UInt8(ascii: "\n")) }
        }
        if !lines { out.append(UInt8(ascii: "]")) }
    }

    /// Writes `scratch.rendered`.
    static func encodeSpan(
        serviceName: String, localIPv4: String?, scratch: inout Scratch, into out: inout [UInt8]
    ) {
        let span = scratch.rendered
        out.append(contentsOf: #"{"traceId":""#.utf8)
        if span.traceID.high != 0 { JSONBytes.appendHex(span.traceID.high, into: &out) }
        JSONBytes.appendHex(span.traceID.low, into: &out)
        out.append(contentsOf: #"","id":""#.utf8)
        JSONBytes.appendHex(span.spanID.value, into: &out)
        out.append(UInt8(ascii: "\""))
        if span.parentSpanID.isValid {
            out.append(contentsOf: #","parentId":""#.utf8)
            JSONBytes.appendHex(span.parentSpanID.value, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #","kind":""#.utf8)
        out.append(contentsOf: (span.kind == .server ? "SERVER" : "CLIENT").utf8)
        out.append(contentsOf: #"","name":"#.utf8)
        JSONBytes.appendString(utf8: span.bytes(span.name), into: &out)
        out.append(contentsOf: #","timestamp":"#.utf8)
        JSONBytes.appendDecimal(span.startMicros, into: &out)
        out.append(contentsOf: #","duration":"#.utf8)
        JSONBytes.appendDecimal(max(1, span.durationMicros), into: &out)
        if span.debug { out.append(contentsOf: #","debug":true"#.utf8) }

        out.append(contentsOf: #","localEndpoint":{"serviceName":"#.utf8)
        JSONBytes.appendString(serviceName, into: &out)
        if let ip = localIPv4 {
            out.append(contentsOf: #","ipv4":"#.utf8)
            JSONBytes.appendString(ip, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        appendRemoteEndpoint(span, into: &out)
        appendAnnotations(span, scratch: &scratch, into: &out)
        appendTags(span, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `remoteEndpoint` from the OpenTracing `peer.ipv4`/`peer.ipv6`, `peer.port` and
    /// `peer.service` tags, or the stable `network.peer.address`/`.port`; absent when none of
    /// them is usable.
    static func appendRemoteEndpoint(_ span: RenderedSpan, into out: inout [UInt8]) {
        var ipv4: ArraySlice<UInt8>?
        var ipv6: ArraySlice<UInt8>?
        var port: Int64?
        var service: ArraySlice<UInt8>?
        for tag in span.tags {
            switch (tag.key, tag.value) {
            case ("peer.ipv6", .text(let r)):
                ipv6 = span.bytes(r)
            case ("network.peer.address", .text(let r)) where span.bytes(r).contains(UInt8(ascii: ":")):
                ipv6 = span.bytes(r)
            case ("network.peer.address", .text(let r)) where isDottedQuad(span.bytes(r)):
                ipv4 = span.bytes(r)
            case ("network.peer.port", .long(let l)): port = portNumber(l)
            case ("peer.ipv4", .text(let r)):
                ipv4 = isDottedQuad(span.bytes(r)) ? span.bytes(r) : nil
            case ("peer.ipv4", .long(let l)):
                ipv4 = ipv4String(.long(l)).map { Array($0.utf8)[...] }
            case ("peer.ipv4", _):
                ipv4 = nil
            case ("peer.port", .long(let l)): port = portNumber(l)
            case ("peer.port", .text(let r)):
                port = Int64(String(decoding: span.bytes(r), as: UTF8.self)).flatMap(portNumber)
            case ("peer.port", _): port = nil
            case ("peer.service", .text(let r)) where !r.isEmpty: service = span.bytes(r)
            default: break
            }
        }
        if ipv4 == nil && ipv6 == nil && port == nil && service == nil { return }
        out.append(contentsOf: #","remoteEndpoint":{"#.utf8)
        var needComma = false
        if let service {
            out.append(contentsOf: #""serviceName":"#.utf8)
            JSONBytes.appendString(utf8: service, into: &out)
            needComma = true
        }
        if let ipv4 {
            if needComma { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #""ipv4":"#.utf8)
            JSONBytes.appendString(utf8: ipv4, into: &out)
            needComma = true
        }
        if let ipv6 {
            if needComma { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #""ipv6":"#.utf8)
            JSONBytes.appendString(utf8: ipv6, into: &out)
            needComma = true
        }
        if let port {
            if needComma { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #""port":"#.utf8)
            JSONBytes.appendDecimal(port, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// One annotation per log: its value is the `event` field's value when there is one, else the
    /// fields as `k=v k2=v2`. The schema says `uniqueItems`, so an exact repeat is skipped.
    static func appendAnnotations(_ span: RenderedSpan, scratch: inout Scratch, into out: inout [UInt8]) {
        if span.logs.isEmpty { return }
        out.append(contentsOf: #","annotations":["#.utf8)
        scratch.written.removeAll(keepingCapacity: true)
        for log in span.logs {
            let start = out.count
            if !scratch.written.isEmpty { out.append(UInt8(ascii: ",")) }
            let itemStart = out.count
            out.append(contentsOf: #"{"timestamp":"#.utf8)
            JSONBytes.appendDecimal(log.timestampMicros, into: &out)
            out.append(contentsOf: #","value":"#.utf8)
            scratch.annotation.removeAll(keepingCapacity: true)
            appendAnnotationValue(span.logFields[log.fields], span, into: &scratch.annotation)
            JSONBytes.appendString(utf8: scratch.annotation, into: &out)
            out.append(UInt8(ascii: "}"))
            let item = itemStart..<out.count
            if scratch.written.contains(where: { out[$0].elementsEqual(out[item]) }) {
                out.removeSubrange(start...)
            } else {
                scratch.written.append(item)
            }
        }
        out.append(UInt8(ascii: "]"))
    }

    static func appendAnnotationValue(
        _ fields: ArraySlice<RenderedSpan.Field>, _ span: RenderedSpan, into out: inout [UInt8]
    ) {
        for field in fields where field.key == "event" {
            appendPlain(field.value, span, into: &out)
            return
        }
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: " ")) }
            out.append(contentsOf: field.key.utf8)
            out.append(UInt8(ascii: "="))
            appendPlain(field.value, span, into: &out)
        }
    }

    /// `tags`: an object of string values; `span.kind` is the `kind` field already, and
    /// `error=false` is left out (see the type's comment).
    static func appendTags(_ span: RenderedSpan, into out: inout [UInt8]) {
        var first = true
        for tag in span.tags {
            if tag.key == "error", tag.value == .bool(false) { continue }
            out.append(contentsOf: (first ? #","tags":{"# : ",").utf8)
            first = false
            JSONBytes.appendString(tag.key, into: &out)
            out.append(UInt8(ascii: ":"))
            if case .text(let r) = tag.value {
                JSONBytes.appendString(utf8: span.bytes(r), into: &out)
            } else {
                // Booleans and numbers need no escaping.
                out.append(UInt8(ascii: "\""))
                appendPlain(tag.value, span, into: &out)
                out.append(UInt8(ascii: "\""))
            }
        }
        if !first { out.append(UInt8(ascii: "}")) }
    }

    /// A tag value as the string Zipkin gets (unescaped).
    static func appendPlain(_ v: RenderedSpan.Value, _ span: RenderedSpan, into out: inout [UInt8]) {
        switch v {
        case .text(let r): out.append(contentsOf: span.bytes(r))
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .long(let l): JSONBytes.appendDecimal(l, into: &out)
        case .double(let d): out.append(contentsOf: d.description.utf8)
        }
    }

    /// A dotted-quad string, or an IPv4 address held as a long (network order in the low 32
    /// bits, as some OpenTracing clients send `peer.ipv4`). Anything else is not an IPv4 address
    /// and is left out rather than failing the schema's `format: ipv4`.
    static func ipv4String(_ v: TagValue) -> String? {
        switch v {
        case .string(let s): return isDottedQuad(s) ? s : nil
        case .long(let l):
            guard l >= 0 && l <= 0xFFFF_FFFF else { return nil }
            let u = UInt32(l)
            return "\(u >> 24).\(u >> 16 & 0xFF).\(u >> 8 & 0xFF).\(u & 0xFF)"
        default: return nil
        }
    }

    /// Four decimal octets 0...255 without leading zeros (which some parsers read as octal).
    static func isDottedQuad(_ s: String) -> Bool { isDottedQuad(s.utf8) }

    static func isDottedQuad(_ utf8: some Sequence<UInt8>) -> Bool {
        var octets = 0
        var digits = 0
        var value = 0
        var leadingZero = false
        for b in utf8 {
            if b == UInt8(ascii: ".") {
                if digits == 0 { return false }
                octets += 1
                digits = 0
                value = 0
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if digits == 0 { leadingZero = b == UInt8(ascii: "0") } else if leadingZero { return false }
                value = value * 10 + Int(b - UInt8(ascii: "0"))
                digits += 1
                if value > 255 { return false }
            } else {
                return false
            }
        }
        return digits > 0 && octets == 3
    }

    static func portNumber(_ n: Int64) -> Int64? {
        n > 0 && n <= 65535 ? n : nil
    }
}
