import Dispatch
import Gzip
import Reactor
import SpanEncoding
import Spans
import Stats
import TLS

#if canImport(Glibc)
    import Glibc
#endif

/// Exports spans over OTLP/HTTP (otlp-specification, "OTLP/HTTP"): `POST /v1/traces` with an
/// `ExportTraceServiceRequest` in protobuf (`application/x-protobuf`) or JSON
/// (`application/json`), optionally gzipped, over one keep-alive connection, plain or TLS.
///
/// The exporter rules of the specification: only 429, 502, 503, 504 and failures to get an answer
/// are retried, with exponential backoff and jitter, waiting `Retry-After` when the collector
/// gives one, all within the batch's timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`); any other answer
/// ends the batch. A 2xx with a populated `partial_success` is delivered, its rejected spans are
/// counted as dropped and its message logged, and it is not retried.
public final class OTLPHTTPReporter: SpanReporter {
    public enum Encoding: String, Sendable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    public struct Settings: Sendable {
        public var host: String
        public var port: UInt16
        public var path: String
        public var tls: Bool
        public var encoding: Encoding
        public var gzip: Bool
        /// Extra request fields (`--otlp-header`, `OTEL_EXPORTER_OTLP_HEADERS`).
        public var headers: [(name: String, value: String)]
        /// The whole export of one batch, retries included.
        public var timeoutMs: Int
        /// Resource attributes beyond `service.name` (`OTEL_RESOURCE_ATTRIBUTES`).
        public var resourceAttributes: [Tag]

        public init(
            host: String, port: UInt16, path: String = "/v1/traces", tls: Bool = false, encoding: Encoding = .protobuf,
            gzip: Bool = false, headers: [(name: String, value: String)] = [], timeoutMs: Int = 10_000,
            resourceAttributes: [Tag] = []
        ) {
            self.host = host
            self.port = port
            self.path = path
            self.tls = tls
            self.encoding = encoding
            self.gzip = gzip
            self.headers = headers
            self.timeoutMs = timeoutMs
            self.resourceAttributes = resourceAttributes
        }
    }

    /// Backoff bounds: the first wait, and the longest (the specification leaves them to us).
    public struct Backoff: Sendable {
        public var initialMs: Int
        public var maxMs: Int

        public init(initialMs: Int = 200, maxMs: Int = 5_000) {
            self.initialMs = initialMs
            self.maxMs = maxMs
        }
    }

    public let name: String
    private let settings: Settings
    private let backoff: Backoff
    private let process: ServiceProcess
    private let resource: OTLPResource
    private let encodedResource: OTLPProtobufEncoder.EncodedResource
    private let requestHeadPrefix: [UInt8]
    private let client: CollectorHTTPClient
    private let state = Locked(State())

    private struct State {
        var scratch = OTLPProtobufEncoder.Scratch()
        var rendered = RenderedSpan()
        var failure: String?
        var dropReason = SpanDropReason.sendFailed
        var rejected = 0
        var warning: String?
        var random = SystemRandomNumberGenerator()
    }

    public init(
        name: String, settings: Settings, options: ReporterOptions, backoff: Backoff = Backoff()
    ) throws(ReporterURLError) {
        client = try CollectorHTTPClient(
            name: name, host: settings.host, port: settings.port, tls: settings.tls,
            configuration: options.collectorTLS, connectTimeoutMs: min(settings.timeoutMs, 5_000),
            names: options.names)
        self.name = name
        self.settings = settings
        self.backoff = backoff
        process = options.process
        resource = OTLPResource(
            attributes: Self.resourceAttributes(options.process, extra: settings.resourceAttributes),
            scopeName: "traceproxy", scopeVersion: Self.version(of: options.process))
        encodedResource = OTLPProtobufEncoder.EncodedResource(resource)
        let hostField = HostPortSyntax.format(host: settings.host, port: settings.port)
        var head = "POST \(settings.path) HTTP/1.1\r\nHost: \(hostField)\r\n"
        head += "User-Agent: traceproxy/" + Self.version(of: options.process) + "\r\n"
        head += "Content-Type: \(settings.encoding == .json ? "application/json" : "application/x-protobuf")\r\n"
        head += "Connection: keep-alive\r\n"
        if settings.gzip { head += "Content-Encoding: gzip\r\n" }
        for (n, v) in settings.headers { head += "\(n): \(v)\r\n" }
        requestHeadPrefix = Array(head.utf8)
    }

