// libFuzzer target: the chunked transfer-coding decoder (ChunkedDecoder, RFC 9112 section 7.1),
// driven directly with the input as a chunked body.
//
// Invariants: identical data, end position and error for whole / byte-by-byte / random feeding;
// data ranges inside the consumed prefix; the decoder stops exactly after the trailer section;
// and a round trip: the input taken as a payload, framed with ChunkedFraming in pieces, decodes
// back to the payload and ends exactly at the end of the framing.

enum ChunkedOutcome: Equatable {
    case done(data: [UInt8], consumed: Int)
    case error(HTTPParseError, data: [UInt8])
    case incomplete(data: [UInt8])
}

func decodeChunked(_ input: UnsafeRawBufferPointer, feeding: Feeding, maxTrailer: Int) -> ChunkedOutcome {
    var decoder = ChunkedDecoder()
    var data: [UInt8] = []
    var total = 0
    // As in HTTPDrive.swift: exact-size copies for random pieces, slices of one copy otherwise.
    let whole = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 1)
    defer { whole.deallocate() }
    whole.copyMemory(from: input)
    for range in feeding.pieces(count: input.count) {
        let own = feeding == .random
        let piece =
            own
            ? UnsafeMutableRawBufferPointer.allocate(byteCount: range.count, alignment: 1)
            : UnsafeMutableRawBufferPointer(rebasing: whole[range])
        defer { if own { piece.deallocate() } }
        if own { piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[range])) }
        var pos = 0
        while pos < piece.count {
            let rest = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(piece)[pos...])
            let r: (consumed: Int, body: Range<Int>?, done: Bool)
            do throws(HTTPParseError) {
                r = try decoder.next(rest, maxTrailerBytes: maxTrailer)
            } catch {
                return .error(error, data: data)
            }
            fuzzCheck(r.consumed > 0 && r.consumed <= rest.count, "consumed \(r.consumed) of \(rest.count)")
            if let b = r.body {
                fuzzCheck(!r.done && !b.isEmpty && b.lowerBound >= 0 && b.upperBound <= r.consumed, "body range")
                data += rest[b]
            }
            pos += r.consumed
            total += r.consumed
            if r.done { return .done(data: data, consumed: total) }
        }
    }
    return .incomplete(data: data)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunkedDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let maxTrailer = size % 2 == 1 ? 64 : 64 * 1024
    let reference = decodeChunked(input, feeding: .whole, maxTrailer: maxTrailer)
    for feeding in [Feeding.byteByByte, .random] {
        let other = decodeChunked(input, feeding: feeding, maxTrailer: maxTrailer)
        fuzzCheck(other == reference, "feeding \(feeding) differs: \(other) vs \(reference)")
    }
    if case .done(_, let consumed) = reference {
        // The message ends with an empty line: LF, the last byte consumed.
        fuzzCheck(input[consumed - 1] == 0x0A, "ended on a byte other than LF")
    }

    // Round trip through the encoder the proxy uses when it re-frames a body.
    var framed: [UInt8] = []
    var splitter = Splitter(seed: size)
    var pos = 0
    while pos < size {
        let n = min(splitter.next(max: 300), size - pos)
        ChunkedFraming.appendChunkHeader(size: n, to: &framed)
        framed += UnsafeRawBufferPointer(rebasing: input[pos..<pos + n])
        framed += ChunkedFraming.chunkTrailer
        pos += n
    }
    framed += ChunkedFraming.lastChunk
    framed.withUnsafeBytes { f in
        for feeding in [Feeding.whole, .random] {
            let r = decodeChunked(f, feeding: feeding, maxTrailer: 64)
            fuzzCheck(r == .done(data: Array(input), consumed: f.count), "round trip: \(r)")
        }
    }
    return 0
}
