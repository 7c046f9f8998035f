import Propagation
import Reactor
import Reporters
import Spans

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The environment variables traceproxy honours, read once at start-up. Flags always win.
///
/// The names are the ones Jaeger clients (`JAEGER_*`, jaeger-client-go `config/config_env.go`) and
/// OpenTelemetry SDKs (`OTEL_*`, "SDK Environment Variables" spec) already read, so a sidecar
/// dropped next to an instrumented app picks up the same service name, agent and sampler.
/// An empty variable counts as unset, the way both families of clients treat it.
struct Environment {
    var values: [String: String]

    init(_ values: [String: String]) { self.values = values }

    /// The process environment, from `environ`.
    static func current() -> Environment {
        var values: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                values[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return Environment(values)
    }

    subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (`resource`), then
    /// `JAEGER_SERVICE_NAME`.
    func serviceName(resource: [Tag]) -> String? {
        if let name = self["OTEL_SERVICE_NAME"] { return name }
        for tag in resource where tag.key == "service.name" {
            if case .string(let name) = tag.value, !name.isEmpty { return name }
        }
        return self["JAEGER_SERVICE_NAME"]
    }

    /// `JAEGER_AGENT_HOST` / `JAEGER_AGENT_PORT` as a `jaeger-udp://` reporter; nil when neither is
    /// set. The host defaults to 127.0.0.1 and the port to 6831 (the agent's compact-Thrift port).
    func jaegerAgentReporter() throws(ConfigError) -> ReporterTarget? {
        let host = self["JAEGER_AGENT_HOST"]
        let port = self["JAEGER_AGENT_PORT"]
        guard host != nil || port != nil else { return nil }
        if let port, HostPortSyntax.port(Substring(port)) == nil {
            throw ConfigError(invalid: port, for: "JAEGER_AGENT_PORT", "expected a port from 1 to 65535")
        }
        var hostText = host ?? "127.0.0.1"
        if hostText.contains(":") && !hostText.hasPrefix("[") { hostText = "[\(hostText)]" }
        let url = "jaeger-udp://\(hostText):\(port ?? "6831")"
        do {
            return try ReporterTarget.parse(url)
        } catch {
            throw ConfigError(
                invalid: host ?? "", for: "JAEGER_AGENT_HOST", "expected a host name or IP address")
        }
    }

    /// `JAEGER_SAMPLER_TYPE` with `JAEGER_SAMPLER_PARAM`, in `SamplerConfig.fromJaegerEnv`'s grammar.
    func sampler() throws(ConfigError) -> SamplerConfig? {
        let type = self["JAEGER_SAMPLER_TYPE"]
        let param = self["JAEGER_SAMPLER_PARAM"]
        guard let type else {
            if let param {
                throw ConfigError(
                    invalid: param, for: "JAEGER_SAMPLER_PARAM", "set JAEGER_SAMPLER_TYPE as well")
            }
            return nil
        }
        do {
            return try SamplerConfig.fromJaegerEnv(type: type, param: param ?? "")
        } catch {
            switch error.part {
            case .jaegerParam where param == nil:
                throw ConfigError(message: "JAEGER_SAMPLER_TYPE=\(type) needs JAEGER_SAMPLER_PARAM")
            case .jaegerParam: throw ConfigError(invalid: param ?? "", for: "JAEGER_SAMPLER_PARAM", error.reason)
            case .jaegerType, .spec: throw ConfigError(invalid: type, for: "JAEGER_SAMPLER_TYPE", error.reason)
            }
        }
    }

    /// `OTEL_PROPAGATORS`.
    func propagation() throws(ConfigError) -> [PropagationFormat]? {
        guard let text = self["OTEL_PROPAGATORS"] else { return nil }
        do {
            return try Propagator.parseOTelPropagators(text)
        } catch {
            throw ConfigError(invalid: text, for: "OTEL_PROPAGATORS", error.description)
        }
    }
}
