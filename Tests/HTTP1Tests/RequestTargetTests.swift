import XCTest

@testable import HTTP1

/// Request-target forms (RFC 9112 section 3.2), the characters they may hold (RFC 3986 plus what
/// browsers leave raw), Host values (RFC 9110 section 7.2), and how the forwarded request line and
/// Host come out of `HeadWriter`.
final class RequestTargetTests: XCTestCase {
    private func parse(_ text: String) -> Result<HTTPHead, HTTPParseError> {
        parse(Array(text.utf8))
    }

    private func parse(_ bytes: [UInt8]) -> Result<HTTPHead, HTTPParseError> {
        var parser = HTTPParser(kind: .request)
        do {
            if case .head(let h)? = try parser.step(bytes).event { return .success(h) }
            return .failure(.truncated)
        } catch {
            return .failure(error)
        }
    }

    private func request(_ method: String, _ target: String, host: String? = "a.example") -> String {
        "\(method) \(target) HTTP/1.1\r\n" + (host.map { "Host: \($0)\r\n" } ?? "") + "\r\n"
    }

    /// The request line and Host the upstream would get.
    private func forwarded(_ text: String) throws -> (line: String, hosts: [String]) {
        let head = try parse(text).get()
        var out: [UInt8] = []
        HeadWriter.appendRequestHead(head, excluding: [], to: &out) { _ in }
        let lines = String(decoding: out, as: UTF8.self).components(separatedBy: "\r\n")
        let hosts = lines.filter { $0.lowercased().hasPrefix("host:") }.map { String($0.dropFirst(6)) }
        return (lines[0], hosts)
    }

    // MARK: forms

    func test_noneOfTheFourForms_invalidTarget() {
        for (method, target) in [
            ("GET", "!"), ("GET", "J1"), ("POST", "="), ("GET", "a.example:443"), ("GET", "ftp://a.example/"),
            ("GET", "urn:isbn:1"), ("GET", "http:/x"), ("GET", "http//a/"), ("GET", "?x"), ("GET", "%2F"),
            ("GET", "**"), ("DELETE", "#x"),
        ] {
            XCTAssertEqual(parse(request(method, target)).failure, .invalidTarget, "\(method) \(target)")
        }
    }

    func test_asteriskForm_onlyWithOPTIONS() throws {
        XCTAssertEqual(try parse(request("OPTIONS", "*")).get().targetForm, .asterisk)
        for method in ["M-SEARCH", "PRI", "GET", "HEAD"] {
            XCTAssertEqual(parse(request(method, "*")).failure, .invalidTarget, method)
        }
        XCTAssertEqual(try forwarded(request("OPTIONS", "*")).line, "OPTIONS * HTTP/1.1")
    }

    func test_authorityForm_onlyAndAlwaysWithCONNECT() throws {
        let head = try parse(request("CONNECT", "a.example:443")).get()
        XCTAssertEqual(head.targetForm, .authority)
        XCTAssertEqual(try forwarded(request("CONNECT", "[::1]:8443")).line, "CONNECT [::1]:8443 HTTP/1.1")
        for target in ["a.example", "/x", "*", "http://a.example/", "a.example:", "a.example:99999", "u@a:1"] {
            XCTAssertEqual(parse(request("CONNECT", target)).failure, .invalidTarget, target)
        }
    }

    func test_connectWithABody_ambiguous() {
        let text = "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 3\r\n\r\nabc"
        XCTAssertEqual(parse(text).failure, .ambiguousFraming)
        XCTAssertNoThrow(try parse("CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 0\r\n\r\n").get())
    }

    // MARK: absolute-form

    func test_absoluteForm_rewrittenToOriginForm_authorityIsTheOnlyHost() throws {
        let text = "GET http://a.example/x?y=1 HTTP/1.1\r\nHost: b.example\r\nAccept: */*\r\n\r\n"
        let head = try parse(text).get()
        XCTAssertEqual(head.targetForm, .absolute)
        XCTAssertEqual(head.effectiveHostRange.map { String(decoding: head.bytes[$0], as: UTF8.self) }, "a.example")
        let f = try forwarded(text)
        XCTAssertEqual(f.line, "GET /x?y=1 HTTP/1.1")
        XCTAssertEqual(f.hosts, ["a.example"])
    }

