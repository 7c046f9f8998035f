/// W3C `tracestate`: combines repeated fields and cleans the list before it is passed on.
///
/// Trace Context §3.3 (tracestate Header): repeated fields are combined in order (RFC 9110 §5.3),
/// members are `key=value` separated by commas with optional whitespace, empty members are
/// allowed, and a list holds at most 32 members. The processing model ("A traceparent is
/// Received", step 3) lets a vendor discard invalid entries, and "Mutating the tracestate Field"
/// lets it discard duplicate keys and remove entries from the right when there are too many. So
/// the proxy passes on what is valid, in its order, rather than dropping a whole list for one
/// bad member:
/// - an invalid member (a key or value outside the grammar, over 256 characters, no `=`) is
///   left out on its own;
/// - a repeated key keeps its first, left-most member (the left-most is the most recent);
/// - past 32 members the rest, the right-most, are left out.
/// Members that stay are never changed or reordered; only optional whitespace goes.
public enum TraceState {
    /// §3.3.1: "There can be a maximum of 32 list-members in a list."
    public static let maxMembers = 32
    /// §3.3.1.3.1 and .2: keys and values are at most 256 characters.
    static let maxKeyLength = 256
    static let maxValueLength = 256

    /// The combined, cleaned value of all `tracestate` fields, normalised to `m1,m2` (no OWS, no
    /// empty members); nil when absent or when no member is valid. Call it only for a valid
    /// `traceparent` (§3.3: a vendor that failed to parse traceparent MUST NOT parse tracestate).
    public static func extract(from headers: some HeaderSource) -> String? {
        var list = Builder()
        headers.forEachValue(lowercasedName: "tracestate") { value in
            list.add(field: value)
        }
        return list.result
    }

    /// Cleans one combined `tracestate` value given as a String (tests, configuration).
    public static func normalize(_ value: String) -> String? {
        var list = Builder()
        var copy = value
        copy.withUTF8 { list.add(field: UnsafeRawBufferPointer($0)) }
        return list.result
    }

    /// Accumulates members across fields, remembering where each key is to find duplicates.
    struct Builder {
        var out: [UInt8] = []
        var keys: [Range<Int>] = []

        var result: String? { keys.isEmpty ? nil : String(decoding: out, as: UTF8.self) }

        mutating func add(field: UnsafeRawBufferPointer) {
            var start = 0
            var i = 0
            while keys.count < TraceState.maxMembers && i <= field.count {
                if i == field.count || field[i] == UInt8(ascii: ",") {
                    addMember(field, start, i)
                    start = i + 1
                }
                i += 1
            }
        }

        private mutating func addMember(_ buf: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
            var s = from
            var e = to
            while s < e && isOWS(buf[s]) { s += 1 }
            while e > s && isOWS(buf[e - 1]) { e -= 1 }
            if s == e { return }  // empty and whitespace-only members are allowed (§3.3.1)
            var eq = s
            while eq < e && buf[eq] != UInt8(ascii: "=") { eq += 1 }
            guard eq < e, isValidKey(buf, s, eq), isValidValue(buf, eq + 1, e) else { return }
            let key = UnsafeRawBufferPointer(rebasing: buf[s..<eq])
            for other in keys where out[other].elementsEqual(key) { return }
            if !out.isEmpty { out.append(UInt8(ascii: ",")) }
            let keyStart = out.count
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[s..<e]))
            keys.append(keyStart..<(keyStart + eq - s))
        }
    }

    @inline(__always)
    static func isOWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    /// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`,
    /// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"` (§3.3.1.3.1).
    static func isValidKey(_ buf: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
        guard e > s, e - s <= maxKeyLength else { return false }
        let first = buf[s]
        guard isLCAlpha(first) || isDigit(first) else { return false }
        var i = s + 1
        while i < e {
            let c = buf[i]
            switch c {
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"),
                UInt8(ascii: "@"):
                break
            default:
                guard isLCAlpha(c) || isDigit(c) else { return false }
            }
            i += 1
        }
        return true
    }

    /// `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`,
    /// `chr = %x20 / nblk-chr` (§3.3.1.3.2). Trailing spaces were trimmed as OWS already.
    static func isValidValue(_ buf: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> Bool {
        guard e > s, e - s <= maxValueLength, buf[e - 1] != 0x20 else { return false }
        var i = s
        while i < e {
            let c = buf[i]
            guard c >= 0x20 && c <= 0x7E && c != UInt8(ascii: ",") && c != UInt8(ascii: "=")
            else { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    static func isLCAlpha(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
