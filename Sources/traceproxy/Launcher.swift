import ArgumentParser
import Proxy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses the command line, reports mistakes and hands a valid configuration to `ServerRunner`.
///
/// ArgumentParser's own `main()` is not used: it exits 64 on a usage error and may print the usage
/// block after the message. Here every mistake is one line on stderr, `traceproxy: ...`, and exit
/// status 2 (the shell convention for bad usage), while `--help` prints to stdout and exits 0.
enum Launcher {
    static let usageExitCode: Int32 = 2

    static func main(arguments: [String], environment: Environment) -> Never {
        let layers = ConfigLayers(commandLine: arguments, environment: environment)
        let options: TraceproxyCommand
        do {
            options = try TraceproxyCommand.parse(arguments)
        } catch {
            let code = TraceproxyCommand.exitCode(for: error)
            if code == .success {
                print(TraceproxyCommand.fullMessage(for: error))
                exit(0)
            }
            fail(firstLine(of: TraceproxyCommand.message(for: error)))
        }
        if options.version {
            print("traceproxy \(traceproxyVersion)")
            exit(0)
        }
        if options.healthcheck { healthcheck(layers) }
        let config: ProxyConfig
        do {
            config = try build(layers)
        } catch {
            fail(error.description)
        }
        if options.printConfig {
            if let path = options.config { print("config = \(path)") }
            for line in ConfigSummary.lines(config) { print(line) }
            exit(0)
        }
        LogLevelControl.bootstrap(config.logLevel)
        ServerRunner.run(config) { () throws(ConfigError) in try build(layers) }
    }

    /// The three layers (flags, environment, `--config` file) as one validated configuration; also
    /// what SIGHUP calls to read the file again.
    static func build(_ layers: ConfigLayers) throws(ConfigError) -> ProxyConfig {
        let (options, fileLines) = try layers.layered()
        do {
            return try ConfigBuilder(options: options, environment: layers.environment).build()
        } catch {
            guard let subject = error.subject, let place = fileLines[subject] else { throw error }
            var located = error
            located.description += " (config file \(place))"
            throw located
        }
    }

    /// `--healthcheck`: only the admin address matters, so a half-written configuration (no
    /// --upstream, say) still lets the probe run.
    private static func healthcheck(_ layers: ConfigLayers) -> Never {
        var admin = ProxyConfig().admin
        do {
            if let text = try layers.options().admin {
                switch text.lowercased() {
                case "off", "none": admin = nil
                default:
                    guard let address = ConfigParsing.hostPort(Substring(text)) else {
                        fail(ConfigError(invalid: text, for: "--admin", ConfigParsing.hostPortExpectation).description)
                    }
                    admin = address
                }
            }
        } catch {
            fail(error.description)
        }
        guard let admin else {
            writeError("traceproxy: --healthcheck: the admin listener is off, so there is nothing to ask\n")
            exit(1)
        }
        let (url, failure) = HealthCheck.probe(admin)
        if let failure {
            writeError("traceproxy: unhealthy: \(url): \(failure)\n")
            exit(1)
        }
        print("healthy: \(url) answered 200")
        exit(0)
    }

    private static func fail(_ message: String) -> Never {
        var line = message
        if let first = line.first, first.isUppercase, line.dropFirst().first?.isLowercase == true {
            line = first.lowercased() + line.dropFirst()
        }
        writeError("traceproxy: \(line)\n")
        exit(usageExitCode)
    }

    /// ArgumentParser messages can carry a second line (a usage hint); one line is the contract.
    static func firstLine(of message: String) -> String {
        let line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? message
        return line.hasPrefix("Error: ") ? String(line.dropFirst(7)) : line
    }

    static func writeError(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
