import Proxy
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGHUP: reads the configuration again (flags and environment as at start-up, the `--config`
/// file as it is now), applies it, and says on stderr what changed, what waits for a restart, or
/// why the running configuration was kept. Counted in /metrics by the server.
final class Reloader: Sendable {
    private let server: ProxyServer
    private let reread: @Sendable () throws(ConfigError) -> ProxyConfig
    /// The configuration the last reload applied (what the next one's changes are reckoned from).
    private let running: Mutex<ProxyConfig>

    init(server: ProxyServer, running: ProxyConfig, reread: @escaping @Sendable () throws(ConfigError) -> ProxyConfig) {
        self.server = server
        self.running = Mutex(running)
        self.reread = reread
    }

    func reload() {
        let new: ProxyConfig
        do {
            new = try reread()
        } catch {
            server.countReload(ok: false)
            Launcher.writeError("traceproxy: SIGHUP: kept the running configuration: \(error)\n")
            return
        }
        do {
            let outcome = try server.reload(new)
            let before = running.withLock { config in
                defer { config = outcome.applied }
                return config
            }
            LogLevelControl.set(outcome.applied.logLevel)
            server.countReload(ok: true)
            let changed = Self.changes(from: before, to: outcome.applied)
            var line = "traceproxy: SIGHUP: reloaded"
            line += changed.isEmpty ? " (no setting changed)" : "; changed: \(changed.joined(separator: ", "))"
            if !outcome.needsRestart.isEmpty {
                line += "; needs restart (kept as running): \(outcome.needsRestart.joined(separator: ", "))"
            }
            Launcher.writeError(line + "\n")
        } catch {
            server.countReload(ok: false)
            Launcher.writeError("traceproxy: SIGHUP: kept the running configuration: \(error)\n")
        }
    }

    /// The `--print-config` keys whose value differs.
    static func changes(from old: ProxyConfig, to new: ProxyConfig) -> [String] {
        zip(ConfigSummary.lines(old), ConfigSummary.lines(new)).compactMap { a, b in
            a == b ? nil : String(b.prefix { $0 != " " })
        }
    }
}