    func test_absoluteForm_emptyPath_slashOrAsterisk_schemeCaseInsensitive_portKept() throws {
        XCTAssertEqual(try forwarded(request("GET", "http://a.example")).line, "GET / HTTP/1.1")
        XCTAssertEqual(try forwarded(request("GET", "HTTPS://a.example?q")).line, "GET /?q HTTP/1.1")
        XCTAssertEqual(try forwarded(request("OPTIONS", "http://a.example")).line, "OPTIONS * HTTP/1.1")
        XCTAssertEqual(try forwarded(request("OPTIONS", "http://a.example/")).line, "OPTIONS / HTTP/1.1")
        let f = try forwarded(request("GET", "http://[::1]:8080/p#frag", host: "other"))
        XCTAssertEqual(f.line, "GET /p HTTP/1.1")
        XCTAssertEqual(f.hosts, ["[::1]:8080"])
    }

    func test_absoluteForm_userinfoOrNoHost_invalidTarget() {
        for target in [
            "http://user:pw@a.example/", "http://user@a.example/", "http:///x", "http://:80/", "http://a\\b/",
            "http://a.example:80x/",
        ] {
            XCTAssertEqual(parse(request("GET", target)).failure, .invalidTarget, target)
        }
    }

    // MARK: characters

    func test_fragment_neverForwarded() throws {
        XCTAssertEqual(try forwarded(request("GET", "/a#frag")).line, "GET /a HTTP/1.1")
        XCTAssertEqual(try forwarded(request("GET", "/a?b=1#")).line, "GET /a?b=1 HTTP/1.1")
    }

    func test_rfc3986AndBrowserRawBytes_accepted_unchanged() throws {
        let targets = [
            "/a%2Fb;x=1/c?q=1&r=%20two", "/~user/._-!$&'()*+,;=:@", "/a?x[]=1&y={2}|^`\\", "/?/?",
            "/%e2%82%AC",
        ]
        for target in targets {
            XCTAssertEqual(try forwarded(request("GET", target)).line, "GET \(target) HTTP/1.1")
        }
    }

    func test_bytesOutsideTheGrammar_invalidTarget() {
        for target in ["/a\"b", "/a<b", "/a>b", "/%zz", "/%4", "/a%", "/a%g0"] {
            XCTAssertEqual(parse(request("GET", target)).failure, .invalidTarget, target)
        }
        // Raw non-ASCII (UTF-8 and a lone high byte): refused, never passed on or re-encoded.
        for bytes: [UInt8] in [[0xC3, 0xA9], [0xFF], [0x80]] {
            let text = Array("GET /caf".utf8) + bytes + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            XCTAssertEqual(parse(text).failure, .invalidTarget, "\(bytes)")
        }
    }

    // MARK: Host

    private func hostCheck(_ value: String) -> HTTPParseError? {
        switch parse("GET / HTTP/1.1\r\nHost:\(value)\r\n\r\n") {
        case .success(let head): return HTTPParseError.checkHost(head)
        case .failure(let e): return e
        }
    }

    func test_hostValues_validAuthorities_accepted() {
        for value in [
            " a.example", " a.example:8080", " [::1]:8080", " [2001:db8::1]", " 127.0.0.1:1", " A-b_c~d.e",
            " %41.example", " a:65535", " a:0",
        ] {
            XCTAssertNil(hostCheck(value), value)
        }
    }

    func test_hostValues_invalid_invalidHost() {
        for value in [
            " a\tb", ": x", " a b", " a:99999", " a:", " user@a", "", " a:80:80", " [::1", " []", " a/b", " a:8x",
            " a:123456", " [::1]x",
        ] {
            XCTAssertEqual(hostCheck(value), .invalidHost, "Host:\(value)")
        }
    }

    func test_underscoreFieldNames_counted() throws {
        let head = try parse("GET / HTTP/1.1\r\nHost: a\r\nX_A: 1\r\nX-B: 2\r\nTransfer_Encoding: x\r\n\r\n").get()
        XCTAssertEqual(head.underscoreFieldCount, 2)
    }

