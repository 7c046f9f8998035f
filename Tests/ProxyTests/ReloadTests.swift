import Foundation
import Spans
import Stats
import TestSupport
import XCTest

@testable import Proxy

#if canImport(Glibc)
    import Glibc
#endif

/// `ProxyServer.reload` (what SIGHUP calls) on a running proxy with a real upstream and real
/// Zipkin collectors: what changes for new requests, what waits for a restart, and that a bad
/// configuration leaves the running one alone.
final class ReloadTests: XCTestCase {
    private var upstream: TestUpstream!
    private var collectors: [HTTPCollector] = []

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
        for c in collectors { c.stop() }
    }

    private func collector() throws -> HTTPCollector {
        let c = try HTTPCollector()
        collectors.append(c)
        return c
    }

    private func get(_ proxy: RunningProxy, _ path: String) throws -> Int {
        try proxy.client().roundTrip(httpRequest("GET", path), timeout: 10).status
    }

    func test_sampler_and_routes_changeForNewRequests() throws {
        let collector = try collector()
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector)
        XCTAssertEqual(try get(proxy, "/users/7/a"), 200)
        XCTAssertNotNil(Hardening.span(path: "/users/7/a", in: collector))

        var next = proxy.server.config
        next.routes = try RouteTable(["/users/{id}/a"])
        _ = try proxy.server.reload(next)
        XCTAssertEqual(try get(proxy, "/users/8/a"), 200)
        let renamed = Hardening.span(path: "/users/8/a", in: collector)
        XCTAssertEqual(renamed?["name"] as? String, "GET /users/{id}/a")

        next.sampler = .const(false)
        let outcome = try proxy.server.reload(next)
        XCTAssertEqual(outcome.needsRestart, [])
        XCTAssertEqual(try get(proxy, "/after-off"), 200)
        XCTAssertEqual(try get(proxy, "/users/9/a"), 200)
        // The /users/9/a span would have arrived by now had it been sampled: flush to be sure.
        proxy.server.shared.pipeline.shutdown(timeoutMs: 3000)
        XCTAssertNil(Hardening.span(path: "/after-off", in: collector, timeout: 0.2))
    }

    func test_reporterEndpointChange_sendsNewSpansToTheNewCollector_andDeliversTheOldOnes() throws {
        let first = try collector()
        let second = try collector()
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: first) {
            $0.flushIntervalMs = 60_000  // nothing leaves before the reload: the old lane must deliver it
        }
        XCTAssertEqual(try get(proxy, "/before"), 200)
        var next = proxy.server.config
        next.reporters = [reporterTarget(second.url())]
        next.flushIntervalMs = 100
        _ = try proxy.server.reload(next)
        XCTAssertNotNil(Hardening.span(path: "/before", in: first, timeout: 5), "span queued before the reload")
        XCTAssertEqual(try get(proxy, "/after"), 200)
        XCTAssertNotNil(Hardening.span(path: "/after", in: second, timeout: 5))
        XCTAssertNil(Hardening.span(path: "/after", in: first, timeout: 0.2))
        XCTAssertNil(Hardening.span(path: "/before", in: second, timeout: 0.2))
    }

    func test_restartOnlySettings_areReportedAndKept() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let before = proxy.server.config
        var next = before
        next.listen = HostPort(host: "127.0.0.1", port: 1)
        next.threads = before.threads + 3
        next.upstream = HostPort(host: "127.0.0.1", port: 2)
        next.maxConnections = 5
        next.idleTimeoutMs = 1234
        let outcome = try proxy.server.reload(next)
        XCTAssertEqual(outcome.needsRestart, ["listen", "threads", "upstream", "max-connections"])
        XCTAssertEqual(outcome.applied.listen, before.listen)
        XCTAssertEqual(outcome.applied.upstream, before.upstream)
        XCTAssertEqual(outcome.applied.idleTimeoutMs, 1234, "timeouts apply to new connections")
        XCTAssertEqual(proxy.server.config.idleTimeoutMs, 1234)
        XCTAssertEqual(try get(proxy, "/still-there"), 200)
        // threads = 0 means "one per core", which is what is running: not a change.
        next = proxy.server.config
        next.threads = 0
        XCTAssertEqual(try proxy.server.reload(next).needsRestart, [])
    }

    func test_invalidConfiguration_keepsTheRunningOne() throws {
        let collector = try collector()
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector)
        var next = proxy.server.config
        next.sampler = .const(false)
        next.accessLog = "/nonexistent-dir/access.log"
        XCTAssertThrowsError(try proxy.server.reload(next)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent-dir/access.log"), "\(error)")
        }
        XCTAssertEqual(proxy.server.config.sampler, .const(true))
        XCTAssertEqual(try get(proxy, "/kept"), 200)
        XCTAssertNotNil(Hardening.span(path: "/kept", in: collector), "the old sampler still samples")
    }

    /// A SIGHUP that arrives during the drain must not restart reporters on the way out.
    func test_reloadAfterShutdownBegan_isRefused() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let config = proxy.server.config
        proxy.server.shutdown()
        XCTAssertThrowsError(try proxy.server.reload(config)) { XCTAssertEqual("\($0)", "shutting down") }
    }

    /// logrotate renames the file, then SIGHUP: new lines go to a new file at the path.
    func test_accessLog_isReopenedAfterRename() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("access.log").path
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.accessLog = path }
        XCTAssertEqual(try get(proxy, "/one"), 200)
        XCTAssertTrue(
            waitUntil(timeout: 5) { (try? String(contentsOfFile: path, encoding: .utf8))?.contains("/one") == true })
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        _ = try proxy.server.reload(proxy.server.config)
        XCTAssertEqual(try get(proxy, "/two"), 200)
        XCTAssertTrue(
            waitUntil(timeout: 5) { (try? String(contentsOfFile: path, encoding: .utf8))?.contains("/two") == true })
        let rotated = try String(contentsOfFile: path + ".1", encoding: .utf8)
        XCTAssertTrue(rotated.contains("/one"))
        XCTAssertFalse(rotated.contains("/two"))
    }

    /// Requests keep flowing on kept-alive connections while reloads swap the loops' state.
    func test_reloadUnderLoad_failsNoRequest() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let failures = Locked(0)
        let served = Locked(0)
        let stop = Locked(false)
        let group = DispatchGroup()
        for worker in 0..<4 {
            DispatchQueue.global().async(group: group) {
                do {
                    let client = try proxy.client()
                    while !stop.withLock({ $0 }) {
                        let status = try client.roundTrip(httpRequest("GET", "/load/\(worker)"), timeout: 10).status
                        if status == 200 { served.withLock { $0 += 1 } } else { failures.withLock { $0 += 1 } }
                    }
                } catch {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        var next = proxy.server.config
        for i in 0..<20 {
            next.sampler = i % 2 == 0 ? .const(false) : .const(true)
            next.routes = try RouteTable(["/load/{n}"])
            next.idleTimeoutMs = 30_000 + i
            _ = try proxy.server.reload(next)
            let target = served.withLock { $0 } + 20
            _ = waitUntil(timeout: 5) { served.withLock { $0 } >= target }
        }
        stop.withLock { $0 = true }
        group.wait()
        XCTAssertEqual(failures.withLock { $0 }, 0)
        XCTAssertGreaterThan(served.withLock { $0 }, 400)
    }
}
