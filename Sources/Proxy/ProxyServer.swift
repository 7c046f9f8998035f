import Dispatch
import HTTP1
import Logging
import Reactor
import Reporters
import Spans
import Stats
import TLS
import TraceView

#if canImport(Glibc)
    import Glibc
#endif

struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Owns the loops, listeners, the span pipeline and the drain. It never ends the process: `main`
/// decides that, after `shutdown()` returns, so tests can start and stop a server in-process.
///
/// `@unchecked Sendable`: the stored properties are set before `start()` returns and then only
/// read, except through the loops' queues (`queue.sync`), which serialise access to each loop's part.
public final class ProxyServer: @unchecked Sendable {
    /// The configuration in force; `reload` replaces it.
    let current: Locked<ProxyConfig>
    public var config: ProxyConfig { current.withLock { $0 } }
    let logger: Logger
    let registry = MetricsRegistry()
    /// The loops' shared state as of the last reload (each loop holds its own reference).
    let currentShared: Locked<SharedState>
    var shared: SharedState { currentShared.withLock { $0 } }
    /// One reload at a time (SIGHUPs in quick succession queue up).
    let reloading = Locked(())
    /// Keeps collectors' names resolved; reporters rebuilt by a reload share it.
    let reporterNames: NameWatch
    let loops: [EventLoop]
    let contexts: [LoopContext]
    /// The plain-HTTP listeners, one per loop (none with `--listen off`).
    private(set) var listeners: [Listener] = []
    /// The HTTPS listeners, one per loop.
    private(set) var tlsListeners: [Listener] = []
    /// The HTTPS listener's context. SIGHUP swaps it: new connections take the current one, open
    /// ones keep the one they were accepted with.
    let listenerTLS: Locked<TLSContext>?
    private(set) var adminListener: Listener?
    /// The page at /traces and its API (`--trace-view`), nil when off.
    let traceView: TraceView?
    private var demoListener: Listener?
    private var demoTimer: DispatchSourceTimer?
    let shutdownState = Locked(false)

    /// `resolver` replaces getaddrinfo for the upstream's and collectors' names (tests).
    public init(config: ProxyConfig, logger: Logger, resolver: ResolvedName.Resolver? = nil) throws {
        var config = config
        self.logger = logger
        // Resolve and build everything that can fail before any socket is bound.
        let loopCount = config.threads > 0 ? config.threads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        config.threads = loopCount
        var loops: [EventLoop] = []
        for i in 0..<loopCount { loops.append(try EventLoop(index: i)) }
        var upstream = config.upstream ?? HostPort(host: "127.0.0.1", port: 0)
        var demoFD: Int32 = -1
        if config.demo && config.upstream == nil {
            let addr = try SocketAddress.resolve(host: "127.0.0.1", port: 0)
            demoFD = try Socket.listen(addr, reusePort: false)
            upstream = HostPort(host: "127.0.0.1", port: Socket.localAddress(demoFD).hostAndPort.port)
            config.upstream = upstream
        }
        // A name that does not resolve yet is retried in the background, not fatal (issue 11).
        let names = NameRefreshSettings(
            policy: .init(refreshMs: Int64(config.dnsRefreshMs)), resolver: resolver)
        let upstreamName = NameWatch(target: "upstream", settings: names, metrics: registry, logger: logger)
            .resolve(host: upstream.host, port: upstream.port)
        reporterNames = NameWatch(target: "reporter", settings: names, metrics: registry, logger: logger)
        // Certificates and keys are read now: a bad file is a start-up error, not a failed handshake.
        listenerTLS = try config.listenTLS.map { Locked(try Self.listenerContext($0)) }
        var upstreamTLS: TLSContext?
        if let tls = config.upstreamTLS {
            do {
                upstreamTLS = try TLSContext(tls.configuration(host: upstream.host))
            } catch {
                throw StartupError("https upstream: \(error.message)")
            }
            if tls.insecure {
                printError("traceproxy: warning: --upstream-insecure: the upstream's certificate is not verified")
            }
        }
        let setup = Self.reporterSetup(config, upstream: upstream, upstreamName: upstreamName, names: reporterNames)
        // The trace view is one more reporter lane, so the request path hands spans over once.
        traceView =
            config.traceView && config.admin != nil
            ? TraceView(
                options: .init(spans: config.traceViewSpans, uiURLTemplate: config.traceUIURL), metrics: registry)
            : nil
        let pipeline = SpanPipeline(
            reporters: try Self.reporters(setup, metrics: registry, view: traceView), limits: setup.limits,
            metrics: registry)
        let accessLog = try config.accessLog.map(Self.openAccessLog)
        current = Locked(config)
        self.loops = loops
        let shared = SharedState(
            config: config, registry: registry, pipeline: pipeline, upstream: upstream,
            upstreamName: upstreamName, accessLog: accessLog)
        currentShared = Locked(shared)
        registry.counter(
            "traceproxy_build_info", help: "Always 1; the labels say which traceproxy this is.", kind: .gauge,
            labels: [("version", traceproxyVersion)]
        ).set(1)
        let time = SystemTime()
        contexts = try loops.map { loop in
            let socket = SocketConnector(name: upstreamName, loop: loop)
            var connector: TransportConnector = socket
            if let upstreamTLS {
                do throws(TLSError) {
                    connector = try TLSConnector(inner: socket, context: upstreamTLS, scheduler: loop)
                } catch {
                    throw StartupError("https upstream: \(error.message)")
                }
            }
            return LoopContext(
                shared: shared, buffers: loop.buffers, time: time, connector: connector, spanSink: pipeline)
        }
        if demoFD >= 0 {
            let loop = loops[0]
            let fd = demoFD
            demoListener = try loop.queue.sync {
                try Listener(fd: fd, loop: loop) { c, _ in
                    let conn = DemoUpstreamConnection(fd: c, loop: loop)
                    do { try loop.register(c, handler: conn, readable: true, writable: false) } catch {
                        loop.closeDescriptor(c)
                    }
                }
            }
        }
    }

