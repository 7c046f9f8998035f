import Dispatch
import HTTP1
import Logging
import Reactor
import Reporters
import Spans
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// Entry point the command line calls with a validated configuration.
public enum ProxyMain {
    /// Starts the loops, listeners and reporters, then parks the main thread in `dispatchMain`.
    /// Exits the process itself: 0 after a graceful drain, 1 when start-up fails (the reason on stderr).
    public static func run(_ config: ProxyConfig) -> Never {
        let logger = Logger(label: "traceproxy")
        do {
            let server = try ProxyServer(config: config, logger: logger)
            try server.start()
            ProxyServer.current = server
        } catch {
            printError("traceproxy: \(error)\n")
            exit(1)
        }
        dispatchMain()
    }
}

struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Owns the loops, listeners, the span pipeline and the process lifecycle (signals and drain).
final class ProxyServer: @unchecked Sendable {
    nonisolated(unsafe) static var current: ProxyServer?

    let config: ProxyConfig
    let logger: Logger
    let registry = MetricsRegistry()
    var loops: [EventLoop] = []
    var contexts: [LoopContext] = []
    var listeners: [Listener] = []
    var adminListener: Listener?
    var demoListener: Listener?
    var demoTimer: DispatchSourceTimer?
    var signalSources: [DispatchSourceSignal] = []
    var shuttingDown = false
    let shared: SharedState

