import Foundation
import Stats
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A threaded HTTP/1.1 origin on 127.0.0.1 (kernel-chosen port) for proxy tests: records every
/// request as it arrived (head fields, decoded body, framing, connection) and answers by path.
///
/// Routes:
/// - `/status/NNN`: status NNN, body `status NNN` (none for 1xx, 204 and 304)
/// - `/bytes/N`: N bytes of `payload(N)` with Content-Length
/// - `/chunked/N`: `payload(N)` in chunks of varying size, with an extension and a trailer
/// - `/drip/N/MS`: N chunks of `tick\n`, MS milliseconds apart
/// - `/slow/MS`: waits MS milliseconds, then 200 `slow`
/// - `/echo`: the request body back, Content-Length
/// - `/hop`: 200 with hop-by-hop response fields (`Connection: X-Hop-Resp`, `X-Hop-Resp`, `Keep-Alive`)
/// - `/close-mid-body`: Content-Length 1000, sends 100 bytes, closes
/// - `/garbage`: bytes that are not an HTTP response, then closes
/// - `/upgrade`: 101 Switching Protocols (websocket), then echoes raw bytes until EOF
/// - `/hang`: records and never answers (until `stop()`)
/// - `/until-close`: 200 without framing, body delimited by closing
/// - `/then-drop`: 200 `ok` that looks keep-alive, then the connection is closed (an idle timeout)
/// - `/set-cookie/VALUE`: 200 `ok` with `Set-Cookie: session=VALUE`
/// - anything else: 200 `ok`
///
/// A request with `Expect: 100-continue` gets `100 Continue` before its body is read.
public final class TestUpstream: Sendable {
    public struct Request: Sendable {
        public let method: String
        public let target: String
        public let version: String
        /// In arrival order, names as sent.
        public let headers: [(name: String, value: String)]
        /// Decoded (de-chunked) body.
        public let body: [UInt8]
        public let chunked: Bool
        public let trailers: [(name: String, value: String)]
        /// Which accepted connection carried it (0, 1, ...).
        public let connectionIndex: Int

