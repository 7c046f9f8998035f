import HTTP1
import Propagation
import Spans

/// Inputs shaped like the proxy's real traffic: browser-ish request heads and the span the proxy
/// records per request (the tags and logs RequestTracer attaches).
enum Fixtures {
    static func head(_ startLine: String, _ fields: [String]) -> [UInt8] {
        Array((([startLine] + fields).joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    static let baseFields = [
        "Host: api.example.com",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Accept: application/json, text/plain, */*",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        "Connection: keep-alive",
        "Cookie: session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ]

    /// A typical API call: 8 header fields.
    static let request8 = head("GET /api/v1/users/12345/orders?limit=20 HTTP/1.1", baseFields)

    /// A header-heavy request (CDN, auth, forwarding, client hints): 30 header fields.
    static let request30 = head(
        "GET /api/v1/users/12345/orders?limit=20 HTTP/1.1",
        baseFields + [
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop",
            "X-Forwarded-For: 203.0.113.195, 70.41.3.18, 150.172.238.178",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: api.example.com",
            "X-Real-IP: 203.0.113.195",
            "X-Request-ID: 7b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
            "Referer: https://www.example.com/account/orders",
            "Origin: https://www.example.com",
            "Sec-Fetch-Dest: empty",
            "Sec-Fetch-Mode: cors",
            "Sec-Fetch-Site: same-site",
            "Sec-CH-UA: \"Chromium\";v=\"128\", \"Not;A=Brand\";v=\"24\"",
            "Sec-CH-UA-Mobile: ?0",
            "Sec-CH-UA-Platform: \"Linux\"",
            "Cache-Control: no-cache",
            "Pragma: no-cache",
            "DNT: 1",
            "If-None-Match: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"",
            "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
            "baggage: userId=alice,serverNode=DF%2028,isProduction=false",
            "X-Client-Version: 4.18.2",
            "Priority: u=1, i",
        ])

    static let requestW3C = request8

    static let requestB3 = head(
        "GET /api/v1/users/12345/orders HTTP/1.1",
        [
            "Host: api.example.com", "User-Agent: curl/8.5.0", "Accept: */*",
            "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId: a2fb4a1d1a96d312",
            "X-B3-ParentSpanId: 0020000000000001", "X-B3-Sampled: 1", "Connection: keep-alive",
        ])

    static let requestJaeger = head(
        "GET /api/v1/users/12345/orders HTTP/1.1",
        [
            "Host: api.example.com", "User-Agent: curl/8.5.0", "Accept: */*",
            "uber-trace-id: 463ac35c9f6413ad48485a3953bb6124:a2fb4a1d1a96d312:0:1",
            "Accept-Encoding: gzip", "Connection: keep-alive", "Cache-Control: no-cache",
            "X-Request-ID: 7b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
        ])

    static func parseHead(_ parser: inout HTTPParser, _ bytes: [UInt8]) -> HTTPHead? {
        bytes.withUnsafeBytes { input -> HTTPHead? in
            guard let (_, event) = try? parser.next(input), case .head(let head)? = event else {
                return nil
            }
            _ = try? parser.next(UnsafeRawBufferPointer(rebasing: input[input.count...]))
            return head
        }
    }

    /// The span the proxy records for `GET /api/v1/users/12345/orders?limit=20` answered 200
    /// (the head of `request8`, with the timings and sizes RequestTracer takes from the exchange).
    static func proxySpan(_ i: Int) -> SpanRecord {
        SpanRecord(
            traceID: TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736 &+ UInt64(i)),
            spanID: SpanID(0x00f0_67aa_0ba9_02b7 &+ UInt64(i)),
            parentSpanID: SpanID(0x5d1f_2a3b_4c5d_6e7f),
            startMicros: 1_760_000_000_000_000 + Int64(i) * 137, durationMicros: 412,
            method: "GET", target: "/api/v1/users/12345/orders?limit=20", host: "api.example.com",
            userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0)", status: 200, responseBodyBytes: 1832,
            peer: peer, upstreamConnectedOffsetMicros: 35, firstResponseByteOffsetMicros: 390)
    }

    static let peer = PeerAddress(numericHost: "10.1.2.3", port: 51234)!
}
