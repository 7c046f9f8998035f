import Foundation
import TestSupport
import XCTest

@testable import Proxy

/// RFC 9112 framing rules on real sockets: every ambiguous or malformed request is answered with
/// its status and the connection closed, nothing reaches the upstream, the next request on a new
/// connection is served, and /metrics counts the rejection. Malformed upstream responses give 502
/// with an error span.
final class FramingRulesTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    private struct Case {
        let name: String
        let bytes: [UInt8]
        let status: Int

        init(_ name: String, _ text: String, _ status: Int = 400) {
            self.name = name
            self.bytes = Array(text.utf8)
            self.status = status
        }

        init(_ name: String, bytes: [UInt8], _ status: Int = 400) {
            self.name = name
            self.bytes = bytes
            self.status = status
        }
    }

    /// Sends each case on its own connection; asserts status, close, nothing upstream, next good
    /// request served, and the protocol-error counter moving by one per case.
    private func check(_ cases: [Case], configure: (inout ProxyConfig) -> Void = { _ in }) throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil, configure)
        var good = 0
        for (i, c) in cases.enumerated() {
            let before = try Hardening.metric(proxy, "traceproxy_client_protocol_errors_total")
            let client = try proxy.client()
            try client.send(c.bytes)
            do {
                let response = try client.readFinalResponse(timeout: 5)
                XCTAssertEqual(response.status, c.status, c.name)
                XCTAssertTrue(response.connectionTokens.contains("close"), "\(c.name): no Connection: close")
            } catch {
                XCTFail("\(c.name): no response: \(error)")
            }
            XCTAssertTrue(client.waitForClose(timeout: 5), "\(c.name): connection left open")
            let after = try Hardening.metric(proxy, "traceproxy_client_protocol_errors_total")
            XCTAssertEqual(after - before, 1, "\(c.name): traceproxy_client_protocol_errors_total")
            Hardening.assertServesGoodRequest(proxy, target: "/good/\(i)")
            good += 1
            let targets = upstream.waitForRequests(count: good, timeout: 5).map(\.target)
            XCTAssertEqual(targets.last, "/good/\(i)", "\(c.name): the offending request reached the upstream")
            XCTAssertEqual(targets.count, good, "\(c.name): the offending request reached the upstream")
        }
    }

    /// RFC 9112 section 3.2: which Host the client meant must not be the proxy's guess.
    func test_hostRules_missingOrRepeatedHost_400AndClosed() throws {
        try check([
            Case("HTTP/1.1 without Host", "GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n"),
            Case("two Host fields", "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Case("two Host fields, HTTP/1.0", "GET /x HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"),
        ])
    }

    /// HTTP/1.0 predates Host: such a request is served, with the upstream's address as Host.
    func test_http10WithoutHost_forwardedWithUpstreamHost() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let response = try proxy.client().roundTrip("GET /old HTTP/1.0\r\n\r\n")
        XCTAssertEqual(response.status, 200)
        let request = try XCTUnwrap(upstream.waitForRequests(count: 1).first)
        XCTAssertEqual(request.header("host"), "127.0.0.1:\(upstream.port)")
    }

    func test_ambiguousBodyFraming_400AndClosed() throws {
        try check([
            Case(
                "CL+TE",
                "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n0\r\n\r\n"),
            Case(
                "TE+CL",
                "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                    + "5\r\nhello\r\n0\r\n\r\n"),
            Case(
                "two differing CL",
                "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
            Case("CL list differing", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!"),
            Case("CL non-numeric", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"),
            Case("CL signed", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello"),
            Case("CL negative", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
            Case("CL hex", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello"),
            Case("CL empty", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n"),
            Case("CL overflow", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Case("TE gzip", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Case("TE chunked then gzip", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Case(
                "TE gzip then chunked",
                "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            Case(
                "TE chunked twice",
                "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            Case("TE identity", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n"),
            Case("TE chunkedx", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n"),
            Case(
                "TE in HTTP/1.0", "POST /x HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ])
    }

    func test_fieldSyntax_400AndClosed() throws {
        try check([
            Case("obs-fold SP", "GET /x HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n"),
            Case("obs-fold HTAB", "GET /x HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n"),
            Case(
                "obs-fold hiding TE",
                "POST /x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n"
                    + "Content-Length: 0\r\n\r\n"),
            Case("SP before colon", "GET /x HTTP/1.1\r\nHost: h\r\nContent-Length : 0\r\n\r\n"),
            Case("HTAB before colon", "GET /x HTTP/1.1\r\nHost\t: h\r\n\r\n"),
            Case("empty field name", "GET /x HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n"),
            Case("bare CR in value", "GET /x HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n"),
            Case("bare CR in name", "GET /x HTTP/1.1\r\nHost: h\r\nX\rA: a\r\n\r\n"),
            Case(
                "NUL in value",
                bytes: Array("GET /x HTTP/1.1\r\nHost: h\r\nX-A: a".utf8) + [0] + Array("b\r\n\r\n".utf8)),
            Case(
                "BEL in value", bytes: Array("GET /x HTTP/1.1\r\nHost: h\r\nX-A: a".utf8) + [7] + Array("\r\n\r\n".utf8)
            ),
            Case(
                "DEL in value",
                bytes: Array("GET /x HTTP/1.1\r\nHost: h\r\nX-A: a".utf8) + [0x7F] + Array("\r\n\r\n".utf8)),
            Case("non-token name", "GET /x HTTP/1.1\r\nHost: h\r\nX(A): a\r\n\r\n"),
        ])
    }

    func test_requestLine_400Or505AndClosed() throws {
        try check([
            Case("bare CR in request line", "GET /x\rHTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("NUL in target", bytes: Array("GET /a".utf8) + [0] + Array("b HTTP/1.1\r\nHost: h\r\n\r\n".utf8)),
            Case(
                "control in target", bytes: Array("GET /a".utf8) + [0x1B] + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8)),
            Case("TAB in target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("NUL in method", bytes: Array("GE".utf8) + [0] + Array("T /x HTTP/1.1\r\nHost: h\r\n\r\n".utf8)),
            Case("two spaces", "GET  /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("trailing space", "GET /x HTTP/1.1 \r\nHost: h\r\n\r\n"),
            Case("lower-case version", "GET /x http/1.1\r\nHost: h\r\n\r\n"),
            Case("no version", "GET /x\r\nHost: h\r\n\r\n"),
            Case("HTTP/2.0", "GET /x HTTP/2.0\r\nHost: h\r\n\r\n", 505),
            Case("HTTP/1.2", "GET /x HTTP/1.2\r\nHost: h\r\n\r\n", 505),
        ])
    }

    /// RFC 9112 section 3.2: a target of none of the four forms, or a form its method does not
    /// take, or bytes outside RFC 3986 (raw non-ASCII included).
    func test_requestTargets_400AndClosed() throws {
        try check([
            Case("GET !", "GET ! HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("GET J1", "GET J1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("POST =", "POST = HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
            Case("M-SEARCH *", "M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("PRI *", "PRI * HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("authority-form GET", "GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("userinfo", "GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("ftp scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case(
                "raw UTF-8", bytes: Array("GET /caf".utf8) + [0xC3, 0xA9] + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8)),
            Case("broken percent-encoding", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("quote", "GET /a\"b HTTP/1.1\r\nHost: h\r\n\r\n"),
            Case("angle bracket", "GET /a<b HTTP/1.1\r\nHost: h\r\n\r\n"),
        ])
    }

    /// RFC 9110 section 7.2: Host is `uri-host [ ":" port ]`.
    func test_hostValues_400AndClosed() throws {
        try check([
            Case("HTAB in Host", "GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n"),
            Case("Host: : x", "GET / HTTP/1.1\r\nHost:: x\r\n\r\n"),
            Case("space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            Case("port too big", "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n"),
            Case("userinfo in Host", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"),
            Case("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
        ])
    }

    func test_connectRefused_405AndClosed() throws {
        try check([Case("CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 405)])
    }

    func test_underscoreNames_rejectPolicy_400AndClosed() throws {
        try check([Case("X_A", "GET / HTTP/1.1\r\nHost: h\r\nX_A: 1\r\n\r\n")]) {
            $0.headersWithUnderscores = .reject
        }
    }

    /// The answer to a request line that can never be valid comes at once, with the head still
    /// open and a long header timeout.
    func test_badRequestLine_answeredBeforeTheHeadEnds() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.headerTimeoutMs = 30_000 }
        for bytes in [[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03], Array("GET /\u{1}".utf8)] {
            let client = try proxy.client()
            try client.send(bytes)
            let start = Date()
            let response = try client.readFinalResponse(timeout: 5)
            XCTAssertEqual(response.status, 400)
            XCTAssertLessThan(Date().timeIntervalSince(start), 3, "answered long before the header timeout")
        }
        Hardening.assertServesGoodRequest(proxy)
    }

    func test_chunkedBodyErrors_400AndClosed() throws {
        let head = "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        try check([
            Case("size not hex", head + "zz\r\nhello\r\n0\r\n\r\n"),
            Case("size 0x prefix", head + "0x5\r\nhello\r\n0\r\n\r\n"),
            Case("size negative", head + "-5\r\nhello\r\n0\r\n\r\n"),
            Case("size leading space", head + " 5\r\nhello\r\n0\r\n\r\n"),
            Case("size empty", head + "\r\nhello\r\n0\r\n\r\n"),
            Case("size overflows 64 bits", head + "10000000000000005\r\nhello\r\n0\r\n\r\n"),
            Case("size 16 hex digits", head + "ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
            Case("data longer than size", head + "3\r\nhello\r\n0\r\n\r\n"),
            Case("bare CR after size", head + "5\rhello\r\n0\r\n\r\n"),
            Case("NUL in extension", bytes: Array((head + "5;a=").utf8) + [0] + Array("\r\nhello\r\n0\r\n\r\n".utf8)),
            Case("oversized extension", head + "5;" + String(repeating: "x", count: 5000) + "\r\nhello\r\n0\r\n\r\n"),
            Case(
                "NUL in trailer", bytes: Array((head + "5\r\nhello\r\n0\r\nX-T: a").utf8) + [0] + Array("\r\n\r\n".utf8)
            ),
        ])
    }

    /// A chunked-body error is found after the head went upstream, so there is a span: it must
    /// record the 400 the client got and the error.
    func test_chunkedBodyError_spanRecords400AndError() throws {
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: collector)
        let client = try proxy.client()
        let response = try client.roundTrip(
            "POST /bad-chunk HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        let span = Hardening.span(path: "/bad-chunk", in: collector)
        XCTAssertNotNil(span, "no span for a request whose head was forwarded")
        XCTAssertTrue(Hardening.annotations(span).contains("error"))
        XCTAssertEqual(Hardening.tags(span)["http.status_code"], "400", "the span should carry the status sent")
        XCTAssertEqual(
            try Hardening.metric(proxy, "traceproxy_requests_total{code=\"4xx\"}"), 1, "one response counted twice")
        Hardening.assertServesGoodRequest(proxy)
    }

    func test_limits_414And431AndClosed() throws {
        let longTarget = "/" + String(repeating: "a", count: HTTPParserDefaults.maxTargetLength + 1)
        try check(
            [
                Case("target over 16 KiB", "GET \(longTarget) HTTP/1.1\r\nHost: h\r\n\r\n", 414),
                Case(
                    "more than --max-headers fields",
                    httpRequest("GET", "/x", headers: (0..<11).map { ("X-H\($0)", "v") }), 431),
                Case(
                    "head over --max-header-bytes",
                    httpRequest("GET", "/x", headers: [("X-Big", String(repeating: "b", count: 40_000))]), 431),
                Case(
                    "trailer over --max-header-bytes",
                    "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: "
                        + String(repeating: "t", count: 40_000) + "\r\n\r\n", 431),
            ],
            configure: {
                $0.maxHeaders = 10
                $0.maxHeaderBytes = 32 * 1024
            })
    }

    func test_atLimits_forwarded() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.maxHeaders = 10 }
        let client = try proxy.client()
        let target = "/" + String(repeating: "a", count: HTTPParserDefaults.maxTargetLength - 1)
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", target)).status, 200)
        // Host plus 9 more: exactly 10 fields.
        let fields = (0..<9).map { ("X-H\($0)", "v") }
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/ten", headers: fields)).status, 200)
        XCTAssertEqual(upstream.waitForRequests(count: 2).last?.target, "/ten")
    }

    /// What goes upstream is framed by the proxy: one Content-Length for a repeated identical one
    /// (RFC 9110 section 8.6 lets a recipient collapse them), and a chunked body re-chunked without
    /// the client's extensions or trailers.
    func test_acceptedFramingIsReframedUpstream() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        let client = try proxy.client()
        let r1 = try client.roundTrip(
            "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertEqual(r1.text, "hello")
        let r2 = try client.roundTrip(
            "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello")
        XCTAssertEqual(r2.text, "hello")
        let r3 = try client.roundTrip(
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                + "2;name=\"quoted;value\"\r\nhe\r\n3 ; x=y\r\nllo\r\n0\r\nX-Trailer: t\r\n\r\n")
        XCTAssertEqual(r3.text, "hello")
        let requests = upstream.waitForRequests(count: 3)
        XCTAssertEqual(requests.count, 3)
        for r in requests.prefix(2) {
            XCTAssertEqual(r.values("content-length"), ["5"], "forwarded Content-Length")
            XCTAssertTrue(r.values("transfer-encoding").isEmpty)
        }
        XCTAssertEqual(requests.last?.values("transfer-encoding"), ["chunked"])
        XCTAssertTrue(requests.last?.values("content-length").isEmpty ?? false)
        XCTAssertTrue(requests.last?.trailers.isEmpty ?? false, "client trailers passed through")
    }

    // MARK: Responses

    /// Each malformed or ambiguous response: 502 to the client, an error span, the protocol
    /// counter, and the next request served.
    func test_malformedUpstreamResponses_502WithErrorSpan() throws {
        let responses: [(String, [UInt8])] = [
            (
                "CL+TE",
                Array(
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                        .utf8)
            ),
            ("differing CL", Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!".utf8)),
            ("non-numeric CL", Array("HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok".utf8)),
            ("TE gzip", Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok".utf8)),
            ("obs-fold", Array("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok".utf8)),
            ("SP before colon", Array("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok".utf8)),
            ("bare CR in field", Array("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok".utf8)),
            (
                "NUL in field",
                Array("HTTP/1.1 200 OK\r\nX-A: a".utf8) + [0] + Array("\r\nContent-Length: 2\r\n\r\nok".utf8)
            ),
            ("bad status line", Array("HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok".utf8)),
            (
                "chunk size not hex",
                Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n".utf8)
            ),
            ("garbage", Array("SPDY/9 banana\r\n\r\n".utf8)),
        ]
        let collector = try HTTPCollector()
        defer { collector.stop() }
        let bad = try ScriptedUpstream { conn in
            guard let head = conn.readHead() else { return }
            let index = Int(head.split(separator: " ")[1].split(separator: "/").last ?? "") ?? 0
            if index < responses.count { conn.send(responses[index].1) }
            usleep(100_000)
        }
        defer { bad.stop() }
        let proxy = try Hardening.start(upstreamPort: bad.port, collector: collector)
        let good = try Hardening.start(upstreamPort: upstream.port, collector: nil)
        for (i, (name, _)) in responses.enumerated() {
            let client = try proxy.client()
            do {
                let response = try client.roundTrip(httpRequest("GET", "/r/\(i)"), timeout: 5)
                XCTAssertEqual(response.status, 502, name)
            } catch {
                // A chunk error after the head was relayed cuts the connection instead.
                XCTAssertTrue(name.hasPrefix("chunk"), "\(name): \(error)")
                XCTAssertTrue(client.waitForClose(timeout: 5), "\(name): connection not closed")
            }
            let span = Hardening.span(path: "/r/\(i)", in: collector)
            XCTAssertNotNil(span, "\(name): no span")
            XCTAssertEqual(Hardening.tags(span)["error"], "true", "\(name): span without error")
            XCTAssertTrue(Hardening.annotations(span).contains("error"), "\(name): no error log on the span")
        }
        XCTAssertGreaterThanOrEqual(
            try Hardening.metric(proxy, "traceproxy_upstream_errors_total{kind=\"protocol\"}"),
            Double(responses.count))
        Hardening.assertServesGoodRequest(good)
    }
}

/// The parser's default target limit (no flag sets it).
enum HTTPParserDefaults {
    static let maxTargetLength = 16 * 1024
}
