import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An origin on 127.0.0.1 whose every connection runs a script the test gives: for faults that
/// need exact bytes or exact timing (a malformed response, a reset before or after the head, a
/// keep-alive connection closed the moment the next request arrives).
///
/// The script gets the connection (a `ScriptedUpstream.Connection`) and its index (0, 1, ...);
/// the socket is closed when the script returns, unless the script already reset it.
public final class ScriptedUpstream: Sendable {
    public typealias Script = @Sendable (Connection) -> Void

    /// One accepted connection, seen from the script.
    public final class Connection {
        public let fd: Int32
        public let index: Int
        public let reader: ByteStreamReader
        fileprivate var resetDone = false

        init(fd: Int32, index: Int, shouldStop: @escaping () -> Bool) {
            self.fd = fd
            self.index = index
            reader = ByteStreamReader(fd: fd, shouldStop: shouldStop)
        }

        /// The next request head (through CRLFCRLF) as text, or nil when the peer closed or
        /// nothing came within `timeout`.
        public func readHead(timeout: TimeInterval = 10) -> String? {
            guard let head = try? reader.readHead(deadline: Date().addingTimeInterval(timeout)) else { return nil }
            return String(decoding: head, as: UTF8.self)
        }

        /// Reads `count` body bytes (nil on close or timeout).
        public func readBody(count: Int, timeout: TimeInterval = 10) -> [UInt8]? {
            try? reader.read(count: count, deadline: Date().addingTimeInterval(timeout))
        }

        @discardableResult
        public func send(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }

        @discardableResult
        public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

        /// Closes with an RST (SO_LINGER 0) instead of a FIN.
        public func reset() {
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
            close(fd)
            resetDone = true
        }
    }

    public let port: UInt16
    private let listenFD: Int32
    private let script: Script
    private let connections = Atomic<Int>(0)
    private let threads = ServerThreads()

    public init(_ script: @escaping Script) throws {
        let (fd, port) = try LoopbackListener.open()
        listenFD = fd
        self.port = port
        self.script = script
        threads.spawn { [self] in acceptLoop() }
    }

    /// Connections accepted so far.
    public var connectionCount: Int { connections.load(ordering: .acquiring) }

    public var isStopping: Bool { threads.isStopping }

    public func stop() {
        threads.stop(closing: listenFD)
    }

    deinit { stop() }

    private func acceptLoop() {
        while !isStopping {
            var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            let index = connections.add(1, ordering: .acquiringAndReleasing).newValue - 1
            threads.spawn { [self] in
                let connection = Connection(fd: fd, index: index) { [self] in isStopping }
                script(connection)
                if !connection.resetDone { close(fd) }
            }
        }
    }
}

/// A listening socket whose accept queue is full and never drained, so a further connect to it
/// hangs in SYN-SENT: an upstream that cannot be reached in time, without leaving 127.0.0.1.
public final class FullBacklogListener {
    public let port: UInt16
    private let listenFD: Int32
    private var fillers: [Int32] = []

    /// Nil when the kernel accepted every filler (the queue could not be filled).
    public init?() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 0) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            return nil
        }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        // Connect until one does not complete: the accept queue is then full.
        for _ in 0..<16 {
            let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
            var target = address
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fillers.append(c)
            var pfd = pollfd(fd: c, events: Int16(POLLOUT), revents: 0)
            if poll(&pfd, 1, 300) == 0 { return }
        }
        for c in fillers { close(c) }
        close(fd)
        return nil
    }

    deinit {
        for c in fillers { close(c) }
        close(listenFD)
    }
}
