import HTTP1
import Reporters
import Spans

/// The OpenTelemetry exporter variables ("OpenTelemetry Protocol Exporter" and "SDK Environment
/// Variables" specifications): which exporters, the OTLP endpoint and its options, and the
/// resource. Signal-specific `OTEL_EXPORTER_OTLP_TRACES_*` variables win over the generic ones.
extension Environment {
    /// The traces variable if set, else the generic one: (value, its name) for error messages.
    func otlp(_ suffix: String) -> (String, String)? {
        if let v = self["OTEL_EXPORTER_OTLP_TRACES_\(suffix)"] { return (v, "OTEL_EXPORTER_OTLP_TRACES_\(suffix)") }
        if let v = self["OTEL_EXPORTER_OTLP_\(suffix)"] { return (v, "OTEL_EXPORTER_OTLP_\(suffix)") }
        return nil
    }

    /// `OTEL_SEMCONV_STABILITY_OPT_IN`: `http/dup` means both name sets, `http` the stable ones;
    /// other entries (other domains) are not ours.
    var semconvOptIn: AttributeNames? {
        guard let text = self["OTEL_SEMCONV_STABILITY_OPT_IN"] else { return nil }
        let entries = text.split(separator: ",").map { $0.trimmingSpaces.lowercased() }
        if entries.contains("http/dup") { return .both }
        if entries.contains("http") { return .stable }
        return nil
    }

    /// `OTEL_SDK_DISABLED=true`: no exporter from the environment.
    var sdkDisabled: Bool { self["OTEL_SDK_DISABLED"]?.lowercased() == "true" }

    /// The OTLP traces endpoint as a reporter: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` used as it is
    /// (a URL without a path gets `/`), or `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces`
    /// appended, or the default `http://localhost:4318/v1/traces`.
    func otlpReporter() throws(ConfigError) -> ReporterTarget {
        let url: String
        let name: String
        if let v = self["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] {
            (url, name) = (Self.withRootPath(v), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        } else if let v = self["OTEL_EXPORTER_OTLP_ENDPOINT"] {
            let base = v.hasSuffix("/") ? String(v.dropLast()) : v
            (url, name) = (Self.withRootPath(base + ReporterTarget.defaultOTLPPath), "OTEL_EXPORTER_OTLP_ENDPOINT")
        } else {
            (url, name) = ("http://localhost:4318/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT")
        }
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw ConfigError(invalid: url, for: name, "expected http://HOST:PORT[/PATH] or https://...")
        }
        do {
            guard let target = try ReporterTarget.parse("otlp+" + Self.withSchemePort(url)) else {
                throw ConfigError(invalid: url, for: name, "expected a URL")
            }
            return target
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(invalid: url, for: name, "\(error)")
        }
    }

    /// A URL without a port gets its scheme's (443, 80), as the OpenTelemetry SDKs read these
    /// variables; the `otlp+http://HOST` flag form keeps OTLP's 4318.
    static func withSchemePort(_ url: String) -> String {
        let https = url.lowercased().hasPrefix("https://")
        let schemeLength = https ? 8 : 7
        let rest = url.dropFirst(schemeLength)
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let hasPort =
            authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
        guard !hasPort else { return url }
        return String(url.prefix(schemeLength)) + authority + (https ? ":443" : ":80") + rest[authorityEnd...]
    }

    /// A URL with no path gets `/` (the specification's one exception to "as it is").
    static func withRootPath(_ url: String) -> String {
        let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        // "http:", "", "host:port", then the path if there is one.
        return parts.count >= 4 ? url : url + "/"
    }

    /// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`: `http/protobuf` (default) or `http/json`; `grpc` is
    /// refused rather than silently sent over HTTP.
    func otlpEncoding() throws(ConfigError) -> OTLPHTTPReporter.Encoding? {
        guard let (text, name) = otlp("PROTOCOL") else { return nil }
        return try Self.otlpEncoding(text, for: name)
    }

    static func otlpEncoding(_ text: String, for name: String) throws(ConfigError) -> OTLPHTTPReporter.Encoding {
        switch text.lowercased() {
        case "http/protobuf": return .protobuf
        case "http/json": return .json
        case "grpc":
            throw ConfigError(
                invalid: text, for: name, "OTLP over gRPC is not supported; use http/protobuf or http/json")
        default: throw ConfigError(invalid: text, for: name, "expected http/protobuf or http/json")
        }
    }

