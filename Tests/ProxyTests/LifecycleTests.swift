import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// What DrainTests does not cover from the lifecycle rules: SIGTERM under load with keep-alive
/// clients, every queued span delivered, repeated SIGTERM, and a second SIGINT.
final class LifecycleTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    /// SIGTERM, then SIGTERM again (as orchestrators and the acceptance harness do): the drain
    /// continues, the slow request completes with Connection: close, every queued span reaches
    /// the collector, and the exit status is 0.
    func test_sigtermTwiceUnderLoad_slowRequestCompletes_allQueuedSpansDelivered_exit0() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let proxy = try DrainTests.ProxyProcess(
            upstreamPort: upstream.port,
            extra: [
                "--reporter", collector.url(), "--flush-interval-ms", "60000", "--max-batch-spans", "1000",
                "--drain-timeout-ms", "8000",
            ])
        XCTAssertTrue(proxy.waitReady(), "proxy did not start")
        // 40 finished requests whose spans wait in the queue (the flush interval is a minute).
        let keepAlive = try RawHTTPClient(port: proxy.port)
        for i in 0..<40 { XCTAssertEqual(try keepAlive.roundTrip(httpRequest("GET", "/q/\(i)")).status, 200) }
        let slow = try RawHTTPClient(port: proxy.port)
        try slow.send(httpRequest("GET", "/slow/1500"))
        XCTAssertTrue(waitUntil(timeout: 5) { self.upstream.headTargets.contains("/slow/1500") })
        let started = Date()
        kill(proxy.process.processIdentifier, SIGTERM)
        usleep(200_000)
        kill(proxy.process.processIdentifier, SIGTERM)
        XCTAssertTrue(proxy.process.isRunning, "a repeated SIGTERM ended the drain")
        // The idle keep-alive client is closed by the drain.
        XCTAssertTrue(keepAlive.waitForClose(timeout: 5), "idle keep-alive client not closed")
        let response = try slow.readFinalResponse(timeout: 10)
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.connectionTokens.contains("close"))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1.0)
        XCTAssertEqual(proxy.waitExit(timeout: 15), 0, "log:\n\(proxy.log)")
        let paths = Set(
            collector.requests.flatMap { spanObjects($0.body) }.compactMap {
                ($0["tags"] as? [String: String])?["http.path"]
            })
        XCTAssertEqual(paths.filter { $0.hasPrefix("/q/") }.count, 40, "queued spans lost on exit")
        XCTAssertTrue(paths.contains("/slow/1500"), "the in-flight request's span was lost")
    }

    /// A second SIGINT (Ctrl-C twice) exits at once with status 1, without waiting for the drain.
    func test_secondSigint_exitsAtOnceWithStatus1() throws {
        let proxy = try DrainTests.ProxyProcess(upstreamPort: upstream.port, extra: ["--drain-timeout-ms", "20000"])
        XCTAssertTrue(proxy.waitReady(), "proxy did not start")
        let client = try RawHTTPClient(port: proxy.port)
        try client.send(httpRequest("GET", "/hang"))
        XCTAssertTrue(waitUntil(timeout: 5) { self.upstream.headTargets.contains("/hang") })
        kill(proxy.process.processIdentifier, SIGINT)
        usleep(200_000)
        XCTAssertTrue(proxy.process.isRunning, "the first SIGINT should drain, not exit")
        let started = Date()
        kill(proxy.process.processIdentifier, SIGINT)
        XCTAssertEqual(proxy.waitExit(timeout: 5), 1, "log:\n\(proxy.log)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertTrue(client.waitForClose(timeout: 5))
    }

    /// Keep-alive clients with a request in flight are told Connection: close on their response.
    func test_sigterm_keepAliveClientsInFlight_allToldConnectionClose() throws {
        let proxy = try DrainTests.ProxyProcess(upstreamPort: upstream.port, extra: ["--drain-timeout-ms", "8000"])
        XCTAssertTrue(proxy.waitReady(), "proxy did not start")
        var clients: [RawHTTPClient] = []
        for i in 0..<5 {
            let c = try RawHTTPClient(port: proxy.port)
            XCTAssertEqual(try c.roundTrip(httpRequest("GET", "/warm/\(i)")).status, 200)
            try c.send(httpRequest("GET", "/slow/600"))
            clients.append(c)
        }
        XCTAssertTrue(waitUntil(timeout: 5) { self.upstream.headTargets.filter { $0 == "/slow/600" }.count == 5 })
        kill(proxy.process.processIdentifier, SIGTERM)
        for c in clients {
            let r = try c.readFinalResponse(timeout: 10)
            XCTAssertEqual(r.status, 200)
            XCTAssertTrue(r.connectionTokens.contains("close"), "a keep-alive client was not told to close")
            XCTAssertTrue(c.waitForClose(timeout: 5))
        }
        XCTAssertEqual(proxy.waitExit(timeout: 15), 0, "log:\n\(proxy.log)")
    }
}
