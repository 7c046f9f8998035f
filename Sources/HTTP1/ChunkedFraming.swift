/// Writing the chunked transfer coding (RFC 9112 section 7.1) for bodies the proxy re-frames.
public enum ChunkedFraming {
    /// Appends `chunk-size CRLF`: the size in lower-case hex, no extensions. A size of 0 would
    /// end the body, so callers send `lastChunk` for that instead.
    public static func appendChunkHeader(size: Int, to out: inout [UInt8]) {
        precondition(size >= 0, "negative chunk size")
        var shift = (Int.bitWidth - size.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            let d = UInt8(truncatingIfNeeded: (size >> shift) & 0xF)
            out.append(d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10)
            shift -= 4
        }
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    /// The CRLF that follows each chunk's data.
    public static let chunkTrailer: [UInt8] = [ASCII.cr, ASCII.lf]

    /// The last chunk and an empty trailer section: `0 CRLF CRLF`.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
