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
        let config: ProxyConfig
        do {
            config = try ConfigBuilder(options: options, environment: environment).build()
        } catch {
            fail(error.description)
        }
        if options.printConfig {
            for line in ConfigSummary.lines(config) { print(line) }
            exit(0)
        }
        ServerRunner.run(config)
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
    private static func firstLine(of message: String) -> String {
        let line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? message
        return line.hasPrefix("Error: ") ? String(line.dropFirst(7)) : line
    }

    static func writeError(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
