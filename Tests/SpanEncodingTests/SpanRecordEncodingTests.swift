import Propagation
import Spans
import XCTest

@testable import SpanEncoding

/// A record must encode to the same bytes as the span RequestTracer used to build by hand (the
/// tag list below is that code's output, written out), so Jaeger and Zipkin see no change; the
/// FinishedSpan path is the one the interop fixtures check against independent decoders.
final class SpanRecordEncodingTests: XCTestCase {
    private let process = ServiceProcess(
        serviceName: "record-test", tags: [Tag("hostname", .string("h")), Tag("ip", .string("10.0.0.1"))],
        spanFacts: SpanFacts(upstreamAddress: "127.0.0.1:3000", upstreamHost: "upstream:3000"))
    private let start: Int64 = 1_760_000_000_000_000

    private func assertSameEncoding(
        _ record: SpanRecord, _ expected: FinishedSpan, file: StaticString = #filePath, line: UInt = #line
    ) {
        var fromRecord: [UInt8] = []
        var fromSpan: [UInt8] = []
        ZipkinJSONEncoder.encode([record], process: process, into: &fromRecord)
        ZipkinJSONEncoder.encode([expected], process: process, into: &fromSpan)
        XCTAssertEqual(
            String(decoding: fromRecord, as: UTF8.self), String(decoding: fromSpan, as: UTF8.self), file: file,
            line: line)
        var packer = JaegerBatchPacker(process: process)
        var seqA: Int64 = 0
        var seqB: Int64 = 0
        XCTAssertEqual(
            packer.pack([record], seqNo: &seqA, stats: .init()), packer.pack([expected], seqNo: &seqB, stats: .init()),
            "Thrift bytes differ", file: file, line: line)
    }

    func test_successfulRequest_sameBytesAsHandBuiltSpan() {
        let record = SpanRecord(
            traceID: TraceID(high: 7, low: 8), spanID: SpanID(9), parentSpanID: SpanID(10), startMicros: start,
            durationMicros: 412, method: "GET", target: "/users/42/orders?x=1", host: "api.example.com",
            userAgent: "curl/8.5.0", status: 200, requestBodyBytes: 5, responseBodyBytes: 1832,
            peer: PeerAddress(numericHost: "10.1.2.3", port: 51234)!, upstreamConnectedOffsetMicros: 35,
            firstResponseByteOffsetMicros: 390)
        let expected = FinishedSpan(
            traceID: TraceID(high: 7, low: 8), spanID: SpanID(9), parentSpanID: SpanID(10),
            operationName: "GET /users/{id}/orders", kind: .server, startMicros: start, durationMicros: 412,
            tags: [
                Tag("span.kind", .string("server")), Tag("component", .string("traceproxy")),
                Tag("http.method", .string("GET")),
                Tag("http.url", .string("http://api.example.com/users/42/orders?x=1")),
                Tag("http.path", .string("/users/42/orders")), Tag("http.status_code", .long(200)),
                Tag("http.user_agent", .string("curl/8.5.0")), Tag("peer.ipv4", .string("10.1.2.3")),
                Tag("peer.port", .long(51234)), Tag("upstream.address", .string("127.0.0.1:3000")),
                Tag("http.request.body.size", .long(5)), Tag("http.response.body.size", .long(1832)),
            ],
            logs: [
                SpanLog(timestampMicros: start + 35, fields: [Tag("event", .string("upstream_connected"))]),
                SpanLog(timestampMicros: start + 390, fields: [Tag("event", .string("first_response_byte"))]),
            ])
        assertSameEncoding(record, expected)
    }

