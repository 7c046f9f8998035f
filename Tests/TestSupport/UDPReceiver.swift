import Foundation
import Stats
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real UDP socket on 127.0.0.1 (kernel-chosen port) that collects every datagram on a
/// background thread: a stand-in for a Jaeger agent that checks what actually reached the wire.
public final class UDPReceiver: Sendable {
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: UInt16
    private let fd: Int32
    private let datagrams = Locked<[[UInt8]]>([])
    private let stopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket: errno \(errno)") }
        var size: Int32 = 4 << 20  // room for bursts while the test thread is busy
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0 else {
            close(fd)
            throw SetupError(description: "bind/getsockname: errno \(errno)")
        }
        self.fd = fd
        self.port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in receiveLoop() }
        thread.start()
    }

    /// `jaeger-udp://127.0.0.1:PORT`
    public var url: String { "jaeger-udp://127.0.0.1:\(port)" }

    public var received: [[UInt8]] { datagrams.withLock { $0 } }

    /// Waits until at least `count` datagrams arrived or `timeout` passed; returns what arrived.
    public func waitForDatagrams(count: Int, timeout: TimeInterval) -> [[UInt8]] {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let got = received
            if got.count >= count { return got }
            usleep(2000)
        }
        return received
    }

    /// Stops the thread and closes the socket; the port is then closed (ICMP unreachable).
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopped.wait()
        close(fd)
    }

    deinit { stop() }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !stopping.load(ordering: .acquiring) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 {
                let datagram = Array(buffer[0..<n])
                datagrams.withLock { $0.append(datagram) }
            }
        }
        stopped.signal()
    }
}
