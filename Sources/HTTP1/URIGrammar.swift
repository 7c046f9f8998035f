/// The four shapes a request-target may take (RFC 9112 section 3.2).
public enum RequestTargetForm: Equatable, Sendable {
    /// `/path?query`: every method.
    case origin
    /// `http://authority/path?query`: accepted from clients that talk to the proxy as to a
    /// forward proxy, and rewritten to origin-form before it goes upstream.
    case absolute
    /// `host:port`: CONNECT only.
    case authority
    /// `*`: OPTIONS only.
    case asterisk
}

/// What the request-target grammar found: its form, the part forwarded as origin-form, and the
/// authority for the two forms that carry one.
struct ParsedTarget {
    var form: RequestTargetForm
    /// Origin-form: the target without a fragment. Absolute-form: the path and query (possibly
    /// empty, or starting with `?`: the writer adds the `/`). Asterisk and authority forms: the target.
    var forward: Range<Int>
    var authority: Range<Int>?
}

/// The one owner of RFC 3986's character classes as the proxy applies them: which bytes a
/// request-target and a Host value may hold, and the shapes of target and authority.
///
/// Stricter than nginx where nginx forwards what the upstream might read differently (raw
/// non-ASCII, `"`, `<`, `>`, broken percent-encoding, a target of none of the four forms);
/// looser than RFC 3986 for the bytes browsers leave unescaped (`[ ] { } | ^ \` and backtick,
/// per the WHATWG URL standard's percent-encode sets), which real clients send every day.
enum URIGrammar {
    /// A 128-bit set of ASCII bytes. The sets below are literals (checked against their character
    /// lists by the tests): a computed `static let` would cost a `swift_once` per byte looked at.
    struct ByteSet: Equatable {
        let low: UInt64
        let high: UInt64

        init(low: UInt64, high: UInt64) {
            self.low = low
            self.high = high
        }

        /// The set of `chars`: how the literals were made.
        init(_ chars: String) {
            var low: UInt64 = 0
            var high: UInt64 = 0
            for b in chars.utf8 {
                if b < 64 { low |= 1 << UInt64(b) } else { high |= 1 << UInt64(b - 64) }
            }
            self.init(low: low, high: high)
        }

        @inline(__always)
        func contains(_ b: UInt8) -> Bool {
            b < 64 ? (low >> UInt64(b)) & 1 == 1 : b < 128 ? (high >> UInt64(b &- 64)) & 1 == 1 : false
        }
    }

    static let alphaDigitChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    /// unreserved and sub-delims: what a reg-name may hold besides percent-encoding.
    static let regNameChars = alphaDigitChars + "-._~!$&'()*+,;="
    /// What a path or query may hold besides percent-encoding: pchar, `/`, `?`, and the bytes
    /// browsers leave raw.
    static let targetChars = regNameChars + ":@/?[]{}|^\\`"
    /// Inside `[...]`: an IPv6 address or an IPvFuture literal.
    static let ipLiteralChars = regNameChars + ":"

    @inline(__always) static var regName: ByteSet { ByteSet(low: 0x2bff_7fd2_0000_0000, high: 0x47ff_fffe_87ff_fffe) }
    @inline(__always) static var targetByte: ByteSet {
        ByteSet(low: 0xafff_ffd2_0000_0000, high: 0x7fff_ffff_ffff_ffff)
    }
    @inline(__always) static var ipLiteralByte: ByteSet {
        ByteSet(low: 0x2fff_7fd2_0000_0000, high: 0x47ff_fffe_87ff_fffe)
    }

    /// Whether `b` can appear anywhere in a request-target we accept (`%` and `#` included):
    /// lets a request line be refused before its end arrives.
    @inline(__always)
    static func mayAppearInTarget(_ b: UInt8) -> Bool {
        targetByte.contains(b) || b == UInt8(ascii: "%") || b == UInt8(ascii: "#")
    }

