import ConfigFile
import XCTest

final class ConfigFileTests: XCTestCase {
    private func parse(_ text: String) throws(ConfigFileError) -> [ConfigFileEntry] {
        try ConfigFile.parse(text, path: "t.yaml")
    }

    private func error(_ text: String) -> ConfigFileError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    func testScalarsListsAndLines() throws {
        let entries = try parse(
            """
            # a comment
            listen: 0.0.0.0:8080
            threads: 2
            demo: true
            reporter:
              - otlp+http://127.0.0.1:4318
              - "jaeger-udp://127.0.0.1:6831"
            route: ['/users/{id}', /files/*]
            service-name: 'web # not a comment'
            """)
        XCTAssertEqual(
            entries,
            [
                ConfigFileEntry(key: "listen", values: ["0.0.0.0:8080"], line: 2),
                ConfigFileEntry(key: "threads", values: ["2"], line: 3),
                ConfigFileEntry(key: "demo", values: ["true"], line: 4),
                ConfigFileEntry(
                    key: "reporter", values: ["otlp+http://127.0.0.1:4318", "jaeger-udp://127.0.0.1:6831"], line: 5),
                ConfigFileEntry(key: "route", values: ["/users/{id}", "/files/*"], line: 8),
                ConfigFileEntry(key: "service-name", values: ["web # not a comment"], line: 9),
            ])
    }

    /// YAML 1.1 would read `off` as false; the file hands the text through, so `listen: off`
    /// means what `--listen off` means.
    func testScalarTextIsKeptAsWritten() throws {
        let entries = try parse("listen: off\nsampler: probabilistic:0.50\nadmin: \"[::1]:9901\"\n")
        XCTAssertEqual(entries.map(\.values), [["off"], ["probabilistic:0.50"], ["[::1]:9901"]])
    }

    func testEmptyFileConfiguresNothing() throws {
        XCTAssertEqual(try parse(""), [])
        XCTAssertEqual(try parse("# nothing here\n"), [])
    }

    func testShapeErrorsNameTheLine() {
        XCTAssertEqual(error("listen: 1\nupstream:\n")?.description, "t.yaml:2: upstream has no value")
        XCTAssertEqual(
            error("a: 1\nroute:\n  x: 1\n")?.description, "t.yaml:3: route: expected a value or a list of values")
        XCTAssertEqual(error("route:\n  - [a]\n")?.description, "t.yaml:2: route: expected a list of values")
        XCTAssertEqual(
            error("- listen\n")?.description, "t.yaml:1: expected a mapping of settings, such as listen: 0.0.0.0:8080")
        XCTAssertEqual(error("just text\n")?.line, 1)
    }

    func testBrokenYAMLNamesTheLine() {
        let e = error("listen: 1\nupstream: [http://a\nthreads: 2\n")
        XCTAssertNotNil(e)
        XCTAssertTrue(e?.message.hasPrefix("not valid YAML") == true, "\(String(describing: e))")
        XCTAssertNotNil(e?.line)
    }

    func testDuplicateKeyIsRefused() {
        let e = error("listen: 1\nthreads: 2\nlisten: 3\n")
        XCTAssertTrue(e?.message.contains("listen") == true, "\(String(describing: e))")
    }

    func testAliasesAndSecondDocumentsAreRefused() {
        XCTAssertEqual(
            error("a: &x 1\nb: *x\n")?.description, "t.yaml:2: b: YAML aliases are not supported")
        XCTAssertEqual(
            error("listen: 1\n---\nlisten: 2\n")?.description,
            "t.yaml:2: not valid YAML: expected one document, found another")
    }

    func testDuplicateKeyNamesBothLines() {
        XCTAssertEqual(
            error("listen: 1\nthreads: 2\nlisten: 3\n")?.description,
            "t.yaml:3: listen is set more than once (first on line 1)")
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try ConfigFile.load(path: "/nonexistent/traceproxy.yaml")) { e in
            XCTAssertEqual("\(e)", "/nonexistent/traceproxy.yaml: cannot read the file (or it is not UTF-8)")
        }
    }
}