    init(config: ProxyConfig, logger: Logger) throws {
        var config = config
        self.logger = logger
        // Resolve and build everything that can fail before any socket is bound.
        let loopCount = config.threads > 0 ? config.threads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        config.threads = loopCount
        for i in 0..<loopCount { loops.append(try EventLoop(index: i)) }
        var upstream = config.upstream ?? HostPort(host: "127.0.0.1", port: 0)
        var demoFD: Int32 = -1
        if config.demo && config.upstream == nil {
            let addr = try SocketAddress.resolve(host: "127.0.0.1", port: 0)
            demoFD = try Socket.listen(addr, reusePort: false)
            upstream = HostPort(host: "127.0.0.1", port: Socket.localAddress(demoFD).hostAndPort.port)
            config.upstream = upstream
            if config.reporters.isEmpty { config.reporters = ["stdout"] }
        }
        let upstreamAddress = try SocketAddress.resolve(host: upstream.host, port: upstream.port)
        var hostname = [CChar](repeating: 0, count: 256)
        gethostname(&hostname, 255)
        let process = ServiceProcess(
            serviceName: config.serviceName,
            tags: [
                Tag("hostname", .string(hostname.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })),
                Tag("traceproxy.version", .string(traceproxyVersion)),
            ],
            spanFacts: SpanFacts(
                upstreamAddress: upstreamAddress.description, upstreamHost: upstream.description,
                collapsePathIDs: config.collapsePathIDs))
        let options = ReporterOptions(
            process: process, maxPacketSize: config.maxPacketBytes, zipkinGzip: config.zipkinGzip)
        var reporters: [any SpanReporter] = []
        for url in config.reporters {
            if let r = try ReporterURL.make(url, options: options, metrics: registry) { reporters.append(r) }
        }
        let pipeline = SpanPipeline(
            reporters: reporters, maxBatchSpans: config.maxBatchSpans, maxQueueSpans: config.maxQueueSpans,
            flushIntervalMs: config.flushIntervalMs, metrics: registry)
        var accessLog: AccessLogWriter?
        if let path = config.accessLog {
            guard let w = AccessLogWriter(path: path) else {
                throw StartupError("cannot open access log \(path): \(String(cString: strerror(errno)))")
            }
            accessLog = w
        }
        self.config = config
        shared = SharedState(
            config: config, registry: registry, pipeline: pipeline, upstream: upstream,
            upstreamAddress: upstreamAddress, accessLog: accessLog)
        contexts = loops.map { LoopContext(loop: $0, shared: shared) }
        if demoFD >= 0 {
            let loop = loops[0]
            let fd = demoFD
            try loop.queue.sync {
                demoListener = try Listener(fd: fd, loop: loop) { c, _ in
                    let conn = DemoUpstreamConnection(fd: c, loop: loop)
                    do { try loop.register(c, handler: conn, readable: true, writable: false) } catch {
                        loop.closeDescriptor(c)
                    }
                }
            }
        }
    }

    func start() throws {
        // Signals: SIG_IGN first so the default action cannot kill us before the source exists.
        signal(SIGPIPE, SIG_IGN)
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            src.setEventHandler { [unowned self] in self.signalled(sig) }
            src.resume()
            signalSources.append(src)
        }
        shared.pipeline.start()
        let listenAddr = try SocketAddress.resolve(host: config.listen.host, port: config.listen.port)
        var boundAddr = listenAddr
        for (i, ctx) in contexts.enumerated() {
            let fd = try Socket.listen(boundAddr, reusePort: true)
            if i == 0 { boundAddr = Socket.localAddress(fd) }
            let listener = try ctx.loop.queue.sync { () throws -> Listener in
                let l = try Listener(fd: fd, loop: ctx.loop) { [unowned ctx] c, peer in ctx.accept(c, peer) }
                let perLoop = max(1, config.maxConnections / contexts.count)
                l.atCapacity = { [unowned ctx] in ctx.clients.count >= perLoop }
                l.onError = { [logger] e in logger.error("accept failed, backing off: \(e)") }
                ctx.listener = l
                ctx.loop.onTick { [unowned ctx] now in ctx.tick(now) }
                return l
            }
            listeners.append(listener)
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
            if fd >= 0 {
                adminListener = try loop.queue.sync {
                    try Listener(fd: fd, loop: loop) { c, _ in
                        let conn = AdminConnection(fd: c, loop: loop, registry: registry)
                        do { try loop.register(c, handler: conn, readable: true, writable: false) } catch {
                            loop.closeDescriptor(c)
                        }
                    }
                }
            }
        }
        if config.demo {
            demoTimer = DemoTraffic.start(proxy: boundAddr)
        }
        let reporters = config.reporters.isEmpty ? "none" : config.reporters.joined(separator: ", ")
        printError(
            "traceproxy \(traceproxyVersion): listening on \(boundAddr) -> upstream \(shared.upstreamDescription)"
                + " (\(loops.count) loops), admin \(config.admin?.description ?? "off"), reporters: \(reporters)")
    }

    private func signalled(_ sig: Int32) {
        if shuttingDown {
            // Orchestrators (and the acceptance harness) repeat SIGTERM while waiting: keep draining.
            // A second Ctrl-C is a person who does not want to wait.
            if sig == SIGINT {
                printError("traceproxy: second interrupt, exiting without draining")
                exit(1)
            }
            return
        }
        shuttingDown = true
        printError("traceproxy: \(sig == SIGTERM ? "SIGTERM" : "SIGINT"), draining\n")
        demoTimer?.cancel()
        let deadline = Clock.monotonicMs() + Int64(config.drainTimeoutMs)
        for ctx in contexts {
            ctx.loop.queue.sync { ctx.beginDrain() }
        }
        if let admin = adminListener { loops[0].queue.sync { admin.close() } }
        waitForDrain(deadline: deadline)
    }

    /// Polls the loops until every client connection is gone or the drain deadline passes, then
    /// flushes spans and exits.
    private func waitForDrain(deadline: Int64) {
        var open = 0
        for ctx in contexts { open += ctx.loop.queue.sync { ctx.clients.count } }
        if open > 0 && Clock.monotonicMs() < deadline {
            DispatchQueue.main.asyncAfter(deadline: .now() + .milliseconds(20)) { [unowned self] in
                self.waitForDrain(deadline: deadline)
            }
            return
        }
        for ctx in contexts {
            ctx.loop.queue.sync { ctx.finalClose() }
        }
        let remaining = max(2000, Int(deadline - Clock.monotonicMs()))
        shared.pipeline.shutdown(timeoutMs: min(remaining, 8000))
        printError("traceproxy: stopped\n")
        exit(0)
    }
}

let traceproxyVersion = "0.1.0"