    /// Classifies and checks a request-target (RFC 9112 section 3.2): the form must suit the
    /// method (asterisk only with OPTIONS, authority only and always with CONNECT).
    static func parseTarget(
        _ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, method: HTTPMethod
    ) throws(HTTPParseError) -> ParsedTarget {
        if method == .connect {
            guard isAuthority(p, r, requirePort: true) else { throw .invalidTarget }
            return ParsedTarget(form: .authority, forward: r, authority: r)
        }
        let first = p[r.lowerBound]
        if first == UInt8(ascii: "/") {
            return ParsedTarget(form: .origin, forward: r.lowerBound..<(try pathAndQueryEnd(p, r)), authority: nil)
        }
        if first == UInt8(ascii: "*") && r.count == 1 {
            guard method == .options else { throw .invalidTarget }
            return ParsedTarget(form: .asterisk, forward: r, authority: nil)
        }
        // absolute-form: "http" / "https" "://" authority path-abempty [ "?" query ].
        var i = r.lowerBound
        for c in "http".utf8 {
            guard i < r.upperBound, ASCII.lower(p[i]) == c else { throw .invalidTarget }
            i += 1
        }
        if i < r.upperBound && ASCII.lower(p[i]) == UInt8(ascii: "s") { i += 1 }
        for c in "://".utf8 {
            guard i < r.upperBound, p[i] == c else { throw .invalidTarget }
            i += 1
        }
        let authorityStart = i
        while i < r.upperBound, p[i] != UInt8(ascii: "/"), p[i] != UInt8(ascii: "?"), p[i] != UInt8(ascii: "#") {
            i += 1
        }
        let authority = authorityStart..<i
        // Userinfo is refused (RFC 9110 section 4.2.4), and an http URI needs a host (4.2.1).
        guard isAuthority(p, authority, requirePort: false) else { throw .invalidTarget }
        return ParsedTarget(
            form: .absolute, forward: i..<(try pathAndQueryEnd(p, i..<r.upperBound)), authority: authority)
    }

    /// Checks the path and query in `r` and returns where the forwarded part ends: at a fragment,
    /// which is checked too but never forwarded (RFC 9112 section 3.2 has no place for it).
    private static func pathAndQueryEnd(
        _ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>
    ) throws(HTTPParseError) -> Int {
        var fragment: Int?
        var i = r.lowerBound
        let set = targetByte
        while i < r.upperBound {
            // Most targets are plain bytes all the way: a tight loop over those.
            if set.contains(p[i]) {
                i += 1
                continue
            }
            let b = p[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < r.upperBound, ASCII.hexValue(p[i + 1]) != nil, ASCII.hexValue(p[i + 2]) != nil else {
                    throw .invalidTarget
                }
                i += 3
                continue
            }
            guard b == UInt8(ascii: "#") && fragment == nil else { throw .invalidTarget }
            fragment = i
            i += 1
        }
        return fragment ?? r.upperBound
    }

    /// `host [ ":" port ]` with no userinfo (a Host value, or an absolute-form target's
    /// authority), or `host ":" port` when `requirePort` (CONNECT's authority-form). The host is
    /// an IP literal in brackets or a non-empty reg-name (IPv4 addresses are reg-names
    /// syntactically); a port is 1 to 5 digits up to 65535.
    static func isAuthority(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, requirePort: Bool) -> Bool {
        guard !r.isEmpty else { return false }
        var i = r.lowerBound
        if p[i] == UInt8(ascii: "[") {
            i += 1
            let start = i
            while i < r.upperBound && ipLiteralByte.contains(p[i]) { i += 1 }
            guard i > start, i < r.upperBound, p[i] == UInt8(ascii: "]") else { return false }
            i += 1
        } else {
            let start = i
            while i < r.upperBound {
                let b = p[i]
                if b == UInt8(ascii: "%") {
                    guard i + 2 < r.upperBound, ASCII.hexValue(p[i + 1]) != nil, ASCII.hexValue(p[i + 2]) != nil else {
                        return false
                    }
                    i += 3
                } else if regName.contains(b) {
                    i += 1
                } else {
                    break
                }
            }
            guard i > start else { return false }
        }
        if i == r.upperBound { return !requirePort }
        guard p[i] == UInt8(ascii: ":") else { return false }
        let digits = i + 1..<r.upperBound
        guard (1...5).contains(digits.count) else { return false }
        var port = 0
        for j in digits {
            let d = p[j] &- UInt8(ascii: "0")
            guard d < 10 else { return false }
            port = port * 10 + Int(d)
        }
        return port <= 65535
    }
}
