/// Decodes the chunked transfer coding (RFC 9112 section 7.1) incrementally, reporting only the
/// chunk data, never the framing.
struct ChunkedDecoder: Sendable {
    /// Longest chunk extension accepted on one size line; extensions are ignored, and an unbounded
    /// one would let a peer make us scan forever without progress.
    static let maxExtensionBytes = 4096
    /// 15 hex digits are 60 bits: always fits an Int; more is no real chunk.
    static let maxSizeDigits = 15

    enum Phase: Sendable {
        case size
        /// After the hex digits: BWS, then `;` or the line end.
        case afterSize
        case extensions
        /// CR seen at the end of the size line.
        case sizeLF
        case data
        /// After the data: CRLF required.
        case dataCR
        case dataLF
        /// After the last chunk: trailer field lines up to an empty line.
        case trailer
    }

    private var phase: Phase = .size
    private var size = 0
    private var digits = 0
    private var extensionBytes = 0
    private var remaining = 0
    private var trailerBytes = 0
    /// Trailer line scan: 0 inside a line, 1 at a line start, 2 after CR at a line start,
    /// 3 after CR inside a line.
    private var trailerLine: UInt8 = 1

    /// Consumes framing bytes from `input` until it has chunk data to report (`body`), the
    /// message ends (`done`), or the input runs out.
    mutating func next(
        _ input: UnsafeRawBufferPointer, maxTrailerBytes: Int
    ) throws(HTTPParseError) -> (consumed: Int, body: Range<Int>?, done: Bool) {
        var i = 0
        let n = input.count
        while i < n {
            let b = input[i]
            switch phase {
            case .size:
                if let h = ASCII.hexValue(b) {
                    guard digits < Self.maxSizeDigits else { throw .invalidChunk }
                    size = size << 4 | h
                    digits += 1
                    i += 1
                } else {
                    guard digits > 0 else { throw .invalidChunk }
                    phase = .afterSize
                }
            case .afterSize:
                switch b {
                case ASCII.sp, ASCII.htab: break
                case ASCII.semicolon: phase = .extensions
                case ASCII.cr: phase = .sizeLF
                case ASCII.lf: endSizeLine()
                default: throw .invalidChunk
                }
                i += 1
            case .extensions:
                if b == ASCII.cr {
                    phase = .sizeLF
                } else if b == ASCII.lf {
                    endSizeLine()
                } else {
                    extensionBytes += 1
                    guard ASCII.isFieldValueByte(b), extensionBytes <= Self.maxExtensionBytes else {
                        throw .invalidChunk
                    }
                }
                i += 1
            case .sizeLF:
                guard b == ASCII.lf else { throw .invalidChunk }
                endSizeLine()
                i += 1
            case .data:
                let count = min(remaining, n - i)
                remaining -= count
                if remaining == 0 { phase = .dataCR }
                return (i + count, i..<i + count, false)
            case .dataCR:
                if b == ASCII.cr {
                    phase = .dataLF
                } else if b == ASCII.lf {
                    startSize()
                } else {
                    throw .invalidChunk
                }
                i += 1
            case .dataLF:
                guard b == ASCII.lf else { throw .invalidChunk }
                startSize()
                i += 1
            case .trailer:
                trailerBytes += 1
                guard trailerBytes <= maxTrailerBytes else { throw .headerTooLarge }
                if try trailerByte(b) { return (i + 1, nil, true) }
                i += 1
            }
        }
        return (i, nil, false)
    }

    /// Advances the trailer scan; true at the empty line that ends the message. The fields are
    /// discarded (the proxy does not forward trailers), so only line structure is checked.
    private mutating func trailerByte(_ b: UInt8) throws(HTTPParseError) -> Bool {
        switch trailerLine {
        case 1:
            if b == ASCII.lf { return true }
            trailerLine = b == ASCII.cr ? 2 : 0
        case 2:
            guard b == ASCII.lf else { throw .invalidChunk }
            return true
        case 3:
            guard b == ASCII.lf else { throw .invalidChunk }
            trailerLine = 1
        default:
            if b == ASCII.lf {
                trailerLine = 1
            } else if b == ASCII.cr {
                trailerLine = 3
            } else if !ASCII.isFieldValueByte(b) {
                throw .invalidChunk
            }
        }
        return false
    }

    private mutating func endSizeLine() {
        if size == 0 {
            phase = .trailer
            trailerLine = 1
            trailerBytes = 0
        } else {
            phase = .data
            remaining = size
        }
    }

    private mutating func startSize() {
        phase = .size
        size = 0
        digits = 0
        extensionBytes = 0
    }
}
