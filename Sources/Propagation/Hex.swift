/// Hex digit reading and writing on raw bytes, shared by all codecs.
///
/// The W3C and B3 specs allow only lowercase hex (W3C `HEXDIGLC`, B3 "lower-hex"); Jaeger clients
/// parse ids with a general base-16 parser, so the Jaeger codec asks for either case.
enum Hex {
    /// The value of a lowercase hex digit, or nil.
    @inline(__always)
    static func lowerValue(_ b: UInt8) -> UInt64? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(b &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(b &- UInt8(ascii: "a") &+ 10)
        default: return nil
        }
    }

    /// The value of a hex digit of either case, or nil.
    @inline(__always)
    static func anyCaseValue(_ b: UInt8) -> UInt64? {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(b &- UInt8(ascii: "A") &+ 10)
        default: return lowerValue(b)
        }
    }

    /// Reads `count` (at most 16) lowercase hex digits starting at `start`; nil on any other byte.
    @inline(__always)
    static func parseLower(_ buf: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> UInt64? {
        var v: UInt64 = 0
        var i = start
        let end = start + count
        while i < end {
            guard let d = lowerValue(buf[i]) else { return nil }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Reads a 16- or 32-digit lowercase hex trace id (B3's two widths).
    @inline(__always)
    static func parseTraceID16or32(_ buf: UnsafeRawBufferPointer, _ start: Int, _ count: Int)
        -> TraceID?
    {
        switch count {
        case 16:
            guard let low = parseLower(buf, start, 16) else { return nil }
            return TraceID(high: 0, low: low)
        case 32:
            guard let high = parseLower(buf, start, 16), let low = parseLower(buf, start + 16, 16)
            else { return nil }
            return TraceID(high: high, low: low)
        default:
            return nil
        }
    }

    /// The lowercase hex digit for the low four bits of `v`.
    @inline(__always)
    static func digit(_ v: UInt64) -> UInt8 {
        let n = UInt8(truncatingIfNeeded: v & 0xF)
        return n < 10 ? n &+ 48 : n &+ 87
    }

    /// Appends `v` as 16 lowercase hex digits, zero padded: formatted on the stack and appended
    /// at once (one capacity check instead of sixteen; every forwarded request carries several).
    @inline(__always)
    static func append16(_ v: UInt64, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { p in
            var x = v
            for i in stride(from: 15, through: 0, by: -1) {
                p[i] = digit(x)
                x >>= 4
            }
        }
        withUnsafeBytes(of: &digits) { out.append(contentsOf: $0) }
    }

    /// Appends a trace id as 32 lowercase hex digits: injectors always write the full width.
    @inline(__always)
    static func append32(_ id: TraceID, to out: inout [UInt8]) {
        append16(id.high, to: &out)
        append16(id.low, to: &out)
    }
}

extension [UInt8] {
    /// Appends an ASCII literal; used for header names and separators.
    @inline(__always)
    mutating func appendASCII(_ s: StaticString) {
        s.withUTF8Buffer { self.append(contentsOf: $0) }
    }
}