    /// `service.name` first, then the process's tags under their semantic-convention names, then
    /// `OTEL_RESOURCE_ATTRIBUTES` (which may override any of them but `service.name`).
    static func resourceAttributes(_ process: ServiceProcess, extra: [Tag]) -> [Tag] {
        var tags = [Tag("service.name", .string(process.serviceName))]
        for tag in process.tags {
            switch tag.key {
            case "hostname": tags.append(Tag("host.name", tag.value))
            case "traceproxy.version": tags.append(Tag("service.version", tag.value))
            case "ip": tags.append(Tag("host.ip", tag.value))
            default: tags.append(tag)
            }
        }
        tags += [
            Tag("telemetry.sdk.name", .string("traceproxy")), Tag("telemetry.sdk.language", .string("swift")),
            Tag("telemetry.sdk.version", .string(version(of: process))),
        ]
        for tag in extra where tag.key != "service.name" {
            if let i = tags.firstIndex(where: { $0.key == tag.key }) { tags[i] = tag } else { tags.append(tag) }
        }
        return tags
    }

    /// The proxy's version, from the process tag the server sets.
    static func version(of process: ServiceProcess) -> String {
        for tag in process.tags where tag.key == "traceproxy.version" {
            if case .string(let v) = tag.value { return v }
        }
        return "unknown"
    }

    public var lastFailure: String? { state.withLock { $0.failure } }

    public var lastBatchRejected: Int { state.withLock { $0.rejected } }

    public var lastBatchWarning: String? { state.withLock { $0.warning } }

    public var lastDropReason: SpanDropReason { state.withLock { $0.dropReason } }

    public func send(_ spans: [SpanRecord]) -> Bool {
        send(spans, before: .distantFuture)
    }

    public func send(_ spans: [SpanRecord], before deadline: DispatchTime) -> Bool {
        guard !spans.isEmpty else { return true }
        let end = min(deadline, DispatchTime.now() + .milliseconds(settings.timeoutMs))
        let request = state.withLock { s -> [UInt8] in
            s.rejected = 0
            s.warning = nil
            s.dropReason = .sendFailed
            var body: [UInt8] = []
            switch settings.encoding {
            case .protobuf:
                OTLPProtobufEncoder.encode(
                    spans, process: process, resource: encodedResource, scratch: &s.scratch, into: &body)
            case .json:
                OTLPJSONEncoder.encode(spans, process: process, resource: resource, rendered: &s.rendered, into: &body)
            }
            if settings.gzip { body = Gzip.compress(body) }
            var request = requestHeadPrefix
            request += Array("Content-Length: \(body.count)\r\n\r\n".utf8)
            request += body
            return request
        }
        var waitMs = backoff.initialMs
        while true {
            var retryAfterMs: Int?
            switch client.post(request, deadline: end) {
            case .answered(let response) where (200...299).contains(response.status):
                let partial = OTLPPartialSuccess.decode(response.body, json: settings.encoding == .json)
                state.withLock { s in
                    s.rejected = partial.map { Int(clamping: $0.rejectedSpans) } ?? 0
                    s.warning = partial.map { "collector accepted the batch partially: \($0.description)" }
                }
                return true
            case .answered(let response):
                state.withLock { $0.failure = "collector answered \(response.status)" }
                guard [429, 502, 503, 504].contains(response.status) else { return false }
                retryAfterMs = response.retryAfterSeconds.map { $0 * 1000 }
            case .failed(let reason):
                state.withLock { $0.failure = reason }
            case .unresolved(let reason):
                // Not retried within the batch: the name is retried in the background, and the
                // lane must not stall behind it.
                state.withLock { s in
                    s.failure = reason
                    s.dropReason = .unresolved
                }
                return false
            }
            // Full jitter on the exponential step, unless the collector said how long to wait.
            let step = waitMs
            let sleepMs = retryAfterMs ?? state.withLock { Int.random(in: step / 2...step, using: &$0.random) }
            waitMs = min(waitMs * 2, backoff.maxMs)
            guard DispatchTime.now() + .milliseconds(sleepMs) < end else { return false }
            usleep(UInt32(min(sleepMs, 60_000)) * 1000)
        }
    }

    public func close() { client.close() }
}

/// `ExportTraceServiceResponse.partial_success` (trace_service.proto): nil when the collector
/// accepted everything (the field absent or empty).
struct OTLPPartialSuccess: Equatable, CustomStringConvertible {
    var rejectedSpans: Int64
    var errorMessage: String

