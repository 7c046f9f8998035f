import Dispatch
import Reporters

/// SIGHUP's half of the server: apply a new configuration to a running proxy.
extension ProxyServer {
    /// What a reload did.
    public struct ReloadOutcome: Sendable {
        /// The configuration now in force: the new one, except what only a restart can change.
        public var applied: ProxyConfig
        /// The settings (flag names) whose new value waits for a restart.
        public var needsRestart: [String]
    }

    /// SIGHUP with a new configuration: everything that can change while serving is applied
    /// (sampler, routes, untraced paths, captured fields, propagation, limits and timeouts for new
    /// connections, the reporters and their endpoints, the HTTPS certificate and settings, the
    /// access log, which is also reopened for logrotate). Sockets, loops and the upstream stay:
    /// those settings are reported in `needsRestart`. Everything that can fail (certificate, key,
    /// reporters, access log) is built before anything is swapped, so an error leaves the
    /// configuration in force untouched. Open connections are never dropped; requests already
    /// under way finish under the settings they started with. Not from a loop's queue.
    public func reload(_ new: ProxyConfig) throws -> ReloadOutcome {
        try reloading.withLock { _ in
            // A drain has begun: the process is on its way out, and the loops may be stopping.
            guard !shutdownState.withLock({ $0 }) else { throw StartupError("shutting down") }
            return try reloadLocked(new)
        }
    }

    private func reloadLocked(_ new: ProxyConfig) throws -> ReloadOutcome {
        let old = config
        var applied = new
        var needsRestart: [String] = []
        func keep<T: Equatable>(_ name: String, _ field: WritableKeyPath<ProxyConfig, T>) {
            if applied[keyPath: field] != old[keyPath: field] {
                needsRestart.append(name)
                applied[keyPath: field] = old[keyPath: field]
            }
        }
        keep("listen", \.listen)
        if applied.listenTLS?.address != old.listenTLS?.address {
            needsRestart.append("listen-tls")
            applied.listenTLS = old.listenTLS
        }
        keep("admin", \.admin)
        applied.adminExplicit = old.adminExplicit
        if applied.threads == 0 || applied.threads == old.threads {
            applied.threads = old.threads
        } else {
            keep("threads", \.threads)
        }
        keep("demo", \.demo)
        if applied.demo {
            applied.upstream = old.upstream
        } else {
            keep("upstream", \.upstream)
        }
        keep("upstream TLS settings", \.upstreamTLS)
        keep("max-connections", \.maxConnections)
        keep("upstream-max-idle", \.upstreamMaxIdle)
        keep("dns-refresh-ms", \.dnsRefreshMs)
        keep("trace-view", \.traceView)
        keep("trace-view-spans", \.traceViewSpans)
        keep("trace-ui-url", \.traceUIURL)

        let shared = self.shared
        // Build what can fail first. The certificate files are read again even when their paths
        // did not change: renewing a certificate in place and sending SIGHUP is the usual rotation.
        let tls = try applied.listenTLS.map(Self.listenerContext)
        let upstream = old.upstream ?? HostPort(host: "127.0.0.1", port: 0)
        let oldSetup = Self.reporterSetup(
            old, upstream: upstream, upstreamName: shared.upstreamName, names: reporterNames)
        let newSetup = Self.reporterSetup(
            applied, upstream: upstream, upstreamName: shared.upstreamName, names: reporterNames)
        let reporters = oldSetup == newSetup ? nil : try Self.reporters(newSetup, metrics: registry, view: traceView)
        var accessLog = shared.accessLog
        if applied.accessLog != old.accessLog {
            accessLog = try applied.accessLog.map(Self.openAccessLog)
        } else if let log = accessLog, let failure = log.reopen() {
            throw StartupError("cannot reopen access log \(log.path): \(failure)")
        }

        // Nothing can fail from here on.
        if let tls, let holder = listenerTLS { holder.withLock { $0 = tls } }
        let fresh = SharedState(
            config: applied, registry: registry, pipeline: shared.pipeline, upstream: upstream,
            upstreamName: shared.upstreamName, accessLog: accessLog)
        current.withLock { $0 = applied }
        currentShared.withLock { $0 = fresh }
        for (loop, ctx) in zip(loops, contexts) {
            dispatchPrecondition(condition: .notOnQueue(loop.queue))
            loop.queue.sync { ctx.replace(fresh) }
        }
        if let reporters {
            shared.pipeline.replaceReporters(reporters, limits: newSetup.limits, drainMs: 5_000)
        }
        return ReloadOutcome(applied: applied, needsRestart: needsRestart)
    }

    /// `traceproxy_config_reloads_total{result}`: a reload that failed leaves the old
    /// configuration running, which an alert should notice.
    public func countReload(ok: Bool) {
        registry.counter(
            "traceproxy_config_reloads_total", help: "SIGHUP reloads, by result.",
            labels: [("result", ok ? "ok" : "failed")]
        ).add()
    }
}
