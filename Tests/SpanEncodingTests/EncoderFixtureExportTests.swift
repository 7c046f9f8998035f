import Foundation
import Propagation
import Spans
import XCTest

@testable import SpanEncoding

/// Writes encoder output plus a manifest of the values it must decode to, for
/// Tests/interop/check_encoder_fixtures.py to check with independent decoders (jaeger-client's
/// generated Thrift code, the Zipkin v2 JSON Schema). Runs only when TRACEPROXY_FIXTURE_DIR is set.
///
/// The manifest is built from the input spans and the documented mapping (span.kind tag first,
/// error=false dropped, CHILD_OF reference for a parent), never from the encoder's output.
final class EncoderFixtureExportTests: XCTestCase {
    private let process = ServiceProcess(
        serviceName: "fixture-svc",
        tags: [
            Tag("hostname", .string("host-1")), Tag("ip", .string("10.1.2.3")), Tag("pid", .long(4242)),
        ])

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Every tag type, ids at and above 2^63, a 128-bit trace, logs, a parent.
    private var richSpan: FinishedSpan {
        FinishedSpan(
            traceID: TraceID(high: 0xfedc_ba98_7654_3210, low: 0x8000_0000_0000_0000),
            spanID: SpanID(0xffff_ffff_ffff_fffe), parentSpanID: SpanID(0x9000_0000_0000_0001),
            operationName: "GET /things/{id}", kind: .server, startMicros: 1_700_000_000_123_456,
            durationMicros: 2_500,
            tags: [
                Tag("http.method", .string("GET")), Tag("http.status_code", .long(503)),
                Tag("error", .bool(true)),
                Tag("ratio", .double(0.1)), Tag("big", .long(Int64.max)), Tag("neg", .long(Int64.min)),
                Tag("unicode", .string("héllo \"wörld\" \\ \n 😀")), Tag("flag", .bool(false)),
            ],
            logs: [
                SpanLog(
                    timestampMicros: 1_700_000_000_124_000,
                    fields: [Tag("event", .string("error")), Tag("message", .string("upstream reset"))]),
                SpanLog(timestampMicros: 1_700_000_000_125_000, fields: [Tag("retries", .long(2))]),
            ])
    }

    /// A debug root span with a 64-bit trace id, a client kind and an error=false tag to drop.
    private var rootSpan: FinishedSpan {
        FinishedSpan(
            traceID: TraceID(high: 0, low: 0x00ab_cdef_0000_0001), spanID: SpanID(1), parentSpanID: .zero,
            operationName: "POST /", kind: .client, startMicros: 1_700_000_001_000_000, durationMicros: 1,
            debug: true,
            tags: [
                Tag("error", .bool(false)), Tag("peer.ipv4", .string("192.168.0.9")),
                Tag("peer.port", .long(8080)),
            ])
    }

    private func splitSpans() -> [FinishedSpan] {
        (0..<40).map { i in
            FinishedSpan(
                traceID: TraceID(high: UInt64(i), low: UInt64.max - UInt64(i)),
                spanID: SpanID(UInt64(0x100 + i)),
                parentSpanID: SpanID(UInt64(i % 3)),
                operationName: "op-\(i)-" + String(repeating: "x", count: i * 7),
                kind: .server, startMicros: 1_700_000_002_000_000 + Int64(i),
                durationMicros: Int64(10 * i + 1),
                tags: [Tag("i", .long(Int64(i))), Tag("even", .bool(i % 2 == 0))])
        }
    }

    // MARK: - expected values

    private static func tagEntry(_ t: Tag) -> [Any] {
        switch t.value {
        case .string(let s): return [t.key, "string", s]
        case .double(let d): return [t.key, "double", d]
        case .bool(let b): return [t.key, "bool", b]
        case .long(let l): return [t.key, "long", NSNumber(value: l)]
        }
    }

    private static func expectedJaeger(_ s: FinishedSpan) -> [String: Any] {
        var tags: [[Any]] = [["span.kind", "string", s.kind.rawValue]]
        for t in s.tags where !(t.key == "error" && t.value == .bool(false)) && t.key != "span.kind" {
            tags.append(tagEntry(t))
        }
        var d: [String: Any] = [
            "traceIdHigh": hex(s.traceID.high), "traceIdLow": hex(s.traceID.low),
            "spanId": hex(s.spanID.value),
            "parentSpanId": hex(s.parentSpanID.value), "operationName": s.operationName,
            "flags": s.debug ? 3 : 1, "startTime": NSNumber(value: s.startMicros),
            "duration": NSNumber(value: s.durationMicros), "tags": tags,
            "logs": s.logs.map {
                [NSNumber(value: $0.timestampMicros), $0.fields.map(tagEntry)] as [Any]
            },
        ]
        d["references"] =
            s.parentSpanID.isValid
            ? [[0, hex(s.traceID.high) + hex(s.traceID.low), hex(s.parentSpanID.value)] as [Any]]
            : [[Any]]()
        return d
    }

