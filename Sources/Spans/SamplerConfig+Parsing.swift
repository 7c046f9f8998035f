/// Why a sampler setting was refused; the description names the bad value.
public struct SamplerConfigError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

extension SamplerConfig {
    /// Parses `--sampler const:1|const:0|probabilistic:P|ratelimiting:N`, with P in 0...1 and
    /// N >= 0 traces per second.
    public static func parse(_ s: String) throws -> SamplerConfig {
        guard let colon = s.firstIndex(of: ":") else {
            throw SamplerConfigError(
                "invalid sampler '\(s)' (expected const:1, const:0, probabilistic:P or ratelimiting:N)"
            )
        }
        let kind = String(s[..<colon]).lowercased()
        let param = String(s[s.index(after: colon)...])
        switch kind {
        case "const":
            switch param {
            case "1", "true": return .const(true)
            case "0", "false": return .const(false)
            default:
                throw SamplerConfigError("invalid const sampler value '\(param)' (expected 1 or 0)")
            }
        case "probabilistic":
            return .probabilistic(try probability(param))
        case "ratelimiting":
            return .rateLimiting(try rate(param))
        default:
            throw SamplerConfigError(
                "unknown sampler type '\(kind)' in '\(s)' (expected const, probabilistic or ratelimiting)"
            )
        }
    }

    /// The Jaeger client environment form: `JAEGER_SAMPLER_TYPE` and `JAEGER_SAMPLER_PARAM`.
    ///
    /// Jaeger clients read a const param as a number (non-zero samples). `remote` polls an agent
    /// for a strategy, which we do not do: its param is the initial probabilistic rate that
    /// clients use until the first poll answers (default 0.001), and that is what we keep.
    public static func fromJaegerEnv(type: String, param: String?) throws -> SamplerConfig {
        let kind = type.lowercased()
        if kind == "remote" {
            guard let param else { return .probabilistic(0.001) }
            return .probabilistic(try probability(param))
        }
        guard let param else {
            throw SamplerConfigError("JAEGER_SAMPLER_TYPE '\(type)' needs JAEGER_SAMPLER_PARAM")
        }
        switch kind {
        case "const":
            guard let v = Double(param), v.isFinite else {
                throw SamplerConfigError("invalid JAEGER_SAMPLER_PARAM '\(param)' for const")
            }
            return .const(v != 0)
        case "probabilistic":
            return .probabilistic(try probability(param))
        case "ratelimiting":
            return .rateLimiting(try rate(param))
        default:
            throw SamplerConfigError(
                "unknown JAEGER_SAMPLER_TYPE '\(type)' (expected const, probabilistic, ratelimiting or remote)"
            )
        }
    }

    /// The sampler this configuration describes.
    public func makeSampler() -> any Sampler {
        switch self {
        case .const(let d): ConstSampler(d)
        case .probabilistic(let p): ProbabilisticSampler(rate: p)
        case .rateLimiting(let n): RateLimitingSampler(tracesPerSecond: n)
        }
    }

    private static func probability(_ s: String) throws -> Double {
        guard let p = Double(s), p.isFinite, p >= 0, p <= 1 else {
            throw SamplerConfigError(
                "invalid sampling probability '\(s)' (expected a number in 0...1)")
        }
        return p
    }

    private static func rate(_ s: String) throws -> Double {
        guard let n = Double(s), n.isFinite, n >= 0 else {
            throw SamplerConfigError("invalid rate limit '\(s)' (expected traces per second >= 0)")
        }
        return n
    }
}
