/// A minimal Thrift compact *reader* for the tests: it decodes generically (no knowledge of the
/// Jaeger IDL), so the writer's output can be checked structurally without trusting the writer.
/// Decoding rules from the compact protocol spec, written independently of ThriftCompactWriter.
enum ThriftValue: Equatable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case binary([UInt8])
    case list(elementType: UInt8, [ThriftValue])
    case structure([Int16: ThriftValue])

    var int: Int64? { if case .int(let v) = self { return v } else { return nil } }
    var string: String? {
        if case .binary(let b) = self {
            return String(validating: b, as: UTF8.self)
        } else {
            return nil
        }
    }
    var fields: [Int16: ThriftValue]? {
        if case .structure(let f) = self { return f } else { return nil }
    }
    var elements: [ThriftValue]? { if case .list(_, let e) = self { return e } else { return nil } }
}

struct CompactDecodeError: Error, CustomStringConvertible {
    var description: String
}

struct CompactTestReader {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else {
            throw CompactDecodeError(description: "truncated at \(position)")
        }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw CompactDecodeError(description: "varint too long") }
        }
    }

    mutating func zigzag() throws -> Int64 {
        let u = try varint()
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    /// (name, message type, seqid, arguments struct)
    mutating func readMessage() throws -> (String, UInt8, UInt64, [Int16: ThriftValue]) {
        guard try byte() == 0x82 else { throw CompactDecodeError(description: "protocol id") }
        let vt = try byte()
        guard vt & 0x1F == 1 else { throw CompactDecodeError(description: "version") }
        let seq = try varint()
        guard case .binary(let name) = try value(type: 8) else { fatalError() }
        let args = try readStruct()
        return (String(decoding: name, as: UTF8.self), vt >> 5, seq, args)
    }

    mutating func readStruct() throws -> [Int16: ThriftValue] {
        var fields: [Int16: ThriftValue] = [:]
        var last: Int16 = 0
        while true {
            let header = try byte()
            if header == 0 { return fields }
            let type = header & 0x0F
            let delta = header >> 4
            let id = delta == 0 ? Int16(try zigzag()) : last + Int16(delta)
            last = id
            guard fields[id] == nil else {
                throw CompactDecodeError(description: "duplicate field \(id)")
            }
            if type == 1 || type == 2 {
                fields[id] = .bool(type == 1)
            } else {
                fields[id] = try value(type: type)
            }
        }
    }

    mutating func value(type: UInt8) throws -> ThriftValue {
        switch type {
        case 1, 2: return .bool(try byte() == 1)
        case 3: return .int(Int64(Int8(bitPattern: try byte())))
        case 4, 5, 6: return .int(try zigzag())
        case 7:
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(try byte()) << (8 * UInt64(i)) }
            return .double(Double(bitPattern: bits))
        case 8:
            let n = Int(try varint())
            guard position + n <= bytes.count else { throw CompactDecodeError(description: "binary") }
            defer { position += n }
            return .binary(Array(bytes[position..<position + n]))
        case 9:
            let h = try byte()
            var size = Int(h >> 4)
            if size == 15 { size = Int(try varint()) }
            var items: [ThriftValue] = []
            for _ in 0..<size { items.append(try value(type: h & 0x0F)) }
            return .list(elementType: h & 0x0F, items)
        case 12: return .structure(try readStruct())
        default: throw CompactDecodeError(description: "unsupported type \(type)")
        }
    }
}
