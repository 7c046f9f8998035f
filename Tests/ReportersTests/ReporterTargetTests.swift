import Reactor
import Reporters
import Stats
import TestSupport
import XCTest

/// The one reporter-URL grammar (`ReporterTarget.parse`) and the reporters built from its values.
final class ReporterTargetTests: XCTestCase {
    private let options = ReporterOptions(process: testProcess)

    private func make(_ target: ReporterTarget) throws(ReporterURLError) -> any SpanReporter {
        try ReporterURL.make(target, options: options, metrics: MetricsRegistry())
    }

    private func assertRejected(
        _ url: String, mentioning fragment: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let target = try ReporterTarget.parse(url)
            XCTFail("accepted \(url) as \(String(describing: target))", file: file, line: line)
        } catch {
            XCTAssertTrue(error.description.contains(fragment), error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    func test_parse_validForms_canonicalValues() throws {
        XCTAssertNil(try ReporterTarget.parse("none"))
        XCTAssertEqual(try ReporterTarget.parse("STDOUT"), .stdout)
        XCTAssertEqual(try ReporterTarget.parse("Jaeger-UDP://agent:6831"), .jaegerUDP(host: "agent", port: 6831))
        XCTAssertEqual(try ReporterTarget.parse("jaeger-udp://[::1]:6831"), .jaegerUDP(host: "::1", port: 6831))
        XCTAssertEqual(
            try ReporterTarget.parse("zipkin+http://127.0.0.1:9411"),
            .zipkinHTTP(host: "127.0.0.1", port: 9411, path: ReporterTarget.defaultZipkinPath))
        XCTAssertEqual(
            try ReporterTarget.parse("zipkin+http://c:9411/custom/spans"),
            .zipkinHTTP(host: "c", port: 9411, path: "/custom/spans"))
        let secure = try ReporterTarget.parse("Zipkin+HTTPS://c:9443")
        XCTAssertEqual(secure, .zipkinHTTP(host: "c", port: 9443, path: ReporterTarget.defaultZipkinPath, tls: true))
        XCTAssertEqual(secure?.usesTLS, true)
        XCTAssertEqual(try ReporterTarget.parse("zipkin+http://c:9411")?.usesTLS, false)
    }

    func test_description_roundTrips() throws {
        for url in [
            "stdout", "jaeger-udp://[::1]:6831", "zipkin+http://c:9411", "zipkin+http://c:9411/custom",
            "zipkin+https://c:9443/x",
        ] {
            XCTAssertEqual(try ReporterTarget.parse(url)?.description, url)
        }
    }

    func test_parse_unknownScheme_namesForms() {
        assertRejected("foo://x", mentioning: "jaeger-udp://HOST:PORT")
        assertRejected("http://127.0.0.1:9411", mentioning: "jaeger-udp://HOST:PORT")
        assertRejected("", mentioning: "jaeger-udp://HOST:PORT")
    }

    func test_parse_badOrMissingHostOrPort_rejected() {
        for url in [
            "jaeger-udp://127.0.0.1", "zipkin+http://collector/api/v2/spans", "jaeger-udp://[::1]",
            "jaeger-udp://127.0.0.1:", "jaeger-udp://127.0.0.1:0", "jaeger-udp://127.0.0.1:65536",
            "zipkin+http://127.0.0.1:94x1", "zipkin+http://127.0.0.1:-1", "jaeger-udp://:6831", "zipkin+http://",
            "jaeger-udp://a b:6831",
        ] {
            assertRejected(url, mentioning: "with a port from 1 to 65535")
        }
    }

    func test_parse_paths() {
        assertRejected("jaeger-udp://127.0.0.1:6831/x", mentioning: "no path")
        assertRejected("zipkin+http://127.0.0.1:9411/a b", mentioning: "not a valid URL path")
    }

    func test_make_buildsTheNamedReporter() throws {
        XCTAssertTrue(try make(.stdout) is StdoutReporter)
        let jaeger = try make(.jaegerUDP(host: "::1", port: 6831))
        XCTAssertTrue(jaeger is JaegerUDPReporter)
        XCTAssertEqual(jaeger.name, "jaeger-udp://[::1]:6831")
        jaeger.close()
        let zipkin = try make(.zipkinHTTP(host: "localhost", port: 9411, path: "/custom/spans"))
        XCTAssertTrue(zipkin is ZipkinHTTPReporter)
        XCTAssertEqual(zipkin.name, "zipkin+http://localhost:9411/custom/spans")
    }

    /// A name that does not resolve is no start-up error (issue 11): the reporter is built, and
    /// its batches are lost as `unresolved`, in getaddrinfo's words (not errno's "Success").
    func test_make_unresolvableHost_isNotFatal_andSaysWhy() throws {
        let zipkin = try make(.zipkinHTTP(host: "no-such-host.invalid", port: 9411, path: "/"))
        defer { zipkin.close() }
        XCTAssertFalse(zipkin.send(makeSpans(1)))
        XCTAssertEqual(zipkin.lastDropReason, .unresolved)
        let text = zipkin.lastFailure ?? ""
        XCTAssertTrue(text.hasPrefix("no-such-host.invalid:9411 does not resolve: "), text)
        XCTAssertFalse(text.contains("Success"), text)
    }

    /// A Jaeger agent whose name resolves late: unresolved drops, then datagrams once it resolves,
    /// and the socket follows the agent when it moves.
    func test_jaegerAgent_lateAndMovingName() throws {
        let first = try UDPReceiver()
        let second = try UDPReceiver()
        defer {
            first.stop()
            second.stop()
        }
        let answer = Locked<UInt16?>(nil)
        var options = ReporterOptions(process: testProcess)
        options.names.settings = NameRefreshSettings(
            policy: .init(refreshMs: 20, firstRetryMs: 5, maxRetryMs: 10),
            resolver: { host, _ throws(SystemError) in
                guard let port = answer.withLock({ $0 }) else {
                    throw SystemError(call: "getaddrinfo(\(host))", resolverCode: EAI_NONAME)
                }
                return SocketAddress.literal(host: "127.0.0.1", port: port)!
            })
        let metrics = MetricsRegistry()
        options.names.metrics = metrics
        let agent = try ReporterURL.make(.jaegerUDP(host: "agent.test", port: 6831), options: options, metrics: metrics)
        defer { agent.close() }
        XCTAssertFalse(agent.send(makeSpans(1)))
        XCTAssertEqual(agent.lastDropReason, .unresolved)
        let label = "{target=\"reporter\",name=\"agent.test:6831\"}"
        XCTAssertEqual(metricValue(metrics, "traceproxy_dns_resolved\(label)"), 0)

        answer.withLock { $0 = first.port }
        XCTAssertTrue(eventually { metricValue(metrics, "traceproxy_dns_resolved\(label)") == 1 })
        XCTAssertTrue(agent.send(makeSpans(1)))
        XCTAssertEqual(first.waitForDatagrams(count: 1, timeout: 5).count, 1)

        answer.withLock { $0 = second.port }
        XCTAssertTrue(eventually { metricValue(metrics, "traceproxy_dns_address_changes_total\(label)") == 1 })
        XCTAssertTrue(agent.send(makeSpans(1)))
        XCTAssertEqual(second.waitForDatagrams(count: 1, timeout: 5).count, 1)
        XCTAssertEqual(first.received.count, 1)
    }
}
