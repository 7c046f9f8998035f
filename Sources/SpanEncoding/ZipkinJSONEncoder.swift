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
        _ spans: some Collection<FinishedSpan>, process: ServiceProcess, into out: inout [UInt8]
    ) {
        var localIPv4: String?
        for tag in process.tags where tag.key == "ip" {
            localIPv4 = ipv4String(tag.value)
        }
        out.append(UInt8(ascii: "["))
        var first = true
        for span in spans {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            encodeSpan(span, serviceName: process.serviceName, localIPv4: localIPv4, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func encodeSpan(
        _ span: FinishedSpan, serviceName: String, localIPv4: String?, into out: inout [UInt8]
    ) {
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
        JSONBytes.appendString(span.operationName, into: &out)
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
        appendRemoteEndpoint(span.tags, into: &out)
        appendAnnotations(span.logs, into: &out)
        appendTags(span.tags, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `remoteEndpoint` from the OpenTracing `peer.ipv4`, `peer.port` and `peer.service` tags;
    /// absent when none of them is usable.
    static func appendRemoteEndpoint(_ tags: [Tag], into out: inout [UInt8]) {
        var ipv4: String?
        var port: Int64?
        var service: String?
        for tag in tags {
            switch tag.key {
            case "peer.ipv4": ipv4 = ipv4String(tag.value)
            case "peer.port": port = portNumber(tag.value)
            case "peer.service":
                if case .string(let s) = tag.value, !s.isEmpty { service = s }
            default: break
            }
        }
        if ipv4 == nil && port == nil && service == nil { return }
        out.append(contentsOf: #","remoteEndpoint":{"#.utf8)
        var needComma = false
        if let service {
            out.append(contentsOf: #""serviceName":"#.utf8)
            JSONBytes.appendString(service, into: &out)
            needComma = true
        }
        if let ipv4 {
            if needComma { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #""ipv4":"#.utf8)
            JSONBytes.appendString(ipv4, into: &out)
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
    static func appendAnnotations(_ logs: [SpanLog], into out: inout [UInt8]) {
        if logs.isEmpty { return }
        out.append(contentsOf: #","annotations":["#.utf8)
        var written: [Range<Int>] = []
        for log in logs {
            let start = out.count
            if !written.isEmpty { out.append(UInt8(ascii: ",")) }
            let itemStart = out.count
            out.append(contentsOf: #"{"timestamp":"#.utf8)
            JSONBytes.appendDecimal(log.timestampMicros, into: &out)
            out.append(contentsOf: #","value":"#.utf8)
            JSONBytes.appendString(annotationValue(log), into: &out)
            out.append(UInt8(ascii: "}"))
            let item = itemStart..<out.count
            if written.contains(where: { out[$0].elementsEqual(out[item]) }) {
                out.removeSubrange(start...)
            } else {
                written.append(item)
            }
        }
        out.append(UInt8(ascii: "]"))
    }

    static func annotationValue(_ log: SpanLog) -> String {
        for field in log.fields where field.key == "event" {
            return stringValue(field.value)
        }
        var s = ""
        for (i, field) in log.fields.enumerated() {
            if i > 0 { s += " " }
            s += field.key
            s += "="
            s += stringValue(field.value)
        }
        return s
    }

    /// `tags`: an object of string values; `span.kind` is the `kind` field already, and
    /// `error=false` is left out (see the type's comment).
    static func appendTags(_ tags: [Tag], into out: inout [UInt8]) {
        var first = true
        for tag in tags {
            if tag.key == "span.kind" { continue }
            if tag.key == "error", tag.value == .bool(false) { continue }
            out.append(contentsOf: (first ? #","tags":{"# : ",").utf8)
            first = false
            JSONBytes.appendString(tag.key, into: &out)
            out.append(UInt8(ascii: ":"))
            switch tag.value {
            case .string(let s): JSONBytes.appendString(s, into: &out)
            case .bool(let b): out.append(contentsOf: (b ? #""true""# : #""false""#).utf8)
            case .long(let l):
                out.append(UInt8(ascii: "\""))
                JSONBytes.appendDecimal(l, into: &out)
                out.append(UInt8(ascii: "\""))
            case .double(let d): JSONBytes.appendString(d.description, into: &out)
            }
        }
        if !first { out.append(UInt8(ascii: "}")) }
    }

    static func stringValue(_ v: TagValue) -> String {
        switch v {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .long(let l): return String(l)
        case .double(let d): return d.description
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
    static func isDottedQuad(_ s: String) -> Bool {
        var octets = 0
        var digits = 0
        var value = 0
        var leadingZero = false
        for b in s.utf8 {
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

    static func portNumber(_ v: TagValue) -> Int64? {
        let n: Int64?
        switch v {
        case .long(let l): n = l
        case .string(let s): n = Int64(s)
        default: n = nil
        }
        guard let n, n > 0 && n <= 65535 else { return nil }
        return n
    }
}