    /// `OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION`: `gzip` or `none`.
    func otlpGzip() throws(ConfigError) -> Bool? {
        guard let (text, name) = otlp("COMPRESSION") else { return nil }
        return try Self.otlpGzip(text, for: name)
    }

    static func otlpGzip(_ text: String, for name: String) throws(ConfigError) -> Bool {
        switch text.lowercased() {
        case "gzip": return true
        case "none": return false
        default: throw ConfigError(invalid: text, for: name, "expected gzip or none")
        }
    }

    /// `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`, in milliseconds.
    func otlpTimeoutMs() throws(ConfigError) -> Int? {
        guard let (text, name) = otlp("TIMEOUT") else { return nil }
        guard let ms = Int(text), ms > 0 else {
            throw ConfigError(invalid: text, for: name, "expected a positive number of milliseconds")
        }
        return ms
    }

    /// `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`: `key=value` pairs separated by commas, values
    /// percent-decoded (the W3C Baggage format the specification names).
    func otlpHeaders() throws(ConfigError) -> [OTLPOptions.Header]? {
        guard let (text, name) = otlp("HEADERS") else { return nil }
        var headers: [OTLPOptions.Header] = []
        for (key, value) in try Self.keyValueList(text, for: name) {
            guard Self.isToken(key) else {
                throw ConfigError(invalid: text, for: name, "\"\(key)\" is not a header name")
            }
            guard !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw ConfigError(invalid: text, for: name, "a header value may not hold line breaks")
            }
            headers.append(OTLPOptions.Header(name: key, value: value))
        }
        return headers
    }

    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs, values percent-decoded, as string attributes.
    func resourceAttributes() throws(ConfigError) -> [Tag] {
        guard let text = self["OTEL_RESOURCE_ATTRIBUTES"] else { return [] }
        return try Self.keyValueList(text, for: "OTEL_RESOURCE_ATTRIBUTES").map { Tag($0.0, .string($0.1)) }
    }

    /// `OTEL_TRACES_EXPORTER`: a comma-separated list of `otlp`, `zipkin`, `console` (stdout),
    /// `jaeger` (the agent from `JAEGER_AGENT_*`), `none`.
    func tracesExporters() throws(ConfigError) -> [String]? {
        guard let text = self["OTEL_TRACES_EXPORTER"] else { return nil }
        let names = text.split(separator: ",").map { $0.trimmingSpaces.lowercased() }.filter { !$0.isEmpty }
        for n in names where !["otlp", "zipkin", "console", "jaeger", "none"].contains(n) {
            throw ConfigError(
                invalid: text, for: "OTEL_TRACES_EXPORTER", "expected otlp, zipkin, console, jaeger or none")
        }
        return names
    }

    /// `OTEL_EXPORTER_ZIPKIN_ENDPOINT` (default `http://localhost:9411/api/v2/spans`).
    func zipkinReporter() throws(ConfigError) -> ReporterTarget {
        let url = self["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] ?? "http://localhost:9411/api/v2/spans"
        do {
            guard let target = try ReporterTarget.parse("zipkin+" + url) else {
                throw ConfigError(invalid: url, for: "OTEL_EXPORTER_ZIPKIN_ENDPOINT", "expected a URL")
            }
            return target
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(invalid: url, for: "OTEL_EXPORTER_ZIPKIN_ENDPOINT", "\(error)")
        }
    }

    /// `k1=v1,k2=v2` with percent-decoded values and trimmed keys (W3C Baggage's list format,
    /// which `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` use).
    static func keyValueList(_ text: String, for name: String) throws(ConfigError) -> [(String, String)] {
        var pairs: [(String, String)] = []
        for item in text.split(separator: ",") {
            let trimmed = item.trimmingSpaces
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw ConfigError(invalid: text, for: name, "expected key=value pairs separated by commas")
            }
            let key = trimmed[..<eq].trimmingSpaces
            guard !key.isEmpty, let value = percentDecoded(trimmed[trimmed.index(after: eq)...].trimmingSpaces) else {
                throw ConfigError(invalid: text, for: name, "expected key=value pairs with percent-encoded values")
            }
            pairs.append((key, value))
        }
        return pairs
    }

    static func percentDecoded(_ s: String) -> String? { PercentDecoding.decode(s) }

    /// An HTTP field name (RFC 9110 `token`).
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty
            && s.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let chars = Array(self)
        guard let first = chars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = chars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(chars[first...last])
    }
}
