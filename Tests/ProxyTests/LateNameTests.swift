import Foundation
import Reactor
import Stats
import TestSupport
import XCTest

@testable import Proxy

/// Issue 11, "late names": upstream and collector names that do not resolve at start-up, resolve
/// later, or move, with an injected resolver over real loopback sockets (the /etc/hosts variant
/// against the release binary is in Tests/cli/test_run.sh).
final class LateNameTests: XCTestCase {
    /// Names the test has made resolvable; anything else fails as getaddrinfo would.
    private final class Names: Sendable {
        let table = Locked<[String: SocketAddress]>([:])

        func set(_ host: String, port: UInt16?) {
            table.withLock { $0[host] = port.flatMap { SocketAddress.literal(host: "127.0.0.1", port: $0) } }
        }

        var resolver: ResolvedName.Resolver {
            { [self] host, _ throws(SystemError) in
                guard let a = table.withLock({ $0[host] }) else {
                    throw SystemError(call: "getaddrinfo(\(host))", resolverCode: EAI_NONAME)
                }
                return a
            }
        }
    }

    private var upstream: TestUpstream!
    private var collector: HTTPCollector!
    private let names = Names()

    override func setUpWithError() throws {
        upstream = try TestUpstream()
        collector = try HTTPCollector()
    }

    override func tearDown() {
        upstream.stop()
        collector.stop()
    }

    private func start(_ configure: (inout ProxyConfig) -> Void) throws -> RunningProxy {
        try ProxyHarness.start(upstreamPort: upstream.port, resolver: names.resolver) {
            $0.admin = HostPort(host: "127.0.0.1", port: 0)
            $0.dnsRefreshMs = 50
            $0.reporters = [reporterTarget(collector.url())]
            configure(&$0)
        }
    }

    private func get(_ proxy: RunningProxy, _ path: String) throws -> RawHTTPClient.Response {
        try proxy.client().roundTrip(httpRequest("GET", path), timeout: 5)
    }

