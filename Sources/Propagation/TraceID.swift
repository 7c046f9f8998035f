/// A 128-bit trace id as two 64-bit halves (Jaeger's Thrift and B3's 64-bit form both need the halves).
/// `high == 0` means the id fits 64 bits; it is still written at full width (32 hex) by injectors.
public struct TraceID: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// All-zero ids are invalid in every format we speak.
    public var isValid: Bool { high != 0 || low != 0 }

    /// 32 lowercase hex characters.
    public var hex32: String { hexString(high) + hexString(low) }

    /// A new random, valid id.
    public static func random<G: RandomNumberGenerator>(using g: inout G) -> TraceID {
        var id = TraceID(high: g.next(), low: g.next())
        if !id.isValid { id.low = 1 }
        return id
    }
}

/// A 64-bit span id; zero is invalid (and means "no parent" where a parent is optional).
public struct SpanID: Hashable, Sendable {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public var isValid: Bool { value != 0 }

    /// 16 lowercase hex characters.
    public var hex16: String { hexString(value) }

    public static let zero = SpanID(0)

    public static func random<G: RandomNumberGenerator>(using g: inout G) -> SpanID {
        var v: UInt64 = g.next()
        if v == 0 { v = 1 }
        return SpanID(v)
    }
}

/// 16 lowercase hex digits, zero padded.
@inline(__always)
func hexString(_ v: UInt64) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    return String(unsafeUninitializedCapacity: 16) { buf in
        var x = v
        for i in stride(from: 15, through: 0, by: -1) {
            buf[i] = digits[Int(x & 0xF)]
            x >>= 4
        }
        return 16
    }
}
