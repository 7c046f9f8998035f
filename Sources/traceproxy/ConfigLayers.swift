import ConfigFile
import Proxy

/// Merges the three sources of settings with the precedence flags > environment > file.
///
/// The file's entries are turned into the command-line arguments they stand for and checked by
/// the command's own parser, so a key is valid in the file exactly when it is a flag, and its
/// value goes through the same grammar (`ConfigBuilder`). An entry is left out when the same
/// setting was given as a flag, or when an environment variable that sets it is present; the
/// remaining entries go in front of the command line, and `ConfigBuilder` does the rest.
struct ConfigLayers {
    /// The command line as typed, without the program name.
    var commandLine: [String]
    var environment: Environment

    /// Flags that act on the invocation itself, not on the proxy: meaningless in a file.
    static let commandOnly: Set<String> = ["config", "print-config", "healthcheck", "version", "help"]

    /// The options that may be given more than once, so a list in the file.
    static let repeatable: Set<String> = [
        "reporter", "route", "no-trace-path", "capture-request-header", "capture-response-header", "otlp-header",
    ]

    /// The environment variables that set each file key's setting (besides the key's own flag).
    static let variables: [String: [String]] = [
        "service-name": ["OTEL_SERVICE_NAME", "JAEGER_SERVICE_NAME"],
        "sampler": ["OTEL_TRACES_SAMPLER", "JAEGER_SAMPLER_TYPE"],
        "propagation": ["OTEL_PROPAGATORS"],
        "reporter": [
            "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "JAEGER_AGENT_HOST", "JAEGER_AGENT_PORT", "OTEL_SDK_DISABLED",
        ],
        "span-attributes": ["OTEL_SEMCONV_STABILITY_OPT_IN"],
        "otlp-protocol": ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
        "otlp-compression": ["OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"],
        "otlp-header": ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"],
        "otlp-timeout-ms": ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"],
        "collector-ca": ["OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"],
        "collector-cert": ["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"],
        "collector-key": ["OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"],
    ]

    /// Parses the command line, and with `--config`, the file under it.
    func options() throws(ConfigError) -> TraceproxyCommand { try layered().options }

    /// The merged options, and for each setting taken from the file, where it is (`path:line`),
    /// so that a value the builder refuses is reported at its line.
    func layered() throws(ConfigError) -> (options: TraceproxyCommand, fileLines: [String: String]) {
        let flags = try Self.parse(commandLine)
        guard let path = flags.config, !flags.version else { return (flags, [:]) }
        let entries: [ConfigFileEntry]
        do {
            entries = try ConfigFile.load(path: path)
        } catch {
            throw ConfigError(message: "config file \(error.description)")
        }
        var fromFile: [String] = []
        var lines: [String: String] = [:]
        for entry in entries {
            let arguments = try Self.arguments(for: entry, path: path)
            if isFlag(entry.key) || overridingVariable(entry.key) != nil { continue }
            fromFile += arguments
            lines["--\(entry.key)"] = "\(path):\(entry.line)"
        }
        return (try Self.parse(fromFile + commandLine), lines)
    }

    /// The arguments one entry stands for: `--key value` per value, or `--key` for a switch set
    /// to true (nothing for false).
    static func arguments(for entry: ConfigFileEntry, path: String) throws(ConfigError) -> [String] {
        func fail(_ message: String) -> ConfigError {
            ConfigError(message: "config file \(path):\(entry.line): \(message)")
        }
        let key = entry.key
        guard !commandOnly.contains(key) else { throw fail("\(key) belongs on the command line, not in the file") }
        guard !key.isEmpty, !key.hasPrefix("-"), key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw fail("unknown key \"\(key)\"")
        }
        let option = "--\(key)"
        if (try? TraceproxyCommand.parse([option, "x"])) != nil {
            if entry.values.count > 1 && !repeatable.contains(key) { throw fail("\(key) takes one value, not a list") }
            if entry.values.isEmpty { throw fail("\(key) has no value") }
            return entry.values.flatMap { [option, $0] }
        }
        if (try? TraceproxyCommand.parse([option])) != nil {
            guard entry.values.count == 1 else { throw fail("\(key) is true or false") }
            switch entry.values[0].lowercased() {
            case "true", "yes", "on": return [option]
            case "false", "no", "off": return []
            default: throw fail("invalid value \"\(entry.values[0])\" for \(key): expected true or false")
            }
        }
        throw fail("unknown key \"\(key)\" (the keys are the long flag names of traceproxy --help, without --)")
    }

    /// Whether `key` was given on the command line (`--key value` or `--key=value`).
    private func isFlag(_ key: String) -> Bool {
        let option = "--\(key)"
        return commandLine.contains { $0 == option || $0.hasPrefix(option + "=") }
    }

    /// The environment variable, if one is set, that wins over the file's `key`.
    func overridingVariable(_ key: String) -> String? {
        if key == "service-name",
            (try? environment.resourceAttributes())?.contains(where: { $0.key == "service.name" }) == true
        {
            return "OTEL_RESOURCE_ATTRIBUTES"
        }
        // OTEL_SDK_DISABLED=false is the SDKs' default spelled out: it configures nothing.
        return Self.variables[key]?.first {
            environment[$0] != nil && ($0 != "OTEL_SDK_DISABLED" || environment.sdkDisabled)
        }
    }

    private static func parse(_ arguments: [String]) throws(ConfigError) -> TraceproxyCommand {
        do {
            return try TraceproxyCommand.parse(arguments)
        } catch {
            throw ConfigError(message: Launcher.firstLine(of: TraceproxyCommand.message(for: error)))
        }
    }
}
