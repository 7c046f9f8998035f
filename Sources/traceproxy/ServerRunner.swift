import Dispatch
import Logging
import Proxy
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a server until a signal ends it, and is the only place that ends the process: 0 after a
/// graceful drain, 1 when start-up fails (the reason on stderr) or on a second Ctrl-C.
enum ServerRunner {
    static func run(_ config: ProxyConfig, reread: @escaping @Sendable () throws(ConfigError) -> ProxyConfig) -> Never {
        let server: ProxyServer
        do {
            server = try ProxyServer(config: config, logger: Logger(label: "traceproxy"))
        } catch {
            Launcher.writeError("traceproxy: \(error)\n")
            exit(1)
        }
        // The handlers exist before the listeners do: a SIGTERM while `start` runs (the listeners
        // already serve) is held and acted on once `start` returns, instead of killing the
        // process undrained. SIG_IGN first so the default action cannot kill us before a source
        // exists.
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            src.setEventHandler {
                if started.load(ordering: .acquiring) {
                    signalled(sig, server)
                } else {
                    pending.store(sig, ordering: .releasing)
                }
            }
            src.resume()
            return src
        }
        do {
            try server.start()
        } catch {
            Launcher.writeError("traceproxy: \(error)\n")
            exit(1)
        }
        // SIGHUP reloads (Reloader) instead of ending the process, which is what its default
        // action would do. The reload runs off the main queue, so SIGTERM is still heard.
        signal(SIGHUP, SIG_IGN)
        let reloads = DispatchQueue(label: "traceproxy.reload")
        let reloader = Reloader(server: server, running: server.config, reread: reread)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .main)
        hangup.setEventHandler {
            reloads.async { reloader.reload() }
        }
        hangup.resume()
        DispatchQueue.main.async {
            started.store(true, ordering: .releasing)
            let sig = pending.load(ordering: .acquiring)
            if sig != 0 { signalled(sig, server) }
        }
        withExtendedLifetime((sources, hangup)) { dispatchMain() }
    }

    /// Set on the main queue once `start` has returned; signals before it wait in `pending`.
    private static let started = Atomic<Bool>(false)
    private static let pending = Atomic<Int32>(0)

    private static let draining = Atomic<Bool>(false)

    private static func signalled(_ sig: Int32, _ server: ProxyServer) {
        if draining.exchange(true, ordering: .relaxed) {
            // Orchestrators (and the acceptance harness) repeat SIGTERM while waiting: keep
            // draining. A second Ctrl-C is a person who does not want to wait.
            if sig == SIGINT {
                Launcher.writeError("traceproxy: second interrupt, exiting without draining\n")
                exit(1)
            }
            return
        }
        Launcher.writeError("traceproxy: \(sig == SIGTERM ? "SIGTERM" : "SIGINT"), draining\n")
        // Off the main queue, so a second signal is still heard while the drain runs.
        DispatchQueue.global().async {
            server.shutdown()
            Launcher.writeError("traceproxy: stopped\n")
            exit(0)
        }
    }
}
