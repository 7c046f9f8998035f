/// Byte classes and comparisons the codec needs, on raw bytes so that no String is built per
/// header (RFC 9110 section 5.6.2 for `tchar`, RFC 5234 appendix B.1 for the core rules).
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let underscore: UInt8 = 0x5F

    /// `tchar`: the characters of a token (method, field name, connection option).
    @inline(__always)
    static func isTChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// `field-vchar` or whitespace: what a field value may hold (obs-text included, as RFC 9110
    /// section 5.5 lets recipients keep it); NUL, CR, LF, the other controls and DEL are not.
    @inline(__always)
    static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == htab || (b >= 0x20 && b != 0x7F)
    }

    @inline(__always)
    static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 {
        (b &- UInt8(ascii: "A")) < 26 ? b | 0x20 : b
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(b &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(b &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(b &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    /// Whether `bytes[range]` equals `lowercased` (already lower case) ignoring ASCII case;
    /// walks the String's UTF-8 view, which for native strings allocates nothing.
    @inline(__always)
    static func equalsIgnoringCase(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercased: String
    ) -> Bool {
        guard lowercased.utf8.count == range.count else { return false }
        // Native strings (all the proxy's names) compare over their contiguous UTF-8 directly.
        return lowercased.utf8.withContiguousStorageIfAvailable { matches(bytes, range, $0) }
            ?? matches(bytes, range, lowercased.utf8)
    }

    /// As `equalsIgnoringCase`, with `_` in `bytes` read as `-`: how a CGI-style back end would
    /// see the name.
    static func equalsFoldingUnderscore(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercased: String
    ) -> Bool {
        guard lowercased.utf8.count == range.count else { return false }
        var i = range.lowerBound
        for c in lowercased.utf8 {
            let b = lower(bytes[i])
            if (b == underscore ? UInt8(ascii: "-") : b) != c { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    private static func matches(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercased: some Sequence<UInt8>
    ) -> Bool {
        var i = range.lowerBound
        for c in lowercased {
            if lower(bytes[i]) != c { return false }
            i += 1
        }
        return true
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 section 5.6.1) in
    /// `bytes[range]`, OWS trimmed; empty elements are skipped, as the rule allows.
    @inline(__always)
    static func forEachListElement<E: Error>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
        _ body: (Range<Int>) throws(E) -> Void
    ) throws(E) {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound && bytes[end] != comma { end += 1 }
            var s = start
            var e = end
            while s < e && isOWS(bytes[s]) { s += 1 }
            while e > s && isOWS(bytes[e - 1]) { e -= 1 }
            if s < e { try body(s..<e) }
            start = end + 1
        }
    }
}