    /// No Host (the upstream's stands in for http.url), an IPv6 client, an unknown method, and an
    /// upstream failure: error tag and error log after the connect log.
    func test_upstreamFailure_sameBytesAsHandBuiltSpan() {
        let record = SpanRecord(
            traceID: TraceID(high: 0, low: 1), spanID: SpanID(2), debug: true, startMicros: start, durationMicros: 900,
            method: "PROPFIND", target: "/x", status: 502, peer: PeerAddress(numericHost: "::1", port: 40000)!,
            upstreamConnectedOffsetMicros: 10, errorKind: .upstreamReset, errorMessage: "upstream closed mid-response")
        let expected = FinishedSpan(
            traceID: TraceID(high: 0, low: 1), spanID: SpanID(2), parentSpanID: .zero, operationName: "PROPFIND /x",
            kind: .server, startMicros: start, durationMicros: 900, debug: true,
            tags: [
                Tag("component", .string("traceproxy")), Tag("http.method", .string("PROPFIND")),
                Tag("http.url", .string("http://upstream:3000/x")), Tag("http.path", .string("/x")),
                Tag("http.status_code", .long(502)), Tag("peer.ipv6", .string("::1")), Tag("peer.port", .long(40000)),
                Tag("upstream.address", .string("127.0.0.1:3000")), Tag("http.request.body.size", .long(0)),
                Tag("http.response.body.size", .long(0)), Tag("error", .bool(true)),
            ],
            logs: [
                SpanLog(timestampMicros: start + 10, fields: [Tag("event", .string("upstream_connected"))]),
                SpanLog(
                    timestampMicros: start + 900,
                    fields: [
                        Tag("event", .string("error")), Tag("error.kind", .string("upstream_reset")),
                        Tag("message", .string("upstream closed mid-response")),
                    ]),
            ])
        assertSameEncoding(record, expected)
    }

    /// The client went away mid-response: no error tag, `client.aborted` and a `client_aborted` log.
    func test_clientAbort_abortedTagAndLogWithoutError() {
        let record = SpanRecord(
            traceID: TraceID(high: 0, low: 3), spanID: SpanID(4), startMicros: start, durationMicros: 50,
            target: "/big", host: "h", status: 200, responseBodyBytes: 4096,
            peer: PeerAddress(numericHost: "127.0.0.1", port: 1)!, errorKind: .clientReset,
            errorMessage: "client connection reset while writing")
        XCTAssertFalse(record.isError)
        let expected = FinishedSpan(
            traceID: TraceID(high: 0, low: 3), spanID: SpanID(4), parentSpanID: .zero, operationName: "GET /big",
            kind: .server, startMicros: start, durationMicros: 50,
            tags: [
                Tag("component", .string("traceproxy")), Tag("http.method", .string("GET")),
                Tag("http.url", .string("http://h/big")), Tag("http.path", .string("/big")),
                Tag("http.status_code", .long(200)), Tag("peer.ipv4", .string("127.0.0.1")), Tag("peer.port", .long(1)),
                Tag("upstream.address", .string("127.0.0.1:3000")), Tag("http.request.body.size", .long(0)),
                Tag("http.response.body.size", .long(4096)), Tag("client.aborted", .bool(true)),
            ],
            logs: [
                SpanLog(
                    timestampMicros: start + 50,
                    fields: [
                        Tag("event", .string("client_aborted")),
                        Tag("message", .string("client connection reset while writing")),
                    ])
            ])
        assertSameEncoding(record, expected)
    }

    /// The error rule: 5xx and proxy-side failures are errors; 4xx, 499 and client aborts are not.
    func test_isError_rule() {
        func record(_ status: Int, _ kind: SpanErrorKind?) -> SpanRecord {
            SpanRecord(
                traceID: TraceID(high: 0, low: 1), spanID: SpanID(1), startMicros: 0, durationMicros: 1, status: status,
                errorKind: kind)
        }
        XCTAssertFalse(record(200, nil).isError)
        XCTAssertFalse(record(404, nil).isError)
        XCTAssertTrue(record(503, nil).isError)
        XCTAssertTrue(record(504, .upstreamTimeout).isError)
        XCTAssertTrue(record(200, .upstreamReset).isError, "upstream cut the body after a 200 head")
        XCTAssertFalse(record(499, .clientReset).isError)
        XCTAssertFalse(record(200, .clientClosed).isError)
        XCTAssertTrue(record(503, .clientReset).isError, "the upstream's 5xx stays an error")
        XCTAssertFalse(record(408, .clientTimeout).isError, "a client that stalls is not this hop's failure")
        XCTAssertFalse(record(400, .clientProtocol).isError, "nor one that sends a malformed body")
        XCTAssertFalse(record(200, .clientTimeout).isError, "body stalled after the response started")
        XCTAssertTrue(record(503, .drainTimeout).isError, "the proxy gave up: its failure")
        XCTAssertTrue(record(200, .drainTimeout).isError, "cut by the drain after a 200 head")
    }
}
