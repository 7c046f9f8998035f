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

/// The one sampler grammar, for `--sampler` and for the Jaeger client environment variables.
/// Spellings follow the Jaeger clients (`const`, `probabilistic`, `ratelimiting`).
extension SamplerConfig: CustomStringConvertible {
    public static let expectedForms =
        "expected const:1, const:0, probabilistic:P (P from 0 to 1) or ratelimiting:N (traces per second)"

    /// `--sampler const:1|const:0|probabilistic:P|ratelimiting:N`, P in 0...1, N >= 0 per second.
    public static func parse(_ text: String) throws(SamplerConfigError) -> SamplerConfig {
        guard let colon = text.firstIndex(of: ":") else { throw SamplerConfigError(.spec, expectedForms) }
        let kind = text[..<colon].lowercased()
        let param = text[text.index(after: colon)...]
        let parsed: SamplerConfig?
        switch kind {
        case "const": parsed = param == "1" ? .const(true) : param == "0" ? .const(false) : nil
        default: parsed = number(param).flatMap { make(kind, $0) }
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

    /// The sampler this configuration describes.
    public func makeSampler() -> any Sampler {
        switch self {
        case .const(let d): ConstSampler(d)
        case .probabilistic(let p): ProbabilisticSampler(rate: p)
        case .rateLimiting(let n): RateLimitingSampler(tracesPerSecond: n)
        }
    }

    /// The `--sampler` spelling, so that `--print-config` shows what `parse` reads back.
    public var description: String {
        switch self {
        case .const(let on): "const:\(on ? 1 : 0)"
        case .probabilistic(let p): "probabilistic:\(p)"
        case .rateLimiting(let n): "ratelimiting:\(n)"
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