    var description: String {
        "\(rejectedSpans) span(s) rejected" + (errorMessage.isEmpty ? "" : ": \(errorMessage)")
    }

    static func decode(_ body: [UInt8], json: Bool) -> OTLPPartialSuccess? {
        let found = json ? decodeJSON(body) : decodeProtobuf(body)
        guard let found, found.rejectedSpans != 0 || !found.errorMessage.isEmpty else { return nil }
        return found
    }

    /// Field 1 (`partial_success`) holding field 1 (`rejected_spans`, int64) and 2 (`error_message`).
    static func decodeProtobuf(_ body: [UInt8]) -> OTLPPartialSuccess? {
        var reader = ProtobufReader(body)
        while let (field, value) = reader.next() {
            guard field == 1, case .bytes(let inner) = value else { continue }
            var result = OTLPPartialSuccess(rejectedSpans: 0, errorMessage: "")
            var r = ProtobufReader(inner)
            while let (f, v) = r.next() {
                switch (f, v) {
                case (1, .varint(let n)): result.rejectedSpans = Int64(bitPattern: n)
                case (2, .bytes(let b)): result.errorMessage = String(decoding: b, as: UTF8.self)
                default: break
                }
            }
            return result
        }
        return nil
    }

    /// `{"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}}` (int64 as a string or a
    /// number); a small scan rather than a JSON parser, since only these two fields matter.
    static func decodeJSON(_ body: [UInt8]) -> OTLPPartialSuccess? {
        guard index(after: "\"partialSuccess\"", in: body) != nil else { return nil }
        var result = OTLPPartialSuccess(rejectedSpans: 0, errorMessage: "")
        if var i = index(after: "\"rejectedSpans\"", in: body) {
            while i < body.count && !(body[i] == UInt8(ascii: "-") || (body[i] &- 0x30) < 10) { i += 1 }
            var j = i
            while j < body.count && (body[j] == UInt8(ascii: "-") || (body[j] &- 0x30) < 10) { j += 1 }
            result.rejectedSpans = Int64(String(decoding: body[i..<j], as: UTF8.self)) ?? 0
        }
        if var i = index(after: "\"errorMessage\"", in: body) {
            while i < body.count && body[i] != UInt8(ascii: "\"") { i += 1 }
            result.errorMessage = jsonString(body, from: i + 1)
        }
        return result
    }

    /// The JSON string whose content starts at `start`, escapes decoded (RFC 8259 section 7).
    private static func jsonString(_ b: [UInt8], from start: Int) -> String {
        var out: [UInt8] = []
        var i = start
        while i < b.count && b[i] != UInt8(ascii: "\"") {
            guard b[i] == UInt8(ascii: "\\"), i + 1 < b.count else {
                out.append(b[i])
                i += 1
                continue
            }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else {
                    return String(decoding: out, as: UTF8.self)
                }
                i += 4
                out.append(contentsOf: String(Character(Unicode.Scalar(v) ?? "\u{FFFD}")).utf8)
            default: out.append(e)  // `"`, `\\`, `/`
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The index just past the first occurrence of `needle` in `bytes`.
    private static func index(after needle: String, in bytes: [UInt8]) -> Int? {
        let n = Array(needle.utf8)
        guard bytes.count >= n.count else { return nil }
        for i in 0...(bytes.count - n.count) where bytes[i] == n[0] && bytes[i..<i + n.count].elementsEqual(n) {
            return i + n.count
        }
        return nil
    }
}

/// Reads protobuf fields one by one (enough for the collector's response).
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes([UInt8])
        case other
    }

    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count && shift < 64 {
            let b = bytes[i]
            i += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    /// The next field, or nil at the end or on malformed input.
    mutating func next() -> (UInt32, Value)? {
        guard i < bytes.count, let key = varint() else { return nil }
        let field = UInt32(truncatingIfNeeded: key >> 3)
        switch key & 7 {
        case 0: return varint().map { (field, .varint($0)) }
        case 1:
            guard i + 8 <= bytes.count else { return nil }
            i += 8
            return (field, .other)
        case 2:
            guard let n = varint(), n <= UInt64(bytes.count - i) else { return nil }
            let value = Array(bytes[i..<i + Int(n)])
            i += Int(n)
            return (field, .bytes(value))
        case 5:
            guard i + 4 <= bytes.count else { return nil }
            i += 4
            return (field, .other)
        default: return nil
        }
    }
}
