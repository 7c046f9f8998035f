import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Buffered blocking reads from a socket with a deadline, written for tests independently of the
/// proxy's own parser: lines, exact counts, heads up to the blank line.
public final class ByteStreamReader {
    public let fd: Int32
    public var buffer: [UInt8] = []
    /// Asked between 20 ms polls; returning true gives up the read (the owner is stopping).
    private let shouldStop: () -> Bool

    public init(fd: Int32, shouldStop: @escaping () -> Bool = { false }) {
        self.fd = fd
        self.shouldStop = shouldStop
    }

    public enum ReadError: Error, CustomStringConvertible, Equatable {
        case timedOut(String)
        case closed(String)
        case stopped

        public var description: String {
            switch self {
            case .timedOut(let what): return "timed out waiting for \(what)"
            case .closed(let what): return "connection closed while waiting for \(what)"
            case .stopped: return "stopped"
            }
        }
    }

    /// Reads once more into the buffer. Returns false on EOF or reset.
    public func fill(deadline: Date, what: String) throws(ReadError) -> Bool {
        while true {
            if shouldStop() { throw .stopped }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { throw .timedOut(what) }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&pfd, 1, Int32(min(20, max(1, remaining * 1000))))
            if rc < 0 && errno == EINTR { continue }
            if rc <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
                return true
            }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            return false
        }
    }

    /// Bytes up to and including the first CRLFCRLF, removed from the buffer.
    public func readHead(deadline: Date) throws(ReadError) -> [UInt8] {
        var searchFrom = 0
        while true {
            if let end = Self.find([13, 10, 13, 10], in: buffer, from: searchFrom) {
                let head = Array(buffer[0..<(end + 4)])
                buffer.removeFirst(end + 4)
                return head
            }
            searchFrom = max(0, buffer.count - 3)
            guard try fill(deadline: deadline, what: "a message head") else {
                throw .closed("a message head (\(buffer.count) bytes buffered)")
            }
        }
    }

    /// One line without its CRLF.
    public func readLine(deadline: Date) throws(ReadError) -> String {
        var searchFrom = 0
        while true {
            if let end = Self.find([13, 10], in: buffer, from: searchFrom) {
                let line = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 2)
                return line
            }
            searchFrom = max(0, buffer.count - 1)
            guard try fill(deadline: deadline, what: "a line") else { throw .closed("a line") }
        }
    }

    public func read(count: Int, deadline: Date) throws(ReadError) -> [UInt8] {
        while buffer.count < count {
            guard try fill(deadline: deadline, what: "\(count) bytes (have \(buffer.count))") else {
                throw .closed("\(count) bytes (have \(buffer.count))")
            }
        }
        let out = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return out
    }

    /// Everything until the peer closes.
    public func readToEnd(deadline: Date) throws(ReadError) -> [UInt8] {
        while try fill(deadline: deadline, what: "the peer to close") {}
        let out = buffer
        buffer = []
        return out
    }

    /// Chunked body (RFC 9112 section 7.1): sizes in hex, extensions ignored, trailers returned.
    public func readChunkedBody(deadline: Date) throws(ReadError) -> (
        body: [UInt8], trailers: [(name: String, value: String)]
    ) {
        var body: [UInt8] = []
        while true {
            let line = try readLine(deadline: deadline)
            let sizeText = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw .closed("a chunk size (got \(line.debugDescription))")
            }
            if size == 0 { break }
            body += try read(count: size, deadline: deadline)
            let crlf = try read(count: 2, deadline: deadline)
            guard crlf == [13, 10] else { throw .closed("CRLF after chunk data") }
        }
        var trailers: [(name: String, value: String)] = []
        while true {
            let line = try readLine(deadline: deadline)
            if line.isEmpty { break }
            if let colon = line.firstIndex(of: ":") {
                trailers.append(
                    (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        return (body, trailers)
    }

    public static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] {
                var match = true
                for k in 1..<needle.count where haystack[i + k] != needle[k] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}

/// Name/value pairs of a message head after its first line, names as sent.
public func parseHeaderLines(_ head: [UInt8]) -> (firstLine: String, headers: [(name: String, value: String)]) {
    let text = String(decoding: head, as: UTF8.self)
    var lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
    let first = lines.isEmpty ? "" : lines.removeFirst()
    var headers: [(name: String, value: String)] = []
    for line in lines {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers.append(
            (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    return (first, headers)
}