    static func listenerContext(_ listener: ListenerTLS) throws -> TLSContext {
        do {
            return try TLSContext(listener.configuration)
        } catch {
            throw StartupError("HTTPS listener (--tls-cert, --tls-key): \(error.message)")
        }
    }

    static func openAccessLog(_ path: String) throws -> AccessLogWriter {
        guard let w = AccessLogWriter(path: path) else {
            throw StartupError("cannot open access log \(path): \(String(cString: strerror(errno)))")
        }
        return w
    }

    /// Everything the reporters are built from, so a reload can tell whether they must be rebuilt.
    struct ReporterSetup: Equatable {
        var targets: [ReporterTarget]
        var options: ReporterOptions
        var limits: SpanPipeline.Limits
    }

    static func reporterSetup(
        _ config: ProxyConfig, upstream: HostPort, upstreamName: ResolvedName, names: NameWatch
    ) -> ReporterSetup {
        var hostname = [CChar](repeating: 0, count: 256)
        gethostname(&hostname, 255)
        var process = ServiceProcess(
            serviceName: config.serviceName,
            tags: [
                Tag("hostname", .string(hostname.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })),
                Tag("traceproxy.version", .string(traceproxyVersion)),
            ],
            spanFacts: SpanFacts(
                upstreamAddress: upstreamName.address?.description ?? upstreamName.name,
                upstreamHost: upstream.description,
                collapsePathIDs: config.collapsePathIDs, trustForwarded: config.trustForwarded,
                attributeNames: config.attributeNames, routes: config.routes,
                capturedRequestHeaders: config.captureRequestHeaders, redactQuery: config.redactQuery))
        process.spanFacts.recordRequestID = config.requestID != .off
        return ReporterSetup(
            targets: config.reporters,
            options: ReporterOptions(
                process: process, maxPacketSize: config.maxPacketBytes, zipkinGzip: config.zipkinGzip,
                collectorTLS: config.collectorTLS.configuration(host: nil), otlp: config.otlp, names: names),
            limits: SpanPipeline.Limits(
                maxBatchSpans: config.maxBatchSpans, maxQueueSpans: config.maxQueueSpans,
                flushIntervalMs: config.flushIntervalMs))
    }

    /// The configured reporters, and the trace view's lane when the page is on.
    static func reporters(_ setup: ReporterSetup, metrics: MetricsRegistry, view: TraceView?) throws
        -> [any SpanReporter]
    {
        var reporters: [any SpanReporter] = try setup.targets.map {
            try ReporterURL.make($0, options: setup.options, metrics: metrics)
        }
        if let view { reporters.append(TraceViewReporter(view: view, process: setup.options.process)) }
        return reporters
    }

    /// Binds the listeners and starts the reporters. Returns once the proxy serves.
    public func start() throws {
        // Writes use MSG_NOSIGNAL; this covers any other write to a closed peer.
        signal(SIGPIPE, SIG_IGN)
        let config = self.config
        let shared = self.shared
        shared.pipeline.start()
        var bound: [String] = []
        if let listen = config.listen {
            let address = try bindListeners(listen, tls: nil, into: &listeners)
            bound.append("\(address)")
        }
        if let tls = config.listenTLS, let holder = listenerTLS {
            let address = try bindListeners(tls.address, tls: holder, into: &tlsListeners)
            bound.append("https://\(address)")
        }
        let boundAddr = listeners.first.map { Socket.localAddress($0.fd) }
        for (i, (loop, ctx)) in zip(loops, contexts).enumerated() {
            let own = [listeners, tlsListeners].compactMap { $0.indices.contains(i) ? $0[i] : nil }
            loop.queue.sync {
                ctx.onConnectionClosed = { for l in own { l.resumeIfPaused() } }
                loop.onTick { [unowned ctx] now in ctx.tick(now) }
            }
        }
        if let admin = config.admin {
            let addr = try SocketAddress.resolve(host: admin.host, port: admin.port)
            var fd: Int32 = -1
            do {
                fd = try Socket.listen(addr, reusePort: false)
            } catch {
                if config.adminExplicit { throw error }
                printError(
                    "traceproxy: warning: admin listener disabled: \(error) (set --admin HOST:PORT or --admin off)")
            }
            let loop = loops[0]
            let registry = self.registry
            let view = traceView
            if fd >= 0 {
                adminListener = try loop.queue.sync {
                    try Listener(fd: fd, loop: loop) { c, _ in
                        let conn = AdminConnection(fd: c, loop: loop, registry: registry, traceView: view)
                        do { try loop.register(c, handler: conn, readable: true, writable: false) } catch {
                            loop.closeDescriptor(c)
                        }
                    }
                }
            }
        }
        if config.demo, let boundAddr {
            demoTimer = DemoTraffic.start(proxy: boundAddr)
        }
        let adminText = adminListener.flatMap { _ in config.admin?.description } ?? "off"
        let reporters = config.reporters.isEmpty ? "none" : config.reporters.map(\.description).joined(separator: ", ")
        let upstreamText = (config.upstreamTLS == nil ? "" : "https://") + shared.upstreamDescription
        printError(
            "traceproxy \(traceproxyVersion): listening on \(bound.joined(separator: " and ")) -> upstream \(upstreamText)"
                + " (\(loops.count) loops), admin \(adminText), reporters: \(reporters)")
        if traceView != nil, let admin = adminListener {
            printError("traceproxy: trace view at http://\(Socket.localAddress(admin.fd))/traces")
        }
    }

    /// One listener per loop on `address` (SO_REUSEPORT spreads the connections), plain or, with
    /// `tls`, HTTPS. Returns the bound address (the port chosen for `:0`).
    private func bindListeners(
        _ address: HostPort, tls: Locked<TLSContext>?, into list: inout [Listener]
    ) throws -> SocketAddress {
        var bound = try SocketAddress.resolve(host: address.host, port: address.port)
        let perLoop = max(1, config.maxConnections / contexts.count)
        for (i, (loop, ctx)) in zip(loops, contexts).enumerated() {
            let fd = try Socket.listen(bound, reusePort: true)
            if i == 0 { bound = Socket.localAddress(fd) }
            let listener = try loop.queue.sync { () throws -> Listener in
                let l = try Listener(fd: fd, loop: loop) { [unowned ctx] c, address in
                    Socket.setNoDelay(c)
                    let peer = ClientPeer(address)
                    guard let tls else {
                        ctx.adopt(SocketTransport(fd: c, loop: loop), peer: peer)
                        return
                    }
                    do throws(TLSError) {
                        let context = tls.withLock { $0 }
                        ctx.adopt(try TLSTransport.accepted(fd: c, loop: loop, context: context), peer: peer)
                    } catch {
                        Glibc.close(c)
                        ctx.countHandshakeFailure(reason: error.reason.rawValue, message: error.message, peer: peer)
                    }
                }
                // Both listeners of a loop count the same connections.
                l.atCapacity = { [unowned ctx] in ctx.clients.count >= perLoop }
                l.onError = { [logger] e in logger.error("accept failed, backing off: \(e)") }
                return l
            }
            list.append(listener)
        }
        return bound
    }

    /// The port the plain listener is bound to (the one to use after `--listen HOST:0`), or the
    /// HTTPS one's with `--listen off`.
    public var listenPort: UInt16 { Socket.localAddress((listeners.first ?? tlsListeners[0]).fd).hostAndPort.port }

    /// The HTTPS listener's port, if there is one.
    public var tlsListenPort: UInt16? { tlsListeners.first.map { Socket.localAddress($0.fd).hostAndPort.port } }

    /// Drains and stops: stops accepting (what is already in the kernel's queue is served), closes
    /// idle connections, lets requests in flight finish within `--drain-timeout-ms`, answers or cuts
    /// and records what is left, delivers the queued spans, and stops the loops. Blocks until done;
    /// a second call returns at once. Not from a loop's queue (it waits on them).
    public func shutdown() {
        let first = shutdownState.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        demoTimer?.cancel()
        let deadline = Clock.monotonicMs() + Int64(config.drainTimeoutMs)
        for (i, (loop, ctx)) in zip(loops, contexts).enumerated() {
            dispatchPrecondition(condition: .notOnQueue(loop.queue))
            let own = [listeners, tlsListeners].compactMap { $0.indices.contains(i) ? $0[i] : nil }
            loop.queue.sync {
                // Connections the kernel already accepted were made before the signal: serve them.
                for l in own { l.acceptBacklog() }
                ctx.beginDrain()
                for l in own { l.close() }
            }
        }
        if let admin = adminListener { loops[0].queue.sync { admin.close() } }
        while Clock.monotonicMs() < deadline {
            var open = 0
            for (loop, ctx) in zip(loops, contexts) { open += loop.queue.sync { ctx.clients.count } }
            if open == 0 { break }
            usleep(20_000)
        }
        for (loop, ctx) in zip(loops, contexts) { loop.queue.sync { ctx.finalClose() } }
        let remaining = max(2000, Int(deadline - Clock.monotonicMs()))
        shared.pipeline.shutdown(timeoutMs: min(remaining, 8000))
        if let demo = demoListener { loops[0].queue.sync { demo.close() } }
        shared.upstreamName.stop()
        for loop in loops { loop.queue.sync { loop.stop() } }
    }
}