    private func group(
        _ name: String, spans: [FinishedSpan], maxPacketSize: Int, firstSeqNo: Int64,
        stats: JaegerBatchPacker.ClientStats, truncatedTags: [String] = [], dir: URL
    ) throws -> [String: Any] {
        var packer = JaegerBatchPacker(process: process, maxPacketSize: maxPacketSize)
        var seqNo = firstSeqNo - 1
        let datagrams = packer.pack(spans, seqNo: &seqNo, stats: stats)
        var files: [String] = []
        for (i, d) in datagrams.enumerated() {
            let file = "jaeger-\(name)-\(i).bin"
            try Data(d).write(to: dir.appendingPathComponent(file))
            files.append(file)
        }
        return [
            "name": name, "maxPacketSize": maxPacketSize, "firstSeqNo": NSNumber(value: firstSeqNo),
            "files": files,
            "minDatagrams": name == "split" ? 2 : 1, "service": process.serviceName,
            "processTags": process.tags.map(Self.tagEntry),
            "stats": [stats.fullQueueDroppedSpans, stats.tooLargeDroppedSpans, stats.failedToEmitSpans]
                .map {
                    NSNumber(value: $0)
                },
            "truncatedTags": truncatedTags, "spans": spans.map(Self.expectedJaeger),
        ]
    }

    private var expectedZipkin: [[String: Any]] {
        [
            [
                "traceId": "fedcba98765432108000000000000000", "id": "fffffffffffffffe",
                "parentId": "9000000000000001",
                "kind": "SERVER", "name": "GET /things/{id}",
                "timestamp": NSNumber(value: 1_700_000_000_123_456),
                "duration": 2_500, "localEndpoint": ["serviceName": "fixture-svc", "ipv4": "10.1.2.3"],
                "annotations": [
                    ["timestamp": NSNumber(value: 1_700_000_000_124_000), "value": "error"],
                    ["timestamp": NSNumber(value: 1_700_000_000_125_000), "value": "retries=2"],
                ],
                "tags": [
                    "http.method": "GET", "http.status_code": "503", "error": "true", "ratio": "0.1",
                    "big": "9223372036854775807", "neg": "-9223372036854775808",
                    "unicode": "héllo \"wörld\" \\ \n 😀", "flag": "false",
                ],
            ],
            [
                "traceId": "00abcdef00000001", "id": "0000000000000001", "kind": "CLIENT", "name": "POST /",
                "timestamp": NSNumber(value: 1_700_000_001_000_000), "duration": 1, "debug": true,
                "localEndpoint": ["serviceName": "fixture-svc", "ipv4": "10.1.2.3"],
                "remoteEndpoint": ["ipv4": "192.168.0.9", "port": 8080],
                "tags": ["peer.ipv4": "192.168.0.9", "peer.port": "8080"],
            ],
        ]
    }

    func test_exportFixtures_whenDirectoryGiven_writesDatagramsJSONAndManifest() throws {
        let path = ProcessInfo.processInfo.environment["TRACEPROXY_FIXTURE_DIR"]
        try XCTSkipIf(path == nil || path!.isEmpty, "TRACEPROXY_FIXTURE_DIR not set")
        let dir = URL(fileURLWithPath: path!, isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        var stats = JaegerBatchPacker.ClientStats()
        stats.fullQueueDroppedSpans = 3
        stats.tooLargeDroppedSpans = 0
        stats.failedToEmitSpans = 70_000
        var oversized = rootSpan
        oversized.debug = false
        oversized.tags.append(
            Tag("http.url", .string("/" + String(repeating: "long-path/", count: 300))))
        let groups = [
            try group(
                "basic", spans: [richSpan, rootSpan], maxPacketSize: 65000, firstSeqNo: 1, stats: stats,
                dir: dir),
            try group(
                "split", spans: splitSpans(), maxPacketSize: 1000, firstSeqNo: 64, stats: .init(), dir: dir),
            try group(
                "truncated", spans: [oversized], maxPacketSize: 500, firstSeqNo: 9, stats: .init(),
                truncatedTags: ["http.url"], dir: dir),
        ]

        var body: [UInt8] = []
        ZipkinJSONEncoder.encode([richSpan, rootSpan], process: process, into: &body)
        try Data(body).write(to: dir.appendingPathComponent("zipkin.json"))

        let manifest: [String: Any] = [
            "groups": groups, "zipkin": ["file": "zipkin.json", "spans": expectedZipkin],
        ]
        let data = try JSONSerialization.data(
            withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: dir.appendingPathComponent("manifest.json"))
    }
}
