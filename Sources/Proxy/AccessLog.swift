import HTTP1
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// `--access-log`: one line per request. Loops append to their own buffer and hand it here on each
/// tick, so the request path never waits on the file.
final class AccessLogWriter: Sendable {
    private let fd: Int32
    private let lock = Locked(())

    init?(path: String) {
        if path == "-" {
            fd = STDOUT_FILENO
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { return nil }
        }
    }

    func write(_ bytes: [UInt8]) {
        lock.withLock { _ in
            bytes.withUnsafeBytes { p in
                var off = 0
                while off < p.count {
                    let n = Glibc.write(fd, p.baseAddress! + off, p.count - off)
                    if n <= 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    off += n
                }
            }
        }
    }
}

enum AccessLog {
    /// `2026-11-25T17:00:00Z 127.0.0.1 "GET /path HTTP/1.1" 200 1234 5.210ms trace=<32 hex> span=<16 hex>`
    static func append(_ ex: Exchange, status: Int, durationMicros: Int64, peer: String, to out: inout [UInt8]) {
        appendTimestamp(to: &out)
        out.append(contentsOf: " \(peer) \"".utf8)
        out.append(contentsOf: ex.head.bytes[ex.head.methodRange])
        out.append(0x20)
        out.append(contentsOf: ex.head.bytes[ex.head.targetRange])
        out.append(contentsOf: " HTTP/1.\(ex.head.versionMinor)\" \(status) \(ex.responseBodyBytes) ".utf8)
        let ms = durationMicros / 1000
        let frac = durationMicros % 1000
        out.append(contentsOf: "\(ms).\(frac < 100 ? (frac < 10 ? "00" : "0") : "")\(frac)ms".utf8)
        let o = ex.trace.outgoing
        out.append(contentsOf: " trace=\(o.traceID.hex32) span=\(o.spanID.hex16)".utf8)
        if let e = ex.errorKind { out.append(contentsOf: " error=\(e.rawValue)".utf8) }
        out.append(0x0A)
    }

    /// A request refused before it had a usable head (400, 408, 414, 431): no request line to
    /// quote, so `"-"`, and the reason instead of a trace id.
    static func appendRejected(status: Int, reason: String, peer: String, to out: inout [UInt8]) {
        appendTimestamp(to: &out)
        out.append(contentsOf: " \(peer) \"-\" \(status) 0 - error=\(reason.replacingSpaces)\n".utf8)
    }

    private static func appendTimestamp(to out: inout [UInt8]) {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%SZ", &tmv)
        out.append(contentsOf: buf[0..<n].map { UInt8(bitPattern: $0) })
    }
}

extension String {
    fileprivate var replacingSpaces: String { String(map { $0 == " " ? "_" : $0 }) }
}
