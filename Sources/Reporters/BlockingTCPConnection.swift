import Dispatch
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP socket for the reporter worker thread, where every call is bounded by a deadline:
/// connect is non-blocking plus poll, and reads and writes carry SO_RCVTIMEO / SO_SNDTIMEO set to
/// the time left, so a collector that accepts and never answers costs at most that time.
public struct BlockingTCPConnection: Sendable {
    public enum Failure: Error, Equatable {
        case connect(Int32)
        case timedOut
        case io(Int32)
        case closedByPeer
    }

    public let fd: Int32

    public static func connect(to address: SocketAddress, deadline: DispatchTime) throws(Failure)
        -> BlockingTCPConnection
    {
        let fd = socket(
            address.family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue),
            0)
        guard fd >= 0 else { throw .connect(errno) }
        let connection = BlockingTCPConnection(fd: fd)
        var rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno == EINPROGRESS {
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            repeat {
                rc = poll(&pfd, 1, millisecondsLeft(until: deadline))
            } while rc < 0 && errno == EINTR
            guard rc > 0 else {
                connection.close()
                throw rc == 0 ? .timedOut : .connect(errno)
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            rc = soError == 0 ? 0 : -1
            if soError != 0 { errno = soError }
        }
        guard rc == 0 else {
            let code = errno
            connection.close()
            throw .connect(code)
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return connection
    }

    /// Writes all of `bytes`; MSG_NOSIGNAL keeps a peer reset from raising SIGPIPE.
    public func sendAll(_ bytes: [UInt8], deadline: DispatchTime) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            try setTimeout(SO_SNDTIMEO, deadline: deadline)
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { continue }  // deadline re-checked
            throw n == 0 ? .closedByPeer : .io(errno)
        }
    }

    /// Appends what one `recv` returns to `buffer`; returns false at end of stream.
    public func receive(into buffer: inout [UInt8], deadline: DispatchTime) throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            try setTimeout(SO_RCVTIMEO, deadline: deadline)
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
            if n == 0 { return false }
            if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
            throw .io(errno)
        }
    }

    public func close() { _ = Glibc.close(fd) }

    /// Sets a socket timeout to the time left before `deadline`; throws once it has passed.
    private func setTimeout(_ option: Int32, deadline: DispatchTime) throws(Failure) {
        let ms = Self.millisecondsLeft(until: deadline)
        guard ms > 0 else { throw .timedOut }
        var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: suseconds_t(ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func millisecondsLeft(until deadline: DispatchTime) -> Int32 {
        let now = DispatchTime.now().uptimeNanoseconds
        let end = deadline.uptimeNanoseconds
        guard end > now else { return 0 }
        return Int32(clamping: (end - now + 999_999) / 1_000_000)
    }
}
