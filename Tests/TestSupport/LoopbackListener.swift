#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP listener on 127.0.0.1 with a kernel-chosen port: the one socket setup every
/// test server here (upstreams, collectors) starts from.
public enum LoopbackListener {
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func open(backlog: Int32 = 128) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SetupError(description: "bind/listen on 127.0.0.1: errno \(e)")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
