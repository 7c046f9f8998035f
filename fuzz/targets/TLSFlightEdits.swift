// Mutual mode of the tls_server_handshake target: what the input does to the live client's flights
// on their way to the server. See fuzz/README.md for the input layout.

/// One edit, from 4 input bytes: [flight << 4 | kind, offset high, offset low, value]. The flight is
/// the number of the client's output batch it applies to (0 = the ClientHello); offsets wrap
/// around the flight's length, record numbers around its record count.
struct FlightEdit {
    enum Kind: Int {
        case xorByte = 0
        case setByte
        case truncate
        /// Truncate, and the connection ends after this flight.
        case truncateAndClose
        case deleteRange
        case duplicateRange
        case insertByte
        case swapRecords
        case dropRecord
        case replayRecord
        case moveRecordToEnd
        /// Splits a record's body in two records with the same header fields: a valid
        /// refragmentation for plaintext handshake records.
        case refragment
        /// Inserts an empty record of type 20 + value % 4 before a record.
        case insertEmptyRecord
        case setRecordVersion
        /// Holds the flight back and delivers it after the next one (or at the end).
        case holdBack
        /// Inserts a plaintext alert (level 1 or 2, description = value) before a record.
        case insertAlert
    }

    let flight: Int
    let kind: Kind
    let offset: Int
    let value: UInt8

    static let size = 4

    static func parse(_ bytes: ArraySlice<UInt8>, limit: Int = 64) -> [FlightEdit] {
        var out: [FlightEdit] = []
        var i = bytes.startIndex
        while i + size <= bytes.endIndex && out.count < limit {
            out.append(
                FlightEdit(
                    flight: Int(bytes[i] >> 4), kind: Kind(rawValue: Int(bytes[i] & 0x0F))!,
                    offset: Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]), value: bytes[i + 3]))
            i += size
        }
        return out
    }

    var encoded: [UInt8] { [UInt8(flight << 4 | kind.rawValue), UInt8(offset >> 8), UInt8(offset & 0xFF), value] }

    /// What applying edits to a flight asks of the delivery besides new bytes.
    struct Effects {
        var close = false
        var holdBack = false
    }

    func apply(to bytes: inout [UInt8], _ effects: inout Effects) {
        let n = bytes.count
        let records = recordRanges(bytes)
        func record(_ k: Int) -> Range<Int>? { records.isEmpty ? nil : records[k % records.count] }
        switch kind {
        case .xorByte: if n > 0 { bytes[offset % n] ^= value == 0 ? 0x80 : value }
        case .setByte: if n > 0 { bytes[offset % n] = value }
        case .truncate, .truncateAndClose:
            bytes.removeLast(n - offset % (n + 1))
            if kind == .truncateAndClose { effects.close = true }
        case .deleteRange:
            if n > 0 {
                let start = offset % n
                bytes.removeSubrange(start..<min(n, start + Int(value) + 1))
            }
        case .duplicateRange:
            if n > 0 {
                let start = offset % n
                let range = start..<min(n, start + Int(value) + 1)
                bytes.insert(contentsOf: bytes[range], at: range.upperBound)
            }
        case .insertByte: bytes.insert(value, at: offset % (n + 1))
        case .swapRecords:
            guard let a = record(offset), let b = record(Int(value)), a != b else { return }
            let (first, second) = a.lowerBound < b.lowerBound ? (a, b) : (b, a)
            bytes =
                Array(bytes[..<first.lowerBound]) + bytes[second] + bytes[first.upperBound..<second.lowerBound]
                + bytes[first] + bytes[second.upperBound...]
        case .dropRecord: if let r = record(offset) { bytes.removeSubrange(r) }
        case .replayRecord: if let r = record(offset) { bytes.insert(contentsOf: bytes[r], at: r.upperBound) }
        case .moveRecordToEnd:
            if let r = record(offset) {
                let moved = Array(bytes[r])
                bytes.removeSubrange(r)
                bytes += moved
            }
        case .refragment:
            guard let r = record(offset), r.count >= 7 else { return }
            let body = r.count - 5
            let cut = 1 + Int(value) % (body - 1)
            let header = Array(bytes[r.lowerBound..<r.lowerBound + 3])
            let middle = r.lowerBound + 5 + cut
            let first = header + [UInt8(cut >> 8), UInt8(cut & 0xFF)] + bytes[(r.lowerBound + 5)..<middle]
            let second = header + [UInt8((body - cut) >> 8), UInt8((body - cut) & 0xFF)] + bytes[middle..<r.upperBound]
            bytes.replaceSubrange(r, with: first + second)
        case .insertEmptyRecord:
            let at = record(offset)?.lowerBound ?? n
            bytes.insert(contentsOf: [20 + value % 4, 3, 3, 0, 0], at: at)
        case .setRecordVersion:
            if let r = record(offset), r.count >= 3 { bytes[r.lowerBound + 2] = value }
        case .holdBack: effects.holdBack = true
        case .insertAlert:
            let at = record(offset)?.lowerBound ?? n
            bytes.insert(contentsOf: [21, 3, 3, 0, 2, offset & 1 == 0 ? 2 : 1, value], at: at)
        }
    }
}
