import HTTP1
import Stats

#if canImport(Glibc)
    import Glibc
#endif

/// `--access-log`: one line per request. Loops append to their own buffer and hand it here on each
/// tick, so the request path never waits on the file.
final class AccessLogWriter: Sendable {
    let path: String
    /// Swapped by `reopen` under the same lock the writes take.
    private let descriptor: Locked<Int32>

    init?(path: String) {
        self.path = path
        guard let fd = Self.open(path) else { return nil }
        descriptor = Locked(fd)
    }

    deinit {
        let fd = descriptor.withLock { $0 }
        if fd != STDOUT_FILENO { Glibc.close(fd) }
    }

    private static func open(_ path: String) -> Int32? {
        if path == "-" { return STDOUT_FILENO }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        return fd < 0 ? nil : fd
    }

    /// SIGHUP after logrotate renamed the file: lines go to a new file at the same path. If it
    /// cannot be opened, the old descriptor stays (lines keep going to the renamed file rather than
    /// nowhere) and the reason is returned.
    func reopen() -> String? {
        guard path != "-" else { return nil }
        guard let fresh = Self.open(path) else { return String(cString: strerror(errno)) }
        let old = descriptor.withLock { fd in
            defer { fd = fresh }
            return fd
        }
        Glibc.close(old)
        return nil
    }

    func write(_ bytes: [UInt8]) {
        descriptor.withLock { fd in
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
    /// and `request_id=` when the request has one; with `json`, the same facts as one JSON object
    /// per line for log shippers (`time`, `peer`, `method`, `target`, `version`, `status`, `bytes`,
    /// `duration_ms`, `trace_id`, `span_id`, `request_id`, `error`).
    static func append(
        _ ex: Exchange, status: Int, durationMicros: Int64, peer: String, json: Bool = false, requestID: Bool = true,
        to out: inout [UInt8]
    ) {
        let o = ex.trace.outgoing
        var id: ArraySlice<UInt8>?
        if requestID {
            if let generated = ex.generatedRequestID {
                id = Array(generated.hex32.utf8)[...]
            } else if let r = ex.head.firstValueRange(lowercasedName: "x-request-id") {
                id = ex.head.bytes[r]
            }
        }
        let ms = durationMicros / 1000
        let frac = durationMicros % 1000
        let duration = "\(ms).\(frac < 100 ? (frac < 10 ? "00" : "0") : "")\(frac)"
        if json {
            out.append(contentsOf: #"{"time":""#.utf8)
            appendTimestamp(to: &out)
            out.append(contentsOf: #"","peer":"#.utf8)
            appendJSONString(peer.utf8, to: &out)
            out.append(contentsOf: #","method":"#.utf8)
            appendJSONString(ex.head.bytes[ex.head.methodRange], to: &out)
            out.append(contentsOf: #","target":"#.utf8)
            appendJSONString(ex.head.bytes[ex.head.targetRange], to: &out)
            out.append(contentsOf: #","version":"HTTP/1.\#(ex.head.versionMinor)","status":\#(status)"#.utf8)
            out.append(contentsOf: #","bytes":\#(ex.responseBodyBytes),"duration_ms":\#(duration)"#.utf8)
            if !ex.trace.untraced {
                out.append(contentsOf: #","trace_id":"\#(o.traceID.hex32)","span_id":"\#(o.spanID.hex16)""#.utf8)
            }
            if let id {
                out.append(contentsOf: #","request_id":"#.utf8)
                appendJSONString(id, to: &out)
            }
            if let e = ex.errorKind { out.append(contentsOf: #","error":"\#(e.rawValue)""#.utf8) }
            out.append(contentsOf: "}\n".utf8)
            return
        }
        appendTimestamp(to: &out)
        out.append(contentsOf: " \(peer) \"".utf8)
        out.append(contentsOf: ex.head.bytes[ex.head.methodRange])
        out.append(0x20)
        out.append(contentsOf: ex.head.bytes[ex.head.targetRange])
        out.append(contentsOf: " HTTP/1.\(ex.head.versionMinor)\" \(status) \(ex.responseBodyBytes) \(duration)ms".utf8)
        out.append(contentsOf: " trace=\(o.traceID.hex32) span=\(o.spanID.hex16)".utf8)
        if let id {
            out.append(contentsOf: " request_id=".utf8)
            // The client's value, with anything that would break the line's fields replaced.
            for b in id { out.append(b <= 0x20 || b == 0x22 || b == 0x7F ? UInt8(ascii: "_") : b) }
        }
        if let e = ex.errorKind { out.append(contentsOf: " error=\(e.rawValue)".utf8) }
        out.append(0x0A)
    }

    /// A JSON string (RFC 8259): quotes, backslashes and controls escaped; other bytes as they are
    /// (the head's bytes have no controls but HTAB, and field values may hold obs-text).
    private static func appendJSONString(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: "\\u00".utf8)
                out.append(contentsOf: String(b, radix: 16).count == 1 ? Array("0".utf8) : [])
                out.append(contentsOf: String(b, radix: 16).utf8)
            case 0x80...:
                // Not necessarily UTF-8 (obs-text): escaped so the line stays valid JSON.
                out.append(contentsOf: "\\u00".utf8)
                out.append(contentsOf: String(b, radix: 16).utf8)
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
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
