/// The protobuf wire format, as much of it as OTLP needs: varints, fixed64/fixed32, and
/// length-delimited fields (https://protobuf.dev/programming-guides/encoding/). Bytes go straight
/// into the caller's buffer; a nested message whose size is not known in advance is written into
/// a scratch buffer and appended behind its length.
enum ProtobufWriter {
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    @inline(__always)
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) { LEB128.append(value, to: &out) }

    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int { LEB128.size(value) }

    @inline(__always)
    static func appendTag(_ field: UInt32, _ type: WireType, to out: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | UInt32(type.rawValue)), to: &out)
    }

    /// The size of a field's tag (fields 1-15 take one byte).
    @inline(__always)
    static func tagSize(_ field: UInt32) -> Int { varintSize(UInt64(field << 3)) }

    static func appendVarintField(_ field: UInt32, _ value: UInt64, to out: inout [UInt8]) {
        appendTag(field, .varint, to: &out)
        appendVarint(value, to: &out)
    }

    static func appendFixed64Field(_ field: UInt32, _ value: UInt64, to out: inout [UInt8]) {
        appendTag(field, .fixed64, to: &out)
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendFixed32Field(_ field: UInt32, _ value: UInt32, to out: inout [UInt8]) {
        appendTag(field, .fixed32, to: &out)
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// A string or bytes field.
    static func appendBytesField(_ field: UInt32, _ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        appendTag(field, .lengthDelimited, to: &out)
        appendVarint(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// A length-delimited field's tag and length; the caller appends `length` bytes of content.
    static func appendHeader(_ field: UInt32, length: Int, to out: inout [UInt8]) {
        appendTag(field, .lengthDelimited, to: &out)
        appendVarint(UInt64(length), to: &out)
    }

    /// How many bytes a length-delimited field with `length` bytes of content takes.
    @inline(__always)
    static func fieldSize(_ field: UInt32, length: Int) -> Int {
        tagSize(field) + varintSize(UInt64(length)) + length
    }
}
