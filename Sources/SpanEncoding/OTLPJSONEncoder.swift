import Propagation
import Spans

/// `ExportTraceServiceRequest` as OTLP/JSON (`http/json`): the protobuf message under the proto3
/// JSON mapping with OTLP's exceptions (otlp-specification, "JSON Protobuf Encoding"): ids as
/// lowercase hex, not base64; enums as integers; field names in lowerCamelCase; 64-bit integers
/// (times, `intValue`) as decimal strings.
public enum OTLPJSONEncoder {
    /// Appends the request for `spans` to `out`.
    public static func encode(
        _ spans: some Collection<SpanRecord>, process: ServiceProcess, resource: OTLPResource,
        rendered: inout RenderedSpan, into out: inout [UInt8]
    ) {
        out.append(contentsOf: #"{"resourceSpans":[{"resource":{"attributes":["#.utf8)
        for (i, tag) in resource.attributes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendTag(tag, into: &out)
        }
        out.append(contentsOf: #"]},"scopeSpans":[{"scope":{"name":"#.utf8)
        JSONBytes.appendString(resource.scopeName, into: &out)
        out.append(contentsOf: #","version":"#.utf8)
        JSONBytes.appendString(resource.scopeVersion, into: &out)
        out.append(contentsOf: #"},"spans":["#.utf8)
        var first = true
        for record in spans {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            rendered.render(record, process: process, names: process.spanFacts.attributeNames ?? .stable)
            encodeSpan(rendered, into: &out)
        }
        out.append(contentsOf: "]}]}]}".utf8)
    }

    static func encodeSpan(_ s: RenderedSpan, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"traceId":""#.utf8)
        JSONBytes.appendHex(s.traceID.high, into: &out)
        JSONBytes.appendHex(s.traceID.low, into: &out)
        out.append(contentsOf: #"","spanId":""#.utf8)
        JSONBytes.appendHex(s.spanID.value, into: &out)
        out.append(UInt8(ascii: "\""))
        if s.parentSpanID.isValid {
            out.append(contentsOf: #","parentSpanId":""#.utf8)
            JSONBytes.appendHex(s.parentSpanID.value, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        if let state = s.traceState, !state.isEmpty {
            out.append(contentsOf: #","traceState":"#.utf8)
            JSONBytes.appendString(state, into: &out)
        }
        out.append(contentsOf: #","name":"#.utf8)
        JSONBytes.appendString(utf8: s.text[s.name], into: &out)
        out.append(contentsOf: (s.kind == .server ? #","kind":2"# : #","kind":3"#).utf8)
        let startNs = max(0, s.startMicros) &* 1000
        out.append(contentsOf: #","startTimeUnixNano":""#.utf8)
        JSONBytes.appendDecimal(startNs, into: &out)
        out.append(contentsOf: #"","endTimeUnixNano":""#.utf8)
        JSONBytes.appendDecimal(startNs &+ max(1, s.durationMicros) &* 1000, into: &out)
        out.append(contentsOf: #"","attributes":["#.utf8)
        let isError = s.isError
        var first = true
        for tag in s.tags {
            // The status carries it.
            if tag.key == "error" { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendAttribute(key: tag.key, tag.value, text: s.text, into: &out)
        }
        out.append(contentsOf: #"],"events":["#.utf8)
        for (i, log) in s.logs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"timeUnixNano":""#.utf8)
            JSONBytes.appendDecimal(max(0, log.timestampMicros) &* 1000, into: &out)
            out.append(contentsOf: #"","name":"#.utf8)
            JSONBytes.appendString(utf8: s.eventName(log).map { s.text[$0] } ?? [], into: &out)
            out.append(contentsOf: #","attributes":["#.utf8)
            var firstField = true
            for f in s.logFields[log.fields] where f.key != "event" {
                if !firstField { out.append(UInt8(ascii: ",")) }
                firstField = false
                appendAttribute(key: f.key, f.value, text: s.text, into: &out)
            }
            out.append(contentsOf: "]}".utf8)
        }
        out.append(UInt8(ascii: "]"))
        if let l = s.link {
            out.append(contentsOf: #","links":[{"traceId":""#.utf8)
            JSONBytes.appendHex(l.traceID.high, into: &out)
            JSONBytes.appendHex(l.traceID.low, into: &out)
            out.append(contentsOf: #"","spanId":""#.utf8)
            JSONBytes.appendHex(l.spanID.value, into: &out)
            out.append(contentsOf: (l.sampled ? #"","flags":769}]"# : #"","flags":768}]"#).utf8)
        }
        if isError {
            out.append(contentsOf: #","status":{"code":2"#.utf8)
            if let errorMessage = s.errorMessage {
                out.append(contentsOf: #","message":"#.utf8)
                JSONBytes.appendString(utf8: s.text[errorMessage], into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: (s.parentSpanID.isValid ? #","flags":769}"# : #","flags":257}"#).utf8)
    }

    static func appendAttribute(key: String, _ value: RenderedSpan.Value, text: [UInt8], into out: inout [UInt8]) {
        out.append(contentsOf: #"{"key":"#.utf8)
        JSONBytes.appendString(key, into: &out)
        out.append(contentsOf: #","value":{"#.utf8)
        switch value {
        case .text(let r):
            out.append(contentsOf: #""stringValue":"#.utf8)
            JSONBytes.appendString(utf8: text[r], into: &out)
        case .bool(let b):
            out.append(contentsOf: (b ? #""boolValue":true"# : #""boolValue":false"#).utf8)
        case .long(let v):
            out.append(contentsOf: #""intValue":""#.utf8)
            JSONBytes.appendDecimal(v, into: &out)
            out.append(UInt8(ascii: "\""))
        case .double(let d):
            out.append(contentsOf: #""doubleValue":"#.utf8)
            out.append(contentsOf: (d.isFinite ? "\(d)" : "0").utf8)
        }
        out.append(contentsOf: "}}".utf8)
    }

    static func appendTag(_ tag: Tag, into out: inout [UInt8]) {
        switch tag.value {
        case .string(let s):
            let text = Array(s.utf8)
            appendAttribute(key: tag.key, .text(0..<text.count), text: text, into: &out)
        case .bool(let b): appendAttribute(key: tag.key, .bool(b), text: [], into: &out)
        case .long(let v): appendAttribute(key: tag.key, .long(v), text: [], into: &out)
        case .double(let d): appendAttribute(key: tag.key, .double(d), text: [], into: &out)
        }
    }
}