    func testAnUpstreamThatDoesNotResolveYetGets502WithTheReasonUntilItDoes() throws {
        let proxy = try start { $0.upstream = HostPort(host: "upstream.test", port: self.upstream.port) }
        let label = "target=\"upstream\",name=\"upstream.test:\(upstream.port)\""

        let refused = try get(proxy, "/early")
        XCTAssertEqual(refused.status, 502)
        XCTAssertEqual(Hardening.tags(Hardening.span(path: "/early", in: collector))["error"], "true")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"unresolved\"}"), 1)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_dns_resolved{\(label)}"), 0)
        XCTAssertTrue(
            waitUntil(timeout: 5) {
                ((try? Hardening.metric(proxy, "traceproxy_dns_failures_total{\(label)}")) ?? 0) >= 3
            })
        XCTAssertEqual(upstream.requests.count, 0)

        names.set("upstream.test", port: upstream.port)
        XCTAssertTrue(
            waitUntil(timeout: 5) { (try? Hardening.metric(proxy, "traceproxy_dns_resolved{\(label)}")) == 1 })
        XCTAssertEqual(try get(proxy, "/late").status, 200)
        XCTAssertEqual(upstream.requests.map(\.target), ["/late"])
    }

    /// The span and the answer of a request whose upstream name has no address (in memory).
    func testTheSpanSaysTheUpstreamDidNotResolve() throws {
        let p = try InMemoryProxy()
        p.connector.mode = .fail(
            SystemError(call: "upstream.test:80 does not resolve", resolverReason: "Name or service not known"))
        let c = p.connect()
        p.send(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        p.run()
        XCTAssertEqual(statusCode(c.takeWritten()), 502)
        XCTAssertEqual(p.spans.first?.errorKind, "upstream_unresolved")
        XCTAssertEqual(
            p.spans.first?.record.errorMessage, "upstream upstream.test:80 does not resolve: Name or service not known")
        XCTAssertEqual(p.metrics.upstreamUnresolved.value, 1)
        XCTAssertEqual(p.metrics.upstreamConnectErrors.value, 0)
    }

    /// The upstream moves: new connections go to the new address, and the keep-alive connection
    /// pooled to the old one is retired rather than reused.
    func testAMovedUpstreamIsFollowedAndItsPooledConnectionRetired() throws {
        let second = try TestUpstream()
        defer { second.stop() }
        names.set("upstream.test", port: upstream.port)
        let proxy = try start { $0.upstream = HostPort(host: "upstream.test", port: self.upstream.port) }
        let client = try proxy.client()
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/before"), timeout: 5).status, 200)
        XCTAssertEqual(upstream.requests.count, 1)

        names.set("upstream.test", port: second.port)
        let label = "target=\"upstream\",name=\"upstream.test:\(upstream.port)\""
        XCTAssertTrue(
            waitUntil(timeout: 5) {
                (try? Hardening.metric(proxy, "traceproxy_dns_address_changes_total{\(label)}")) == 1
            })
        // Within a loop tick (100 ms) the pooled connection to the old address is retired.
        XCTAssertTrue(
            waitUntil(timeout: 5) {
                (try? client.roundTrip(httpRequest("GET", "/after"), timeout: 5).status) == 200
                    && !second.requests.isEmpty
            })
        let oldCount = upstream.requests.count
        for i in 0..<3 {
            XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/moved/\(i)"), timeout: 5).status, 200)
        }
        XCTAssertEqual(upstream.requests.count, oldCount, "nothing more goes to the old address")
        XCTAssertEqual(second.requests.suffix(3).map(\.target), ["/moved/0", "/moved/1", "/moved/2"])
    }

    /// A collector that does not resolve yet: requests are served, its batches are dropped as
    /// `unresolved`, and once it resolves the spans arrive.
    func testACollectorThatDoesNotResolveYetDropsAsUnresolvedThenDelivers() throws {
        let url = "zipkin+http://collector.test:\(collector.port)"
        let proxy = try start {
            $0.upstream = HostPort(host: "127.0.0.1", port: self.upstream.port)
            $0.reporters = [reporterTarget(url)]
        }
        let label = "target=\"reporter\",name=\"collector.test:\(collector.port)\""
        XCTAssertEqual(try get(proxy, "/unreported").status, 200)
        let dropped = "traceproxy_spans_dropped_total{reporter=\"\(url)\",reason=\"unresolved\"}"
        XCTAssertTrue(waitUntil(timeout: 5) { ((try? Hardening.metric(proxy, dropped)) ?? 0) >= 1 })
        XCTAssertEqual(
            try Hardening.metric(proxy, "traceproxy_spans_dropped_total{reporter=\"\(url)\",reason=\"send_failed\"}"), 0
        )
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_dns_resolved{\(label)}"), 0)
        XCTAssertGreaterThan(try Hardening.metric(proxy, "traceproxy_dns_failures_total{\(label)}"), 0)

        names.set("collector.test", port: collector.port)
        XCTAssertTrue(
            waitUntil(timeout: 5) { (try? Hardening.metric(proxy, "traceproxy_dns_resolved{\(label)}")) == 1 })
        XCTAssertEqual(try get(proxy, "/reported").status, 200)
        XCTAssertNotNil(Hardening.span(path: "/reported", in: collector, timeout: 5))
    }

    /// An IP literal upstream is never looked up (the injected resolver knows no names at all).
    func testALiteralUpstreamIsNeverLookedUp() throws {
        let proxy = try start { $0.upstream = HostPort(host: "127.0.0.1", port: self.upstream.port) }
        XCTAssertEqual(try get(proxy, "/literal").status, 200)
        let label = "target=\"upstream\",name=\"127.0.0.1:\(upstream.port)\""
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_dns_resolved{\(label)}"), 1)
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_dns_failures_total{\(label)}"), 0)
    }
}
