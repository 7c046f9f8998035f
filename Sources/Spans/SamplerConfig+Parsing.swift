/// Why a sampler setting was refused: `reason` says what was expected, and `part` which value was
/// wrong, so that the command line can name the flag or environment variable to fix.
public struct SamplerConfigError: Error, Equatable, CustomStringConvertible {
    public enum Part: Equatable, Sendable {
        case spec
        case jaegerType
        case jaegerParam
    }

    public var part: Part
    public var reason: String

    public init(_ part: Part, _ reason: String) {
        self.part = part
        self.reason = reason
    }

    public var description: String { reason }
}

/// Why `OTEL_TRACES_SAMPLER` (`inArgument` false) or `OTEL_TRACES_SAMPLER_ARG` was refused.
public struct OTelSamplerError: Error, Equatable, CustomStringConvertible {
    public var inArgument: Bool
    public var reason: String

    public init(inArgument: Bool, _ reason: String) {
        self.inArgument = inArgument
        self.reason = reason
    }

    public var description: String { reason }
}

/// The one sampler grammar, for `--sampler`, the Jaeger client environment variables and
/// OpenTelemetry's. Jaeger's spellings (`const`, `probabilistic`, `ratelimiting`) and
/// OpenTelemetry's (`always_on`, `traceidratio`, `parentbased_*`) name the same root samplers.
extension SamplerConfig: CustomStringConvertible {
    public static let expectedForms =
        "expected const:1, const:0, probabilistic:P (P from 0 to 1), ratelimiting:N (traces per second), "
        + "always_on, always_off, traceidratio:P, parentbased_always_on, parentbased_always_off or "
        + "parentbased_traceidratio:P"
    static let otelExpectedNames =
        "expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or "
        + "parentbased_traceidratio"

    /// `--sampler`: `const:1|const:0|probabilistic:P|ratelimiting:N` (parent-based, as always),
    /// OpenTelemetry's names, a ratio after a colon (`traceidratio:0.1`). Case-insensitive.
    public static func parse(_ text: String) throws(SamplerConfigError) -> SamplerConfig {
        let lower = text.lowercased()
        let parsed: SamplerConfig?
        if let colon = lower.firstIndex(of: ":") {
            let kind = String(lower[..<colon])
            let param = lower[lower.index(after: colon)...]
            switch kind {
            case "const": parsed = param == "1" ? .const(true) : param == "0" ? .const(false) : nil
            case _ where otelRatioNames.contains(kind): parsed = ratio(param).flatMap { otel(kind, ratio: $0) }
            default: parsed = number(param).flatMap { make(kind, $0) }
            }
        } else {
            parsed = otelRatioNames.contains(lower) ? nil : otel(lower, ratio: 1)
        }
        guard let parsed else { throw SamplerConfigError(.spec, expectedForms) }
        return parsed
    }

    /// `JAEGER_SAMPLER_TYPE` and `JAEGER_SAMPLER_PARAM`: a number param; const samples when it is
    /// non-zero, as jaeger-client-go's `ConstSampler` does. `remote` is refused rather than
    /// silently replaced: the proxy has no client for Jaeger's sampling-strategy service.
    public static func fromJaegerEnv(type: String, param: String) throws(SamplerConfigError) -> SamplerConfig {
        let kind = type.lowercased()
        guard ["const", "probabilistic", "ratelimiting"].contains(kind) else {
            throw SamplerConfigError(
                .jaegerType, "expected const, probabilistic or ratelimiting (remote sampling is not supported)")
        }
        guard let value = number(Substring(param)), let sampler = make(kind, value) else {
            let expected =
                switch kind {
                case "const": "expected 1 or 0"
                case "probabilistic": "expected a probability from 0 to 1"
                default: "expected a non-negative number of traces per second"
                }
            throw SamplerConfigError(.jaegerParam, expected)
        }
        return sampler
    }

    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (OpenTelemetry "SDK Environment
    /// Variables"): names are case-insensitive; the argument is read only by the two ratio
    /// samplers, and is 1.0 when unset, as the specification says. Where the specification asks
    /// SDKs to warn and fall back, the proxy refuses to start, as for every other variable: a
    /// sidecar that silently samples everything is the worse surprise. `jaeger_remote`,
    /// `parentbased_jaeger_remote` and `xray` need a sampling service the proxy has no client for.
    public static func fromOTelEnv(sampler: String, arg: String?) throws(OTelSamplerError) -> SamplerConfig {
        let name = sampler.lowercased()
        guard let config = otel(name, ratio: 1) else {
            let remote = ["jaeger_remote", "parentbased_jaeger_remote", "xray"].contains(name)
            throw OTelSamplerError(
                inArgument: false, otelExpectedNames + (remote ? " (remote sampling is not supported)" : ""))
        }
        guard otelRatioNames.contains(name), let arg else { return config }
        guard let value = ratio(Substring(arg)), let withRatio = otel(name, ratio: value) else {
            throw OTelSamplerError(inArgument: true, "expected a ratio from 0 to 1")
        }
        return withRatio
    }

    /// The root sampler this configuration describes (`TraceSampler` adds the parent rule).
    public func makeSampler() -> any Sampler {
        switch root {
        case .const(let d): ConstSampler(d)
        case .probabilistic(let p): ProbabilisticSampler(rate: p)
        case .rateLimiting(let n): RateLimitingSampler(tracesPerSecond: n)
        }
    }

    /// The `--sampler` spelling, so that `--print-config` shows what `parse` reads back: Jaeger's
    /// names for the parent-based samplers (as before), OpenTelemetry's for the others.
    public var description: String {
        switch (root, parentBased) {
        case (.const(let on), true): "const:\(on ? 1 : 0)"
        case (.const(let on), false): on ? "always_on" : "always_off"
        case (.probabilistic(let p), true): "probabilistic:\(p)"
        case (.probabilistic(let p), false): "traceidratio:\(p)"
        case (.rateLimiting(let n), _): "ratelimiting:\(n)"
        }
    }

    private static let otelRatioNames: Set<String> = ["traceidratio", "parentbased_traceidratio"]

    /// OpenTelemetry's sampler names, `ratio` used by the two that take one.
    private static func otel(_ name: String, ratio: Double) -> SamplerConfig? {
        switch name {
        case "always_on": .alwaysOn
        case "always_off": .alwaysOff
        case "traceidratio": .traceIDRatio(ratio)
        case "parentbased_always_on": .const(true)
        case "parentbased_always_off": .const(false)
        case "parentbased_traceidratio": .probabilistic(ratio)
        default: nil
        }
    }

    private static func make(_ kind: String, _ param: Double) -> SamplerConfig? {
        switch kind {
        case "const": .const(param != 0)
        case "probabilistic": (0...1).contains(param) ? .probabilistic(param) : nil
        case "ratelimiting": param >= 0 ? .rateLimiting(param) : nil
        default: nil
        }
    }

    /// A number from 0 to 1.
    private static func ratio(_ text: Substring) -> Double? {
        number(text).flatMap { (0...1).contains($0) ? $0 : nil }
    }

    /// A finite decimal number; refuses `nan`, `inf` and hexadecimal floats, which `Double(_:)`
    /// would take.
    private static func number(_ text: Substring) -> Double? {
        guard !text.isEmpty,
            text.allSatisfy({ $0.isASCII && ($0.isNumber || ".eE-+".contains($0)) }),
            let value = Double(text), value.isFinite
        else { return nil }
        return value
    }
}