        /// The first value of `name`, compared case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// Every value of `name`, in order.
        public func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }
    }

    public let port: UInt16
    private let listenFD: Int32
    private let state = Locked(State())
    private let threads = ServerThreads()

    private struct State {
        var requests: [Request] = []
        var headTargets: [String] = []
        var connections = 0
    }

    public init() throws {
        let (fd, port) = try LoopbackListener.open()
        listenFD = fd
        self.port = port
        threads.spawn { [self] in acceptLoop() }
    }

    /// Deterministic, non-periodic-looking bytes so a shifted or truncated body cannot match.
    public static func payload(_ n: Int) -> [UInt8] {
        (0..<n).map { i in UInt8(truncatingIfNeeded: i &* 7 &+ i / 256 &+ 13) }
    }

    public var requests: [Request] { state.withLock { $0.requests } }
    /// Targets of the request heads received so far, recorded before each body is read: shows
    /// whether a head was forwarded before its body was complete.
    public var headTargets: [String] { state.withLock { $0.headTargets } }
    public var connectionCount: Int { state.withLock { $0.connections } }

    /// Waits until at least `count` requests arrived or `timeout` passed; returns what arrived.
    public func waitForRequests(count: Int, timeout: TimeInterval = 10) -> [Request] {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let got = requests
            if got.count >= count { return got }
            usleep(2000)
        }
        return requests
    }

    /// Stops every thread (hung ones included) and closes every socket.
    public func stop() {
        threads.stop(closing: listenFD)
    }

    deinit { stop() }

    private var isStopping: Bool { threads.isStopping }

    private func acceptLoop() {
        while !isStopping {
            var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            let index = state.withLock { s in
                defer { s.connections += 1 }
                return s.connections
            }
            threads.spawn { [self] in serve(fd, index: index) }
        }
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private func send(_ fd: Int32, _ text: String) -> Bool { send(fd, Array(text.utf8)) }

    /// Sleeps in small steps so `stop()` is not held up.
    private func pause(ms: Int) {
        let end = Date().addingTimeInterval(Double(ms) / 1000)
        while Date() < end && !isStopping { usleep(5000) }
    }

    private func serve(_ fd: Int32, index: Int) {
        defer { close(fd) }
        let reader = ByteStreamReader(fd: fd) { [self] in isStopping }
        let far = Date.distantFuture
        while !isStopping {
            guard let headBytes = try? reader.readHead(deadline: far) else { return }
            let (first, headers) = parseHeaderLines(headBytes)
            let parts = first.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return }
            let method = String(parts[0])
            let target = String(parts[1])
            let version = String(parts[2])
            func value(_ name: String) -> String? {
                headers.first { $0.name.lowercased() == name }?.value
            }
            state.withLock { $0.headTargets.append(target) }
            if value("expect")?.lowercased() == "100-continue" {
                guard send(fd, "HTTP/1.1 100 Continue\r\n\r\n") else { return }
            }
            var body: [UInt8] = []
            var trailers: [(name: String, value: String)] = []
            let chunked = value("transfer-encoding")?.lowercased().contains("chunked") ?? false
            do {
                if chunked {
                    (body, trailers) = try reader.readChunkedBody(deadline: far)
                } else if let cl = value("content-length").flatMap({ Int($0) }) {
                    body = try reader.read(count: cl, deadline: far)
                }
            } catch {
                return
            }
            let request = Request(
                method: method, target: target, version: version, headers: headers, body: body, chunked: chunked,
                trailers: trailers, connectionIndex: index)
            state.withLock { $0.requests.append(request) }
            let connectionTokens = headers.filter { $0.name.lowercased() == "connection" }
                .flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let closeAfter =
                connectionTokens.contains("close")
                || (version == "HTTP/1.0" && !connectionTokens.contains("keep-alive"))
            guard respond(fd, reader: reader, request: request, closeAfter: closeAfter), !closeAfter else { return }
        }
    }

    /// Writes the answer for `request`. Returns false when the connection must close.
    private func respond(_ fd: Int32, reader: ByteStreamReader, request: Request, closeAfter: Bool) -> Bool {
        let path = request.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.target
        let segments = path.split(separator: "/").map(String.init)
        let isHead = request.method == "HEAD"
        let connection = closeAfter ? "Connection: close\r\n" : ""

        func fixed(_ status: Int, _ body: [UInt8], extra: String = "") -> Bool {
            var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n\(connection)\(extra)"
            let bodiless = status < 200 || status == 204 || status == 304
            if !bodiless { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            return send(fd, Array(head.utf8) + (isHead || bodiless ? [] : body))
        }

        switch segments.first ?? "" {
        case "status":
            let status = segments.count > 1 ? Int(segments[1]) ?? 200 : 200
            return fixed(status, Array("status \(status)".utf8), extra: "X-Status: \(status)\r\n")
        case "bytes":
            let n = segments.count > 1 ? Int(segments[1]) ?? 0 : 0
            return fixed(200, Self.payload(n))
        case "echo":
            return fixed(200, request.body, extra: "Content-Type: application/octet-stream\r\n")
        case "set-cookie":
            let value = segments.count > 1 ? segments[1] : "v"
            return fixed(200, Array("ok".utf8), extra: "Set-Cookie: session=\(value); HttpOnly\r\n")
        case "hop":
            return fixed(
                200, Array("hop".utf8),
                extra: "Connection: X-Hop-Resp\r\nX-Hop-Resp: secret\r\nKeep-Alive: timeout=5\r\nX-End: kept\r\n")
        case "slow":
            pause(ms: segments.count > 1 ? Int(segments[1]) ?? 0 : 0)
            return fixed(200, Array("slow".utf8))
        case "chunked":
            let n = segments.count > 1 ? Int(segments[1]) ?? 0 : 0
            var out = Array("HTTP/1.1 200 OK\r\n\(connection)Transfer-Encoding: chunked\r\n\r\n".utf8)
            if !isHead {
                let data = Self.payload(n)
                var offset = 0
                var size = 1
                while offset < data.count {
                    let end = min(data.count, offset + size)
                    out +=
                        Array("\(String(end - offset, radix: 16));ext=\(size)\r\n".utf8) + data[offset..<end] + [
                            13, 10,
                        ]
                    offset = end
                    size = size * 3 + 7
                }
                out += Array("0\r\nX-Trailer: done\r\n\r\n".utf8)
            }
            return send(fd, out)
        case "drip":
            let count = segments.count > 1 ? Int(segments[1]) ?? 1 : 1
            let ms = segments.count > 2 ? Int(segments[2]) ?? 100 : 100
            guard send(fd, "HTTP/1.1 200 OK\r\n\(connection)Transfer-Encoding: chunked\r\n\r\n") else { return false }
            for i in 0..<count {
                if i > 0 { pause(ms: ms) }
                guard send(fd, "5\r\ntick\n\r\n") else { return false }
            }
            return send(fd, "0\r\n\r\n")
        case "until-close":
            _ = send(fd, "HTTP/1.1 200 OK\r\n\r\nbody until close")
            return false
        case "close-mid-body":
            _ = send(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".utf8) + Self.payload(100))
            pause(ms: 50)
            return false
        case "garbage":
            _ = send(fd, "SPDY/9 banana\r\n\r\n")
            return false
        case "then-drop":
            _ = fixed(200, Array("ok".utf8))
            pause(ms: 20)
            return false
        case "hang":
            while !isStopping { usleep(5000) }
            return false
        case "upgrade":
            guard
                send(
                    fd,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            else { return false }
            if !reader.buffer.isEmpty {
                guard send(fd, reader.buffer) else { return false }
                reader.buffer = []
            }
            while (try? reader.fill(deadline: .distantFuture, what: "tunnel bytes")) == true {
                guard send(fd, reader.buffer) else { return false }
                reader.buffer = []
            }
            return false
        default:
            return fixed(200, Array("ok".utf8))
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 304: return "Not Modified"
        case 404: return "Not Found"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