    // MARK: early refusal

    /// A request line that can never be valid is refused while the rest of the head is still
    /// missing; a valid start with the head incomplete waits for more.
    func test_incompleteHead_badRequestLine_refusedAtOnce() {
        let refused: [([UInt8], HTTPParseError)] = [
            ([0x16, 0x03, 0x01, 0x02, 0x00, 0x01], .invalidRequestLine),  // a TLS ClientHello
            (Array("GET /\u{1}".utf8), .invalidRequestLine),
            (Array("GET \"".utf8), .invalidTarget),
            (Array("GET / HTTQ".utf8), .invalidRequestLine),
            (Array("G(T".utf8), .invalidRequestLine),
        ]
        for (bytes, error) in refused {
            var parser = HTTPParser(kind: .request)
            XCTAssertThrowsError(try parser.step(bytes), "\(bytes)") { XCTAssertEqual($0 as? HTTPParseError, error) }
        }
        for prefix in ["GET /x HTTP/1.1\r\n", "GET /x HT", "OPTIONS * HTTP/1.1\r\nHost: a\r\n", "G"] {
            var parser = HTTPParser(kind: .request)
            XCTAssertNoThrow(try parser.step(Array(prefix.utf8)), prefix)
        }
        var parser = HTTPParser(kind: .request)
        XCTAssertThrowsError(try parser.step(Array("PRI * HTTP/1.1\r\n".utf8))) {
            XCTAssertEqual($0 as? HTTPParseError, .invalidTarget, "a whole bad line with the head still open")
        }
    }

    /// Byte by byte, the refusal comes at the first byte that gives the line away.
    func test_trickledBadLine_refusedAtTheOffendingByte() {
        let text = Array("GET /ok<bad HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        var parser = HTTPParser(kind: .request)
        var refusedAt: Int?
        for i in text.indices {
            do {
                _ = try parser.step([text[i]])
            } catch {
                refusedAt = i
                break
            }
        }
        XCTAssertEqual(refusedAt, 7, "refused at the `<`")
    }

    // MARK: responses to CONNECT

    func test_responseToCONNECT_2xxHasNoBodyAndEndsHTTP_othersAreOrdinary() throws {
        var parser = HTTPParser(kind: .response)
        parser.expectResponse(to: .connect)
        let ok = Array("HTTP/1.1 200 Connection Established\r\nContent-Length: 5\r\n\r\ntunnel".utf8)
        guard case .head(let head)? = try parser.step(ok).event else { return XCTFail("no head") }
        XCTAssertTrue(head.isUpgrade)
        XCTAssertEqual(head.framing, .none)
        guard case .end? = try parser.step([]).event else { return XCTFail("no end") }
        XCTAssertFalse(parser.isIdle, "after a 2xx to CONNECT the connection carries no HTTP")

        var refused = HTTPParser(kind: .response)
        refused.expectResponse(to: .connect)
        let denied = Array("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno".utf8)
        guard case .head(let h403)? = try refused.step(denied).event else { return XCTFail("no head") }
        XCTAssertFalse(h403.isUpgrade)
        XCTAssertEqual(h403.framing, .length(2))
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

/// The byte sets are literals for speed; these are the character lists they stand for.
final class URIGrammarByteSetTests: XCTestCase {
    func test_literalSets_matchTheirCharacterLists() {
        XCTAssertEqual(URIGrammar.regName, URIGrammar.ByteSet(URIGrammar.regNameChars))
        XCTAssertEqual(URIGrammar.targetByte, URIGrammar.ByteSet(URIGrammar.targetChars))
        XCTAssertEqual(URIGrammar.ipLiteralByte, URIGrammar.ByteSet(URIGrammar.ipLiteralChars))
        for b in UInt8(0)...UInt8(255) {
            let c = Character(Unicode.Scalar(b))
            XCTAssertEqual(URIGrammar.targetByte.contains(b), b < 128 && URIGrammar.targetChars.contains(c), "\(b)")
        }
    }
}
