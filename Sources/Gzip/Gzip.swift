import CZlib

/// gzip (RFC 1952) through the system's zlib.
///
/// Zipkin collectors accept `Content-Encoding: gzip` bodies (zipkin2-api.yaml, `POST /spans`), which
/// shrinks the repetitive JSON of a batch several times over; `decompress` serves tests and collectors.
public enum Gzip {
    /// zlib's windowBits: 15 is the largest window; +16 asks for a gzip header and trailer instead
    /// of the zlib wrapper (zlib.h, deflateInit2).
    static let gzipWindowBits: Int32 = 15 + 16
    /// +32 lets inflate detect a zlib or gzip header by itself (zlib.h, inflateInit2).
    static let autoDetectWindowBits: Int32 = 15 + 32
    /// zlib's default memory level (zlib.h, deflateInit2: "memLevel=8").
    static let defaultMemLevel: Int32 = 8

    /// Returns the gzip member holding `input`; `level` is zlib's 0 (store) ... 9 (smallest).
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let initStatus = traceproxy_deflateInit2(
            &stream, level, Z_DEFLATED, gzipWindowBits, defaultMemLevel, Z_DEFAULT_STRATEGY)
        // Only a bad level or out-of-memory can fail here: both are programming errors.
        precondition(initStatus == Z_OK, "deflateInit2 failed: \(initStatus)")
        defer { deflateEnd(&stream) }

        // deflateBound covers the gzip wrapper once deflateInit2 chose it, so one pass normally
        // suffices; the loop is for safety only.
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8]()
        output.reserveCapacity(bound)
        var chunk = [UInt8](repeating: 0, count: max(bound, 64))
        var source = input
        source.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            var status = Z_OK
            while status == Z_OK {
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = deflate(&stream, Z_FINISH)
                    return out.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
            }
            precondition(status == Z_STREAM_END, "deflate failed: \(status)")
        }
        return output
    }

    /// Inflates a gzip (or zlib) stream. Returns nil when the data is corrupt or truncated, or when
    /// the output would exceed `maxOutputBytes` (a guard against decompression bombs).
    public static func decompress(_ input: [UInt8], maxOutputBytes: Int = 64 << 20) -> [UInt8]? {
        var stream = z_stream()
        guard traceproxy_inflateInit2(&stream, autoDetectWindowBits) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }

        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var source = input
        return source.withUnsafeMutableBufferPointer { inBuffer -> [UInt8]? in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            while true {
                var status = Z_OK
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > maxOutputBytes { return nil }
                switch status {
                case Z_STREAM_END:
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR where produced > 0:
                    continue
                default:
                    // Z_BUF_ERROR with no progress: the input ended before the stream did.
                    return nil
                }
            }
        }
    }
}
