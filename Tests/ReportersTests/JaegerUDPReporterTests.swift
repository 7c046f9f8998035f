import Foundation
import Reporters
import Spans
import Stats
import TestSupport
import XCTest

final class JaegerUDPReporterTests: XCTestCase {
    private func makeReporter(
        port: UInt16, maxPacketSize: Int = 65000, metrics: MetricsRegistry = MetricsRegistry()
    )
        throws -> JaegerUDPReporter
    {
        try JaegerUDPReporter(
            name: "jaeger-udp://127.0.0.1:\(port)", host: "127.0.0.1", port: port,
            options: ReporterOptions(process: testProcess, maxPacketSize: maxPacketSize), metrics: metrics
        )
    }

    /// Compact protocol message header: protocol id 0x82, then version 1 in the low 5 bits and
    /// the message type in the top 3 (ONEWAY = 4 or CALL = 1) (thrift-compact-protocol.md).
    private func assertEmitBatchHeader(
        _ datagram: [UInt8], file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(datagram.first, 0x82, file: file, line: line)
        XCTAssertEqual(datagram.count > 1 ? datagram[1] & 0x1f : 0, 1, file: file, line: line)
        XCTAssertTrue(
            [1, 4].contains(datagram.count > 1 ? datagram[1] >> 5 : 0), file: file, line: line)
        XCTAssertEqual(
            occurrences(of: Array("emitBatch".utf8), in: [datagram]), 1, file: file, line: line)
    }

    func test_send_smallBatch_oneDatagramWithEverySpan() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let reporter = try makeReporter(port: agent.port)
        defer { reporter.close() }
        let spans = makeSpans(20)
        XCTAssertTrue(reporter.send(spans))
        let datagrams = agent.waitForDatagrams(count: 1, timeout: 2)
        XCTAssertEqual(datagrams.count, 1)
        assertEmitBatchHeader(datagrams[0])
        XCTAssertEqual(occurrences(of: Array("reporters-test".utf8), in: datagrams), 1, "one Process")
        for span in spans {
            XCTAssertEqual(
                occurrences(of: compactI64(Int64(bitPattern: span.spanID.value)), in: datagrams), 1)
        }
    }

    func test_send_batchLargerThanPacket_splitsWithinMaxSize() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let reporter = try makeReporter(port: agent.port, maxPacketSize: 1500)
        defer { reporter.close() }
        let spans = makeSpans(60, tagBytes: 200)
        XCTAssertTrue(reporter.send(spans))
        // 60 spans of ~300 bytes cannot fit fewer than 12 datagrams of 1500 bytes.
        _ = agent.waitForDatagrams(count: 12, timeout: 2)
        usleep(50_000)
        let all = agent.received
        XCTAssertGreaterThanOrEqual(all.count, 12)
        for datagram in all {
            XCTAssertLessThanOrEqual(datagram.count, 1500)
            assertEmitBatchHeader(datagram)
        }
        for span in spans {
            XCTAssertEqual(occurrences(of: compactI64(Int64(bitPattern: span.spanID.value)), in: all), 1)
        }
    }

    func test_send_manyBatches_defaultPacketSize_neverExceeds65000() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let reporter = try makeReporter(port: agent.port)
        defer { reporter.close() }
        let spans = makeSpans(500, tagBytes: 500)
        XCTAssertTrue(reporter.send(spans))
        // 500 spans of ~600 bytes need at least 5 datagrams of 65000 bytes.
        XCTAssertTrue(eventually { agent.received.count >= 5 })
        usleep(50_000)
        let all = agent.received
        XCTAssertLessThan(all.count, 500)
        for datagram in all { XCTAssertLessThanOrEqual(datagram.count, 65000) }
        let found = spans.filter {
            occurrences(of: compactI64(Int64(bitPattern: $0.spanID.value)), in: all) == 1
        }
        XCTAssertEqual(found.count, 500)
    }

    func test_send_closedPort_reportsFailureWithoutCrashing() throws {
        let agent = try UDPReceiver()
        let port = agent.port
        agent.stop()  // nobody listens now: the kernel answers with ICMP port unreachable
        let reporter = try makeReporter(port: port)
        defer { reporter.close() }
        var results: [Bool] = []
        for _ in 0..<5 {
            results.append(reporter.send(makeSpans(3)))
            usleep(10_000)
        }
        XCTAssertTrue(results.contains(false), "ECONNREFUSED went unnoticed: \(results)")
    }

    func test_send_afterClose_returnsFalse() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let reporter = try makeReporter(port: agent.port)
        reporter.close()
        XCTAssertFalse(reporter.send(makeSpans(1)))
    }
}
