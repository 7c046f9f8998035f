import Reporters
import Stats
import XCTest

final class ReporterURLTests: XCTestCase {
    private let options = ReporterOptions(process: testProcess)

    private func make(_ url: String) throws(ReporterURLError) -> (any SpanReporter)? {
        try ReporterURL.make(url, options: options, metrics: MetricsRegistry())
    }

    private func assertRejected(
        _ url: String, mentioning fragment: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let reporter = try make(url)
            XCTFail("accepted \(url) as \(String(describing: reporter))", file: file, line: line)
        } catch {
            XCTAssertTrue(
                error.description.contains("\"\(url)\""), error.description, file: file, line: line)
            XCTAssertTrue(error.description.contains(fragment), error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    func test_make_none_returnsNil() throws {
        XCTAssertNil(try make("none"))
    }

    func test_make_stdout_returnsStdoutReporter() throws {
        let reporter = try make("stdout")
        XCTAssertTrue(reporter is StdoutReporter)
        XCTAssertEqual(reporter?.name, "stdout")
    }

    func test_make_jaegerUDP_returnsJaegerReporterNamedByURL() throws {
        let reporter = try make("jaeger-udp://127.0.0.1:6831")
        XCTAssertTrue(reporter is JaegerUDPReporter)
        XCTAssertEqual(reporter?.name, "jaeger-udp://127.0.0.1:6831")
        reporter?.close()
    }

    func test_make_jaegerUDPWithIPv6Literal_accepted() throws {
        let reporter = try make("jaeger-udp://[::1]:6831")
        XCTAssertTrue(reporter is JaegerUDPReporter)
        reporter?.close()
    }

    func test_make_zipkinHTTPWithAndWithoutPath_returnsZipkinReporter() throws {
        XCTAssertTrue(try make("zipkin+http://127.0.0.1:9411") is ZipkinHTTPReporter)
        XCTAssertTrue(try make("zipkin+http://localhost:9411/custom/spans") is ZipkinHTTPReporter)
    }

    func test_make_unknownScheme_namesValueAndForms() {
        assertRejected("foo://x", mentioning: "expected jaeger-udp://HOST:PORT")
        assertRejected("http://127.0.0.1:9411", mentioning: "unsupported reporter")
        assertRejected("", mentioning: "unsupported reporter")
        assertRejected("STDOUT", mentioning: "unsupported reporter")
    }

    func test_make_missingPort_rejected() {
        assertRejected("jaeger-udp://127.0.0.1", mentioning: "missing port")
        assertRejected("zipkin+http://collector/api/v2/spans", mentioning: "missing port")
        assertRejected("jaeger-udp://[::1]", mentioning: "missing port")
    }

    func test_make_badPort_rejected() {
        assertRejected("jaeger-udp://127.0.0.1:", mentioning: "bad port")
        assertRejected("jaeger-udp://127.0.0.1:0", mentioning: "bad port")
        assertRejected("jaeger-udp://127.0.0.1:65536", mentioning: "bad port")
        assertRejected("zipkin+http://127.0.0.1:94x1", mentioning: "bad port")
        assertRejected("zipkin+http://127.0.0.1:-1", mentioning: "bad port")
    }

    func test_make_missingHost_rejected() {
        assertRejected("jaeger-udp://:6831", mentioning: "host")
        assertRejected("zipkin+http://", mentioning: "host")
    }

    func test_make_jaegerWithPath_rejected() {
        assertRejected("jaeger-udp://127.0.0.1:6831/x", mentioning: "no path")
    }

    func test_make_unresolvableHost_rejected() {
        assertRejected("zipkin+http://no-such-host.invalid:9411", mentioning: "cannot resolve")
    }
}
