/// Byte-level JSON writing: no Foundation, no intermediate strings. Public so that the trace
/// view's API (the `TraceView` module) writes its JSON with the same escaping.
public enum JSONBytes {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// 16 lowercase hex digits, zero padded (Zipkin ids, zipkin2-api.yaml `Span.id`).
    public static func appendHex(_ v: UInt64, into out: inout [UInt8]) {
        var shift: UInt64 = 60
        while true {
            out.append(hexDigits[Int((v >> shift) & 0xF)])
            if shift == 0 { break }
            shift -= 4
        }
    }

    /// A JSON integer (RFC 8259 section 6); `Int64.min` works because its magnitude fits UInt64.
    public static func appendDecimal(_ v: Int64, into out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var count = 1
        var t = m
        while t >= 10 {
            t /= 10
            count += 1
        }
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        var i = out.count
        repeat {
            i -= 1
            out[i] = UInt8(ascii: "0") + UInt8(m % 10)
            m /= 10
        } while m != 0
    }

    /// RFC 8259 section 7: `"` and `\` escaped, control characters U+0000...U+001F as `\u00XX`;
    /// every other byte (multi-byte UTF-8 included) copied as is.
    public static func appendString(_ s: String, into out: inout [UInt8]) {
        appendString(utf8: s.utf8, into: &out)
    }

    /// Bytes that are not valid UTF-8 (a header's obs-text, say) are repaired to U+FFFD first: a
    /// collector refuses a whole batch over one bad string.
    public static func appendString(utf8 raw: some Collection<UInt8>, into out: inout [UInt8]) {
        if !UTF8Text.isValid(raw) {
            return appendString(utf8: Array(String(decoding: raw, as: UTF8.self).utf8), into: &out)
        }
        out.append(UInt8(ascii: "\""))
        for b in raw {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0x00..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// UTF-8 validity, checked before text leaves for a collector (protobuf `string` fields and JSON
/// must be UTF-8; HTTP field values need not be).
enum UTF8Text {
    /// ASCII, the common case, costs one pass; anything else is checked by decoding it.
    static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        var it = bytes.makeIterator()
        var decoder = Unicode.UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// `bytes`, or their repair (invalid sequences as U+FFFD) when they are not UTF-8.
    static func repaired(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        isValid(bytes) ? bytes : Array(String(decoding: bytes, as: UTF8.self).utf8)[...]
    }
}
