import CEpoll

#if canImport(Glibc)
    import Glibc
#endif

/// The syscall funnel for sockets: every call that touches the kernel for a TCP socket goes through
/// here, retries EINTR, and reports EAGAIN as a value instead of an error.
public enum Socket {
    public enum IOResult: Equatable {
        case bytes(Int)
        case wouldBlock
        /// Orderly shutdown by the peer (read returned 0).
        case eof
        case error(Int32)
    }

    /// A non-blocking listening socket. `reusePort` lets every loop bind its own listener to the
    /// same port so the kernel spreads connections across loops without a shared accept lock.
    public static func listen(
        _ address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool
    ) throws(SystemError) -> Int32 {
        let fd = socket(
            address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0)
        if fd < 0 { throw SystemError("socket", errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort {
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            close(fd)
            throw SystemError("bind(\(address))", e)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = errno
            close(fd)
            throw SystemError("listen(\(address))", e)
        }
        return fd
    }

    /// The address a socket is bound to (to learn the port after binding port 0).
    public static func localAddress(_ fd: Int32) -> SocketAddress {
        var a = SocketAddress()
        a.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &a.storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &a.length) }
        }
        return a
    }

    /// Accepts one connection, non-blocking and close-on-exec. Returns nil on EAGAIN; throws other
    /// errors (EMFILE/ENFILE among them, which the listener turns into a back-off).
    public static func accept(_ fd: Int32) throws(SystemError) -> (Int32, SocketAddress)? {
        var a = SocketAddress()
        var len = UInt32(MemoryLayout<sockaddr_storage>.size)
        while true {
            let c = withUnsafeMutablePointer(to: &a.storage) { traceproxy_accept(fd, $0, &len) }
            if c >= 0 {
                a.length = len
                return (c, a)
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw SystemError("accept", errno)
            }
        }
    }

    /// Starts a non-blocking connect. Returns the fd and whether the connection is already up.
    public static func connect(_ address: SocketAddress) throws(SystemError) -> (fd: Int32, connected: Bool) {
        let fd = socket(
            address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0)
        if fd < 0 { throw SystemError("socket", errno) }
        setNoDelay(fd)
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return (fd, true) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return (fd, false) }
        close(fd)
        throw SystemError("connect(\(address))", e)
    }

    /// The result of a non-blocking connect once the socket is writable (0 when connected).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { return errno }
        return err
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .error(errno)
            }
        }
    }

    @inline(__always)
    public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .error(errno)
            }
        }
    }

    /// Half-closes the write side (used by WebSocket/upgrade tunnels to pass an EOF along).
    public static func shutdownWrite(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_WR)) }
}
