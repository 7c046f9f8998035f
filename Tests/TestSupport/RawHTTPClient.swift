import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A raw-socket HTTP/1.1 client for tests: sends exactly the bytes it is given (malformed,
/// pipelined or partial) and reads responses with its own parser and a deadline.
public final class RawHTTPClient {
    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Response {
        public let version: String
        public let status: Int
        public let reason: String
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]
        public let chunked: Bool
        public let trailers: [(name: String, value: String)]

        public var text: String { String(decoding: body, as: UTF8.self) }

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        /// `Connection` tokens, lower-cased.
        public var connectionTokens: [String] {
            values("connection").flatMap {
                $0.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
        }
    }

    public let fd: Int32
    public let reader: ByteStreamReader

    /// Connects (blocking) to 127.0.0.1:`port`.
    public init(port: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw ClientError(description: "connect to 127.0.0.1:\(port): \(String(cString: strerror(e)))")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        reader = ByteStreamReader(fd: fd)
    }

    deinit { close(fd) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw ClientError(description: "send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Half-closes the sending side.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads one response (an interim 1xx one too). `toHEAD` says the request was HEAD, so no body.
    public func readResponse(timeout: TimeInterval = 10, toHEAD: Bool = false) throws -> Response {
        let deadline = Date().addingTimeInterval(timeout)
        let (first, headers) = parseHeaderLines(try reader.readHead(deadline: deadline))
        let parts = first.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError(description: "bad status line \(first.debugDescription)")
        }
        func value(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        var body: [UInt8] = []
        var trailers: [(name: String, value: String)] = []
        let chunked = value("transfer-encoding")?.lowercased().contains("chunked") ?? false
        if toHEAD || status < 200 || status == 204 || status == 304 {
            // No body by definition (RFC 9112 section 6.3, rules 1 and 2).
        } else if chunked {
            (body, trailers) = try reader.readChunkedBody(deadline: deadline)
        } else if let cl = value("content-length") {
            guard let n = Int(cl) else { throw ClientError(description: "bad Content-Length \(cl)") }
            body = try reader.read(count: n, deadline: deadline)
        } else {
            body = try reader.readToEnd(deadline: deadline)
        }
        return Response(
            version: String(parts[0]), status: status, reason: parts.count > 2 ? String(parts[2]) : "",
            headers: headers, body: body, chunked: chunked, trailers: trailers)
    }

    /// Reads the next non-1xx response.
    public func readFinalResponse(timeout: TimeInterval = 10, toHEAD: Bool = false) throws -> Response {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let r = try readResponse(timeout: max(0.01, deadline.timeIntervalSinceNow), toHEAD: toHEAD)
            if r.status >= 200 || r.status == 101 { return r }
        }
    }

    /// Sends a request and reads the final response.
    public func roundTrip(_ request: String, timeout: TimeInterval = 10, toHEAD: Bool = false) throws -> Response {
        try send(request)
        return try readFinalResponse(timeout: timeout, toHEAD: toHEAD)
    }

    /// True when the peer closed (EOF or reset) within `timeout`; bytes that arrive meanwhile are
    /// collected in `reader.buffer`.
    public func waitForClose(timeout: TimeInterval = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        do {
            while try reader.fill(deadline: deadline, what: "close") {}
            return true
        } catch {
            return false
        }
    }

    /// True when nothing arrives and the connection stays open for `interval`.
    public func staysQuiet(for interval: TimeInterval) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, Int32(interval * 1000)) == 0
    }
}

/// A request with `Host` and the given extra fields and body (Content-Length added when a body
/// is given and no framing field is).
public func httpRequest(
    _ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil,
    version: String = "HTTP/1.1"
) -> String {
    var out = "\(method) \(target) \(version)\r\nHost: test.example\r\n"
    for (name, value) in headers { out += "\(name): \(value)\r\n" }
    if let body {
        let framed = headers.contains {
            ["content-length", "transfer-encoding"].contains($0.0.lowercased())
        }
        if !framed { out += "Content-Length: \(body.utf8.count)\r\n" }
        out += "\r\n" + body
    } else {
        out += "\r\n"
    }
    return out
}

/// A port that was free a moment ago (bind to 0, read it, close): for a subprocess that needs
/// its port on the command line. Racy by nature; a test retries start-up if the port is taken.
public func freeTCPPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Polls `condition` every 2 ms until it holds or `timeout` seconds pass.
public func waitUntil(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}
