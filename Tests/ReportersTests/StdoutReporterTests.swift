import Foundation
import Reporters
import Stats
import XCTest

final class StdoutReporterTests: XCTestCase {
    func test_send_twoSpans_writesOneJSONObjectPerLine() throws {
        let written = Locked<[[UInt8]]>([])
        let reporter = StdoutReporter(name: "stdout", options: ReporterOptions(process: testProcess)) {
            bytes in
            written.withLock { $0.append(bytes) }
            return true
        }
        let spans = makeSpans(2)
        XCTAssertTrue(reporter.send(spans))
        let writes = written.withLock { $0 }
        XCTAssertEqual(writes.count, 1, "one write (and flush) per batch")
        let text = String(decoding: writes[0], as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for (line, span) in zip(lines, spans) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual(object?["id"] as? String, span.spanID.hex16)
            XCTAssertEqual(object?["name"] as? String, "GET " + String(decoding: span.target, as: UTF8.self))
        }
    }

    func test_send_writeFails_returnsFalse() {
        let reporter = StdoutReporter(name: "stdout", options: ReporterOptions(process: testProcess)) {
            _ in false
        }
        XCTAssertFalse(reporter.send(makeSpans(1)))
    }
}
