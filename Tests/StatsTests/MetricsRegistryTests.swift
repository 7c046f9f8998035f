import Dispatch
import Stats
import XCTest

/// Prometheus text exposition format 0.0.4: HELP/TYPE once per family, then `name{labels} value`.
final class MetricsRegistryTests: XCTestCase {
    /// A strict reader of the exposition format written for this test: returns the families in
    /// order with their type and samples, and fails on anything the grammar does not allow.
    private struct Family {
        var name: String
        var help: String?
        var type: String?
        var samples: [(labels: [String: String], value: String)] = []
    }

    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [Family] {
        var families: [Family] = []
        XCTAssertTrue(text.isEmpty || text.hasSuffix("\n"), "text must end with a newline", file: file, line: line)
        for raw in text.split(separator: "\n") {
            let l = String(raw)
            if l.hasPrefix("# HELP ") {
                let rest = l.dropFirst(7)
                let name = String(rest.prefix { $0 != " " })
                families.append(Family(name: name, help: String(rest.dropFirst(name.count + 1))))
            } else if l.hasPrefix("# TYPE ") {
                let parts = l.split(separator: " ")
                XCTAssertEqual(parts.count, 4, "TYPE line \(l)", file: file, line: line)
                XCTAssertEqual(families.last?.name, String(parts[2]), "TYPE after its HELP", file: file, line: line)
                families[families.count - 1].type = String(parts[3])
            } else {
                guard !families.isEmpty else {
                    XCTFail("sample before any family: \(l)", file: file, line: line)
                    continue
                }
                let (name, labels, value) = parseSample(l, file: file, line: line)
                XCTAssertEqual(name, families.last?.name, "sample outside its family", file: file, line: line)
                families[families.count - 1].samples.append((labels, value))
            }
        }
        return families
    }

    private func parseSample(_ l: String, file: StaticString, line: UInt) -> (String, [String: String], String) {
        var chars = Array(l)
        var i = 0
        var name = ""
        while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == ":" {
            name.append(chars[i])
            i += 1
        }
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while i < chars.count, chars[i] != "}" {
                var key = ""
                while i < chars.count, chars[i] != "=" {
                    key.append(chars[i])
                    i += 1
                }
                i += 1
                XCTAssertEqual(chars[i], "\"", "label value must be quoted: \(l)", file: file, line: line)
                i += 1
                var value = ""
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\" {
                        i += 1
                        switch chars[i] {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: XCTFail("bad escape in \(l)", file: file, line: line)
                        }
                    } else {
                        value.append(chars[i])
                    }
                    i += 1
                }
                i += 1
                labels[key] = value
                if i < chars.count, chars[i] == "," { i += 1 }
            }
            i += 1
        }
        XCTAssertEqual(i < chars.count ? chars[i] : "?", " ", "space before the value: \(l)", file: file, line: line)
        chars.removeFirst(min(chars.count, i + 1))
        let value = String(chars)
        XCTAssertNotNil(Double(value), "numeric value: \(l)", file: file, line: line)
        return (name, labels, value)
    }

    func test_render_empty_isEmptyText() {
        XCTAssertEqual(MetricsRegistry().render(), "")
    }

    func test_render_counterAndGauge_helpTypeAndValue() {
        let r = MetricsRegistry()
        r.counter("requests_total", help: "Requests.").add(3)
        let g = r.counter("open", help: "Open now.", kind: .gauge)
        g.add(5)
        g.subtract(2)
        let families = parse(r.render())
        XCTAssertEqual(families.map(\.name), ["requests_total", "open"])
        XCTAssertEqual(families.map(\.type), ["counter", "gauge"])
        XCTAssertEqual(families.map(\.help), ["Requests.", "Open now."])
        XCTAssertEqual(families[0].samples.map(\.value), ["3"])
        XCTAssertEqual(families[1].samples.map(\.value), ["3"])
        XCTAssertTrue(families.allSatisfy { $0.samples.allSatisfy { $0.labels.isEmpty } })
    }

    func test_counter_sameNameAndLabels_sharedCounter() {
        let r = MetricsRegistry()
        let a = r.counter("x_total", help: "X.", labels: [("kind", "a")])
        let again = r.counter("x_total", help: "X.", labels: [("kind", "a")])
        XCTAssertTrue(a === again)
        a.add()
        again.add()
        XCTAssertEqual(a.value, 2)
        XCTAssertEqual(parse(r.render()).first?.samples.map(\.value), ["2"])
    }

    func test_counter_differentLabels_separateSeriesInOneFamily() {
        let r = MetricsRegistry()
        r.counter("x_total", help: "X.", labels: [("code", "2xx")]).add(7)
        r.counter("x_total", help: "X.", labels: [("code", "5xx")]).add(1)
        r.counter("y_total", help: "Y.").add()
        let text = r.render()
        XCTAssertEqual(text.components(separatedBy: "# TYPE x_total").count - 1, 1, "TYPE once per family")
        let families = parse(text)
        XCTAssertEqual(families.count, 2)
        XCTAssertEqual(families[0].samples.map(\.labels), [["code": "2xx"], ["code": "5xx"]])
        XCTAssertEqual(families[0].samples.map(\.value), ["7", "1"])
    }

    func test_labels_quoteBackslashNewline_escapedAndRoundTrip() {
        let r = MetricsRegistry()
        let tricky = "a\"b\\c\nd"
        r.counter("t_total", help: "T.", labels: [("v", tricky), ("w", "plain")]).add()
        let text = r.render()
        XCTAssertTrue(text.contains(#"t_total{v="a\"b\\c\nd",w="plain"} 1"#), text)
        XCTAssertEqual(text.split(separator: "\n").count, 3, "a raw newline in a label breaks the line format")
        XCTAssertEqual(parse(text).first?.samples.first?.labels, ["v": tricky, "w": "plain"])
    }

    func test_counter_concurrentAdds_noneLost() {
        let r = MetricsRegistry()
        let c = r.counter("c_total", help: "C.")
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { c.add() }
        }
        XCTAssertEqual(c.value, 80_000)
    }

    func test_counter_concurrentRegistration_oneSeriesPerLabelSet() {
        let r = MetricsRegistry()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            r.counter("k_total", help: "K.", labels: [("n", String(i % 2))]).add()
        }
        let families = parse(r.render())
        XCTAssertEqual(families.count, 1)
        XCTAssertEqual(families[0].samples.count, 2)
        XCTAssertEqual(families[0].samples.compactMap { Int($0.value) }.reduce(0, +), 8)
    }
}
