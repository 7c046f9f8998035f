import Spans

/// OpenTelemetry's sampler variables, beside the Jaeger ones in `Environment.swift`.
///
/// Precedence for the sampler: `--sampler`, then `OTEL_TRACES_SAMPLER`, then
/// `JAEGER_SAMPLER_TYPE`/`JAEGER_SAMPLER_PARAM`: when both families are set, OpenTelemetry's
/// wins and the Jaeger variables are not read (as the environment is not read when the flag is
/// given).
extension Environment {
    /// `OTEL_TRACES_SAMPLER` with `OTEL_TRACES_SAMPLER_ARG`, in `SamplerConfig.fromOTelEnv`'s
    /// grammar. As the specification says, the argument is used only when the sampler is set
    /// (alone it is ignored), and only by the ratio samplers.
    func otelSampler() throws(ConfigError) -> SamplerConfig? {
        guard let name = self["OTEL_TRACES_SAMPLER"] else { return nil }
        let arg = self["OTEL_TRACES_SAMPLER_ARG"]
        do {
            return try SamplerConfig.fromOTelEnv(sampler: name, arg: arg)
        } catch {
            if error.inArgument {
                throw ConfigError(invalid: arg ?? "", for: "OTEL_TRACES_SAMPLER_ARG", error.reason)
            }
            throw ConfigError(invalid: name, for: "OTEL_TRACES_SAMPLER", error.reason)
        }
    }
}
