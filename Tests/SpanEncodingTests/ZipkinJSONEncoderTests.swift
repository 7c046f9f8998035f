import Foundation
import Propagation
import Spans
import XCTest

@testable import SpanEncoding

final class ZipkinJSONEncoderTests: XCTestCase {
    private func encode(
        _ spans: [FinishedSpan], process: ServiceProcess = ServiceProcess(serviceName: "svc")
    )
        -> String
    {
        var out: [UInt8] = []
        ZipkinJSONEncoder.encode(spans, process: process, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func parse(_ json: String) throws -> [[String: Any]] {
        let obj = try JSONSerialization.jsonObject(with: Data(json.utf8))
        return try XCTUnwrap(obj as? [[String: Any]])
    }

    private let serverSpan = FinishedSpan(
        traceID: TraceID(high: 0x463a_c35c_9f64_13ad, low: 0x4848_5a39_53bb_6124),
        spanID: SpanID(0xa2fb_4a1d_1a96_d312), parentSpanID: SpanID(0x0020_0000_0000_0001),
        operationName: "GET /users", kind: .server, startMicros: 1_502_787_600_000_000,
        durationMicros: 150_000,
        tags: [
            Tag("span.kind", .string("server")), Tag("http.method", .string("GET")),
            Tag("http.status_code", .long(200)), Tag("error", .bool(true)), Tag("ratio", .double(0.5)),
        ],
        logs: [
            SpanLog(timestampMicros: 1_502_787_600_000_100, fields: [Tag("event", .string("retry"))])
        ])

    func test_encode_serverSpan128BitWithParent_goldenText() {
        let json = encode(
            [serverSpan],
            process: ServiceProcess(serviceName: "svc", tags: [Tag("ip", .string("10.0.0.1"))]))
        let expected =
            #"[{"traceId":"463ac35c9f6413ad48485a3953bb6124","id":"a2fb4a1d1a96d312","#
            + #""parentId":"0020000000000001","kind":"SERVER","name":"GET /users","#
            + #""timestamp":1502787600000000,"duration":150000,"#
            + #""localEndpoint":{"serviceName":"svc","ipv4":"10.0.0.1"},"#
            + #""annotations":[{"timestamp":1502787600000100,"value":"retry"}],"#
            + #""tags":{"http.method":"GET","http.status_code":"200","error":"true","ratio":"0.5"}}]"#
        XCTAssertEqual(json, expected)
    }

    func test_encode_rootClient64BitDebug_shortTraceIdNoParentDebugTrue() throws {
        var span = serverSpan
        span.traceID = TraceID(high: 0, low: 0xFFFF_FFFF_FFFF_FFFF)
        span.parentSpanID = .zero
        span.kind = .client
        span.debug = true
        span.durationMicros = 0
        span.tags = [Tag("error", .bool(false)), Tag("n", .long(-5))]
        span.logs = []
        let json = encode([span])
        XCTAssertEqual(
            json,
            #"[{"traceId":"ffffffffffffffff","id":"a2fb4a1d1a96d312","kind":"CLIENT","name":"GET /users","#
                + #""timestamp":1502787600000000,"duration":1,"debug":true,"#
                + #""localEndpoint":{"serviceName":"svc"},"tags":{"n":"-5"}}]"#)
        let parsed = try parse(json)[0]
        XCTAssertNil(parsed["parentId"])
        XCTAssertEqual(parsed["debug"] as? Bool, true)
    }

    func test_encode_noSpans_emptyArray() {
        XCTAssertEqual(encode([]), "[]")
    }

    func test_encode_twoSpans_commaSeparatedArray() throws {
        let parsed = try parse(encode([serverSpan, serverSpan]))
        XCTAssertEqual(parsed.count, 2)
    }

    func test_encode_specialCharacters_escapedAndRoundTrip() throws {
        let tricky = "a\"b\\c\n\t\u{01}\u{1F} é 😀 \u{7F} /"
        var span = serverSpan
        span.operationName = tricky
        span.tags = [Tag(tricky, .string(tricky))]
        span.logs = []
        let json = encode([span], process: ServiceProcess(serviceName: tricky))
        let escaped = #""a\"b\\c\u000a\u0009\u0001\u001f é 😀 \#u{7F} /""#
        XCTAssertTrue(json.contains(#""name":"# + escaped), json)
        let parsed = try parse(json)[0]
        XCTAssertEqual(parsed["name"] as? String, tricky)
        XCTAssertEqual((parsed["tags"] as? [String: String])?[tricky], tricky)
        XCTAssertEqual((parsed["localEndpoint"] as? [String: Any])?["serviceName"] as? String, tricky)
    }

    func test_encode_peerTags_remoteEndpoint() throws {
        var span = serverSpan
        span.tags = [
            Tag("peer.ipv4", .string("192.168.99.100")), Tag("peer.port", .long(8080)),
            Tag("peer.service", .string("db")),
        ]
        let parsed = try parse(encode([span]))[0]
        let remote = try XCTUnwrap(parsed["remoteEndpoint"] as? [String: Any])
        XCTAssertEqual(remote["ipv4"] as? String, "192.168.99.100")
        XCTAssertEqual(remote["port"] as? Int, 8080)
        XCTAssertEqual(remote["serviceName"] as? String, "db")
    }

    func test_encode_peerIPv4AsLong_dottedQuad() throws {
        var span = serverSpan
        span.tags = [Tag("peer.ipv4", .long(0x7F00_0001))]
        let remote = try XCTUnwrap(try parse(encode([span]))[0]["remoteEndpoint"] as? [String: Any])
        XCTAssertEqual(remote["ipv4"] as? String, "127.0.0.1")
        XCTAssertNil(remote["port"])
    }

    func test_encode_invalidAddresses_noRemoteEndpoint() throws {
        var span = serverSpan
        span.tags = [Tag("peer.ipv4", .string("256.1.1.1")), Tag("peer.port", .long(70000))]
        XCTAssertNil(try parse(encode([span]))[0]["remoteEndpoint"])
        for bad in ["1.2.3", "1.2.3.4.5", "01.2.3.4", "a.b.c.d", "1..2.3", ""] {
            XCTAssertFalse(ZipkinJSONEncoder.isDottedQuad(bad), bad)
        }
        XCTAssertTrue(ZipkinJSONEncoder.isDottedQuad("0.0.0.0"))
        XCTAssertTrue(ZipkinJSONEncoder.isDottedQuad("255.255.255.255"))
    }

    func test_encode_logWithoutEvent_keyValueAnnotationAndDuplicatesSkipped() throws {
        var span = serverSpan
        let log = SpanLog(
            timestampMicros: 5,
            fields: [Tag("k", .string("v")), Tag("n", .long(2)), Tag("b", .bool(false))])
        span.logs = [log, log, SpanLog(timestampMicros: 6, fields: [Tag("x", .double(1.5))])]
        let annotations = try XCTUnwrap(try parse(encode([span]))[0]["annotations"] as? [[String: Any]])
        XCTAssertEqual(annotations.count, 2)
        XCTAssertEqual(annotations[0]["value"] as? String, "k=v n=2 b=false")
        XCTAssertEqual(annotations[0]["timestamp"] as? Int, 5)
        XCTAssertEqual(annotations[1]["value"] as? String, "x=1.5")
    }
}
