/// The type codes of the Thrift compact protocol, as they appear in field headers and list headers.
///
/// Thrift compact protocol spec (doc/specs/thrift-compact-protocol.md), "Struct encoding":
/// BOOLEAN_TRUE 1, BOOLEAN_FALSE 2, BYTE 3, I16 4, I32 5, I64 6, DOUBLE 7, BINARY 8, LIST 9,
/// SET 10, MAP 11, STRUCT 12.
public enum ThriftCompactType: UInt8, Sendable {
    case boolTrue = 1
    case boolFalse = 2
    case byte = 3
    case i16 = 4
    case i32 = 5
    case i64 = 6
    case double = 7
    case binary = 8
    case list = 9
    case set = 10
    case map = 11
    case `struct` = 12

    /// The element type a list of bools declares: the spec's original value was 2, but every
    /// mainstream implementation (Java, Python, Go) writes 1 and all readers accept both.
    public static let boolElement = ThriftCompactType.boolTrue
}

/// Thrift message types (TMessageType): CALL 1, REPLY 2, EXCEPTION 3, ONEWAY 4.
public enum ThriftMessageType: UInt8, Sendable {
    case call = 1
    case reply = 2
    case exception = 3
    case oneway = 4
}

/// Writes the Thrift compact protocol into a byte array.
///
/// Field ids are delta-encoded against the previous field of the same struct, so the writer keeps a
/// stack of "last field id" values, one per open struct (spec, "Struct encoding"). The stack array
/// is allocated once per writer; reuse a writer (`removeAll(keepingCapacity:)`) on hot paths.
public struct ThriftCompactWriter: Sendable {
    public private(set) var bytes: [UInt8]
    private var lastFieldID: Int16 = 0
    private var fieldIDStack: [Int16] = []

    public init(reservingCapacity capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer but keeps its storage, so the next encoding does not allocate.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
        fieldIDStack.removeAll(keepingCapacity: keepingCapacity)
        lastFieldID = 0
    }

    /// Appends already encoded compact bytes (an independently encoded struct, for instance: a
    /// struct's field deltas restart at zero, so its encoding does not depend on where it sits).
    /// Bytes laid out by the caller (fixed headers it has worked out itself).
    @inline(__always)
    mutating func appendByte(_ b: UInt8) { bytes.append(b) }

    @inline(__always)
    mutating func appendBytes(_ pair: (UInt8, UInt8), _ third: UInt8) {
        bytes.append(pair.0)
        bytes.append(pair.1)
        bytes.append(third)
    }

    public mutating func appendRaw(_ raw: some Sequence<UInt8>) {
        bytes.append(contentsOf: raw)
    }

    // MARK: - Message

    /// Spec "Message": `0x82`, then `(type << 5) | version` with version 1, then the sequence id as
    /// an unsigned varint of its 32 bits, then the method name as a binary.
    public mutating func writeMessageBegin(name: String, type: ThriftMessageType, seqID: Int32) {
        bytes.append(0x82)
        bytes.append((type.rawValue << 5) | 0x01)
        writeVarint(UInt64(UInt32(bitPattern: seqID)))
        writeString(name)
    }

    // MARK: - Structs and fields

    public mutating func writeStructBegin() {
        fieldIDStack.append(lastFieldID)
        lastFieldID = 0
    }

    /// Writes the stop field (a single 0 byte) that terminates every struct, then restores the
    /// enclosing struct's last field id.
    public mutating func writeStructEnd() {
        bytes.append(0x00)
        lastFieldID = fieldIDStack.popLast() ?? 0
    }

    /// Short form `(delta << 4) | type` when the id is 1...15 above the previous one; otherwise the
    /// long form: the type byte, then the id as a zigzag varint i16.
    public mutating func writeFieldBegin(id: Int16, type: ThriftCompactType) {
        let delta = Int(id) - Int(lastFieldID)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            writeI16(id)
        }
        lastFieldID = id
    }

    /// A bool field carries its value in the field header's type nibble and has no payload.
    public mutating func writeBoolField(id: Int16, _ value: Bool) {
        writeFieldBegin(id: id, type: value ? .boolTrue : .boolFalse)
    }

    public mutating func writeByteField(id: Int16, _ value: Int8) {
        writeFieldBegin(id: id, type: .byte)
        writeByte(value)
    }

    public mutating func writeI32Field(id: Int16, _ value: Int32) {
        writeFieldBegin(id: id, type: .i32)
        writeI32(value)
    }

    public mutating func writeI64Field(id: Int16, _ value: Int64) {
        writeFieldBegin(id: id, type: .i64)
        writeI64(value)
    }

    public mutating func writeDoubleField(id: Int16, _ value: Double) {
        writeFieldBegin(id: id, type: .double)
        writeDouble(value)
    }

    public mutating func writeStringField(id: Int16, _ value: String) {
        writeFieldBegin(id: id, type: .binary)
        writeString(value)
    }

    public mutating func writeBinaryField(id: Int16, _ value: some Collection<UInt8>) {
        writeFieldBegin(id: id, type: .binary)
        writeBinary(value)
    }

    // MARK: - Lists

    /// Short form `(size << 4) | elementType` for fewer than 15 elements; otherwise
    /// `0xF0 | elementType` followed by the size as a varint (spec, "List and Set").
    public mutating func writeListBegin(elementType: ThriftCompactType, count: Int) {
        precondition(count >= 0 && count <= Int(Int32.max), "thrift list size out of range")
        if count < 15 {
            bytes.append(UInt8(count) << 4 | elementType.rawValue)
        } else {
            bytes.append(0xF0 | elementType.rawValue)
            writeVarint(UInt64(count))
        }
    }

    /// Size in bytes of a list header for `count` elements.
    public static func listHeaderSize(count: Int) -> Int {
        count < 15 ? 1 : 1 + varintSize(UInt64(count))
    }

    // MARK: - Values (list elements and field payloads)

    /// A bool outside a field header (a list element) is one byte: 1 true, 2 false.
    public mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 1 : 2)
    }

    public mutating func writeByte(_ value: Int8) {
        bytes.append(UInt8(bitPattern: value))
    }

    public mutating func writeI16(_ value: Int16) {
        writeVarint(Self.zigzag(Int64(value)))
    }

    public mutating func writeI32(_ value: Int32) {
        writeVarint(Self.zigzag(Int64(value)))
    }

    public mutating func writeI64(_ value: Int64) {
        writeVarint(Self.zigzag(value))
    }

    /// Eight bytes, IEEE 754 binary64, little-endian (spec, "Double encoding"; unlike the binary
    /// protocol, which is big-endian).
    public mutating func writeDouble(_ value: Double) {
        var bits = value.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    /// A string is a binary of its UTF-8 bytes: varint length, then the bytes.
    public mutating func writeString(_ value: String) {
        let utf8 = value.utf8
        writeVarint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func writeBinary(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Unsigned LEB128 (`LEB128`).
    public mutating func writeVarint(_ value: UInt64) {
        LEB128.append(value, to: &bytes)
    }

    // MARK: - Sizes

    @inline(__always)
    public static func zigzag(_ n: Int64) -> UInt64 {
        UInt64(bitPattern: (n << 1) ^ (n >> 63))
    }

    public static func varintSize(_ value: UInt64) -> Int { LEB128.size(value) }

    /// Size of an i64 field with a short-form header: one header byte plus the zigzag varint.
    public static func i64FieldSize(_ value: Int64) -> Int {
        1 + varintSize(zigzag(value))
    }
}
