/// Writing the chunked transfer coding (RFC 9112 section 7.1) for bodies the proxy re-frames.
public enum ChunkedFraming {
    /// Lends `chunk-size CRLF` (the size in lower-case hex, no extensions) to `body`, from the
    /// stack: the request path frames every chunk without allocating. A size of 0 would end the
    /// body, so callers send `lastChunk` for that instead.
    @inlinable
    public static func withChunkHeader<R>(size: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(size >= 0, "negative chunk size")
        // 16 hex digits at most, and CRLF.
        var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &storage) { p in
            var shift = max(0, (Int.bitWidth - size.leadingZeroBitCount + 3) / 4 * 4 - 4)
            var n = 0
            while shift >= 0 {
                let d = UInt8(truncatingIfNeeded: (size >> shift) & 0xF)
                p[n] = d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10
                n += 1
                shift -= 4
            }
            p[n] = 13  // CR
            p[n + 1] = 10  // LF
            return body(UnsafeRawBufferPointer(rebasing: p[0..<n + 2]))
        }
    }

    /// `withChunkHeader`, appended to `out`.
    public static func appendChunkHeader(size: Int, to out: inout [UInt8]) {
        withChunkHeader(size: size) { out.append(contentsOf: $0) }
    }

    /// The CRLF that follows each chunk's data.
    public static let chunkTrailer: [UInt8] = [ASCII.cr, ASCII.lf]

    /// The last chunk and an empty trailer section: `0 CRLF CRLF`.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
