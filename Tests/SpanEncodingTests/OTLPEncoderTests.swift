import Foundation
import Propagation
import Spans
import XCTest

@testable import SpanEncoding

/// The OTLP encoders' structure, read back with a minimal protobuf walker written here from the
/// wire-format rules (the interop suite decodes the same bytes with the official
/// `opentelemetry-proto` package): field numbers, ids in network order, nanosecond times, the
/// status for a failed span, events from logs, and the stable attribute names.
final class OTLPEncoderTests: XCTestCase {
    private let process = ServiceProcess(
        serviceName: "svc", tags: [Tag("hostname", .string("h"))],
        spanFacts: SpanFacts(upstreamAddress: "127.0.0.1:3000", upstreamHost: "upstream:3000"))
    private let start: Int64 = 1_760_000_000_000_000

    private func record(status: Int = 200, errorKind: SpanErrorKind? = nil, message: String? = nil) -> SpanRecord {
        SpanRecord(
            traceID: TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10),
            spanID: SpanID(0x1112_1314_1516_1718),
            parentSpanID: SpanID(0x2122_2324_2526_2728), startMicros: start, durationMicros: 412, method: "GET",
            target: "/users/42?x=1", host: "api.example.com:8443", userAgent: "curl/8.5.0", status: status,
            peer: PeerAddress(numericHost: "10.1.2.3", port: 51234)!, upstreamConnectedOffsetMicros: 35,
            errorKind: errorKind, errorMessage: message)
    }

    /// Field number -> values (varint as UInt64, length-delimited as bytes, fixed as raw bytes).
    private func fields(_ bytes: [UInt8]) -> [UInt32: [Any]] {
        var out: [UInt32: [Any]] = [:]
        var i = 0
        func varint() -> UInt64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = bytes[i]
                i += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        while i < bytes.count {
            let key = varint()
            let field = UInt32(key >> 3)
            switch key & 7 {
            case 0: out[field, default: []].append(varint())
            case 1:
                out[field, default: []].append(Array(bytes[i..<i + 8]))
                i += 8
            case 2:
                let n = Int(varint())
                out[field, default: []].append(Array(bytes[i..<i + n]))
                i += n
            case 5:
                out[field, default: []].append(Array(bytes[i..<i + 4]))
                i += 4
            default:
                XCTFail("wire type \(key & 7)")
                return out
            }
        }
        return out
    }

    private func message(_ f: [UInt32: [Any]], _ n: UInt32, _ index: Int = 0) -> [UInt32: [Any]] {
        fields(f[n]![index] as! [UInt8])
    }

    private func string(_ f: [UInt32: [Any]], _ n: UInt32) -> String? {
        (f[n]?.first as? [UInt8]).map { String(decoding: $0, as: UTF8.self) }
    }

    private func attributes(_ f: [UInt32: [Any]], _ n: UInt32) -> [String: [UInt32: [Any]]] {
        var out: [String: [UInt32: [Any]]] = [:]
        for kv in f[n] ?? [] {
            let m = fields(kv as! [UInt8])
            out[string(m, 1)!] = message(m, 2)
        }
        return out
    }

    private func spanMessage(_ record: SpanRecord, process: ServiceProcess? = nil) -> (
        request: [UInt32: [Any]], span: [UInt32: [Any]]
    ) {
        let p = process ?? self.process
        var out: [UInt8] = []
        var scratch = OTLPProtobufEncoder.Scratch()
        let resource = OTLPProtobufEncoder.EncodedResource(
            OTLPResource(
                attributes: [Tag("service.name", .string("svc"))], scopeName: "traceproxy", scopeVersion: "9.9"))
        OTLPProtobufEncoder.encode([record], process: p, resource: resource, scratch: &scratch, into: &out)
        let request = fields(out)
        let resourceSpans = message(request, 1)
        let scopeSpans = message(resourceSpans, 2)
        return (request, message(scopeSpans, 2))
    }

    func test_protobuf_idsTimesKindNameResourceScope() {
        var out: [UInt8] = []
        var scratch = OTLPProtobufEncoder.Scratch()
        let resource = OTLPProtobufEncoder.EncodedResource(
            OTLPResource(
                attributes: [Tag("service.name", .string("svc"))], scopeName: "traceproxy", scopeVersion: "9.9"))
        OTLPProtobufEncoder.encode(
            [record(), record()], process: process, resource: resource, scratch: &scratch, into: &out)
        let resourceSpans = message(fields(out), 1)
        XCTAssertEqual(attributes(message(resourceSpans, 1), 1)["service.name"].flatMap { string($0, 1) }, "svc")
        let scopeSpans = message(resourceSpans, 2)
        let scope = message(scopeSpans, 1)
        XCTAssertEqual(string(scope, 1), "traceproxy")
        XCTAssertEqual(string(scope, 2), "9.9")
        XCTAssertEqual(scopeSpans[2]?.count, 2, "two spans")
        let span = message(scopeSpans, 2)
        XCTAssertEqual(span[1]?.first as? [UInt8], Array(1...16))
        XCTAssertEqual(span[2]?.first as? [UInt8], Array(0x11...0x18))
        XCTAssertEqual(span[4]?.first as? [UInt8], Array(0x21...0x28))
        XCTAssertEqual(string(span, 5), "GET /users/{id}")
        XCTAssertEqual(span[6]?.first as? UInt64, 2, "SPAN_KIND_SERVER")
        let startNs = (span[7]?.first as! [UInt8]).withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
        }
        let endNs = (span[8]?.first as! [UInt8]).withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
        }
        XCTAssertEqual(startNs, UInt64(start) * 1000)
        XCTAssertEqual(endNs - startNs, 412_000)
        XCTAssertNil(span[15], "no status for a success")
        XCTAssertEqual(span[11]?.count, 1, "upstream_connected event")
        XCTAssertEqual(string(message(span, 11), 2), "upstream_connected")
    }

    func test_protobuf_stableAttributesByDefault() {
        let attrs = attributes(spanMessage(record()).span, 9)
        XCTAssertEqual(attrs["http.request.method"].flatMap { string($0, 1) }, "GET")
        XCTAssertEqual(attrs["url.path"].flatMap { string($0, 1) }, "/users/42")
        XCTAssertEqual(attrs["url.query"].flatMap { string($0, 1) }, "x=1")
        XCTAssertEqual(attrs["http.response.status_code"]?[3]?.first as? UInt64, 200)
        XCTAssertEqual(attrs["server.address"].flatMap { string($0, 1) }, "api.example.com")
        XCTAssertEqual(attrs["server.port"]?[3]?.first as? UInt64, 8443)
        XCTAssertEqual(attrs["client.address"].flatMap { string($0, 1) }, "10.1.2.3")
        XCTAssertEqual(attrs["network.peer.port"]?[3]?.first as? UInt64, 51234)
        XCTAssertEqual(attrs["user_agent.original"].flatMap { string($0, 1) }, "curl/8.5.0")
        XCTAssertNil(attrs["http.method"], "legacy names only when asked for")
        XCTAssertNil(attrs["error"])
    }

    func test_protobuf_failedSpan_statusErrorWithMessage_errorType() {
        let span = spanMessage(record(status: 502, errorKind: .upstreamConnect, message: "connect: refused")).span
        let status = message(span, 15)
        XCTAssertEqual(status[3]?.first as? UInt64, 2, "STATUS_CODE_ERROR")
        XCTAssertEqual(string(status, 2), "connect: refused")
        XCTAssertEqual(attributes(span, 9)["error.type"].flatMap { string($0, 1) }, "upstream_connect")
        XCTAssertNil(attributes(span, 9)["error"])
    }

    func test_bothNames_legacyAndStable() {
        var p = process
        p.spanFacts.attributeNames = .both
        let attrs = attributes(spanMessage(record(), process: p).span, 9)
        XCTAssertNotNil(attrs["http.method"])
        XCTAssertNotNil(attrs["http.request.method"])
        XCTAssertEqual(attrs.keys.filter { $0 == "http.response.body.size" }.count, 1)
    }

    func test_json_hexIdsIntEnumsStringInt64s() throws {
        var out: [UInt8] = []
        var rendered = RenderedSpan()
        OTLPJSONEncoder.encode(
            [record(status: 503, errorKind: .upstreamTimeout, message: "slow \"upstream\"")], process: process,
            resource: OTLPResource(
                attributes: [Tag("service.name", .string("svc"))], scopeName: "traceproxy", scopeVersion: "1"),
            rendered: &rendered, into: &out)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])
        let spans =
            ((((json["resourceSpans"] as! [[String: Any]])[0]["scopeSpans"] as! [[String: Any]])[0])["spans"])
            as! [[String: Any]]
        let span = spans[0]
        XCTAssertEqual(span["traceId"] as? String, "0102030405060708090a0b0c0d0e0f10")
        XCTAssertEqual(span["spanId"] as? String, "1112131415161718")
        XCTAssertEqual(span["parentSpanId"] as? String, "2122232425262728")
        XCTAssertEqual(span["kind"] as? Int, 2)
        XCTAssertEqual(span["startTimeUnixNano"] as? String, "\(start * 1000)")
        XCTAssertEqual((span["status"] as? [String: Any])?["code"] as? Int, 2)
        XCTAssertEqual((span["status"] as? [String: Any])?["message"] as? String, "slow \"upstream\"")
        let attrs = span["attributes"] as! [[String: Any]]
        let code = attrs.first { $0["key"] as? String == "http.response.status_code" }?["value"] as? [String: Any]
        XCTAssertEqual(code?["intValue"] as? String, "503", "int64 as a decimal string")
    }
}

/// OpenTelemetry's status rules by span kind: a 4xx is the client's mistake for a server span and
/// a failed call for a client span.
final class SpanStatusByKindTests: XCTestCase {
    func test_4xx_errorOnlyForClientSpans_5xxAlways() {
        func record(_ kind: SpanKind, _ status: Int) -> SpanRecord {
            SpanRecord(
                traceID: .init(high: 1, low: 1), spanID: .init(1), kind: kind, startMicros: 1, durationMicros: 1,
                status: status)
        }
        XCTAssertFalse(record(.server, 404).isError)
        XCTAssertTrue(record(.client, 404).isError)
        XCTAssertTrue(record(.server, 503).isError)
        XCTAssertTrue(record(.client, 503).isError)
        XCTAssertFalse(record(.client, 200).isError)
    }
}
