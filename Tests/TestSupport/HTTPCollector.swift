import Foundation
import Stats
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A small threaded HTTP/1.1 server on 127.0.0.1 (kernel-chosen port) that records each request
/// and answers as told: a stand-in Zipkin collector over real sockets. One thread accepts, one
/// thread per connection serves keep-alive requests with Content-Length bodies.
public final class HTTPCollector: Sendable {
    public struct Request: Sendable {
        public let method: String
        public let target: String
        /// In arrival order, names as sent.
        public let headers: [(name: String, value: String)]
        /// As received on the wire.
        public let rawBody: [UInt8]
        /// `rawBody`, decoded with the collector's `gunzip` when Content-Encoding is gzip (nil
        /// when decoding failed).
        public let body: [UInt8]?
        /// Which accepted connection carried it (0, 1, ...), to observe keep-alive reuse.
        public let connectionIndex: Int

        /// The first value of header `name`, compared case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    public enum Mode: Sendable, Equatable {
        /// Answer with `status`; `chunked` frames the body as chunks; `close` adds
        /// `Connection: close` and closes after the response.
        case respond(status: Int, body: String, chunked: Bool, close: Bool)
        /// Answer with `status` (no `Connection: close`) and then close the connection anyway,
        /// as a collector restarting or timing out an idle connection does.
        case respondThenDrop(status: Int)
        /// Record the request and never answer, until `release()` or `stop()`.
        case hang
    }

    public static let accepted = Mode.respond(status: 202, body: "", chunked: false, close: false)

    public let port: UInt16
    private let listenFD: Int32
    private let gunzip: (@Sendable ([UInt8]) -> [UInt8]?)?
    private let state = Locked(State())
    private let threads = ServerThreads()
    private let releaseGeneration = Atomic<Int>(0)

    private struct State {
        var mode = HTTPCollector.accepted
        var requests: [Request] = []
        var connections = 0
    }

    /// `gunzip` decodes gzip bodies (TestSupport does not link zlib; tests pass `Gzip.decompress`).
    public init(gunzip: (@Sendable ([UInt8]) -> [UInt8]?)? = nil) throws {
        let (fd, port) = try LoopbackListener.open(backlog: 64)
        self.listenFD = fd
        self.port = port
        self.gunzip = gunzip
        threads.spawn { [self] in acceptLoop() }
    }

    /// `zipkin+http://127.0.0.1:PORT` followed by `path`.
    public func url(path: String = "") -> String { "zipkin+http://127.0.0.1:\(port)\(path)" }

    public func setMode(_ mode: Mode) { state.withLock { $0.mode = mode } }

    /// Lets hung connections go: they are closed without an answer.
    public func release() { releaseGeneration.add(1, ordering: .relaxed) }

    public var requests: [Request] { state.withLock { $0.requests } }
    public var connectionCount: Int { state.withLock { $0.connections } }

    /// Waits until at least `count` requests arrived or `timeout` passed; returns what arrived.
    public func waitForRequests(count: Int, timeout: TimeInterval) -> [Request] {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let got = requests
            if got.count >= count { return got }
            usleep(2000)
        }
        return requests
    }

    /// Stops all threads (hung ones included) and closes every socket.
    public func stop() {
        threads.stop(closing: listenFD)
    }

    deinit { stop() }

    /// Waits for `fd` to become readable, waking every 20 ms to notice `stop()`.
    private func waitReadable(_ fd: Int32) -> Bool {
        while !threads.isStopping {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 20) > 0 { return true }
        }
        return false
    }

    private func acceptLoop() {
        while waitReadable(listenFD) {
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            let index = state.withLock { s in
                defer { s.connections += 1 }
                return s.connections
            }
            threads.spawn { [self] in serve(fd, index: index) }
        }
    }

    private func serve(_ fd: Int32, index: Int) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // Read one request: head up to CRLFCRLF, then Content-Length bytes.
            var parsed: (head: Head, bodyStart: Int)?
            while true {
                if parsed == nil, let end = Self.find([13, 10, 13, 10], in: buffer) {
                    guard let head = Head(buffer[0..<end]) else { return }
                    parsed = (head, end + 4)
                }
                if let p = parsed, buffer.count - p.bodyStart >= p.head.contentLength { break }
                guard waitReadable(fd) else { return }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return }
                buffer += chunk[0..<n]
            }
            guard let (head, bodyStart) = parsed else { return }
            let rawBody = Array(buffer[bodyStart..<(bodyStart + head.contentLength)])
            buffer.removeFirst(bodyStart + head.contentLength)
            let gzipped = head.headers.contains {
                $0.name.lowercased() == "content-encoding" && $0.value.lowercased() == "gzip"
            }
            let body = gzipped ? gunzip?(rawBody) : rawBody
            let request = Request(
                method: head.method, target: head.target, headers: head.headers, rawBody: rawBody,
                body: body, connectionIndex: index)
            let mode = state.withLock { s in
                s.requests.append(request)
                return s.mode
            }
            switch mode {
            case .hang:
                let generation = releaseGeneration.load(ordering: .relaxed)
                while !threads.isStopping
                    && releaseGeneration.load(ordering: .relaxed) == generation
                {
                    usleep(5000)
                }
                return
            case .respondThenDrop(let status):
                let bytes = Array("HTTP/1.1 \(status) OK\r\nContent-Length: 0\r\n\r\n".utf8)
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                return
            case .respond(let status, let text, let chunked, let closeAfter):
                var response = "HTTP/1.1 \(status) \(status < 300 ? "OK" : "Error")\r\n"
                if closeAfter { response += "Connection: close\r\n" }
                let bodyBytes = Array(text.utf8)
                if chunked {
                    response += "Transfer-Encoding: chunked\r\n\r\n"
                    for piece in [bodyBytes.prefix(3), bodyBytes.dropFirst(3)] where !piece.isEmpty {
                        response += String(piece.count, radix: 16) + ";ext=1\r\n"
                        response += String(decoding: piece, as: UTF8.self) + "\r\n"
                    }
                    response += "0\r\nX-Trailer: t\r\n\r\n"
                } else {
                    response += "Content-Length: \(bodyBytes.count)\r\n\r\n" + text
                }
                let bytes = Array(response.utf8)
                let sent = bytes.withUnsafeBytes {
                    send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent != bytes.count || closeAfter { return }
            }
        }
    }

    private struct Head {
        var method: String
        var target: String
        var headers: [(name: String, value: String)] = []
        var contentLength = 0

        init?(_ bytes: ArraySlice<UInt8>) {
            let text = String(decoding: bytes, as: UTF8.self)
            var lines = text.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count == 3 else { return nil }
            method = String(requestLine[0])
            target = String(requestLine[1])
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { return nil }
                let name = String(line[..<colon])
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                headers.append((name, value))
                if name.lowercased() == "content-length" {
                    guard let n = Int(value) else { return nil }
                    contentLength = n
                }
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count)
        where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
