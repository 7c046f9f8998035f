import Reactor
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class SocketTests: XCTestCase {
    func test_resolve_ipv4AndIPv6Literals_describedWithPort() throws {
        let v4 = try SocketAddress.resolve(host: "127.0.0.1", port: 8080)
        XCTAssertEqual(v4.family, AF_INET)
        XCTAssertEqual(v4.description, "127.0.0.1:8080")
        let v6 = try SocketAddress.resolve(host: "[::1]", port: 9)
        XCTAssertEqual(v6.family, AF_INET6)
        XCTAssertEqual(v6.description, "[::1]:9")
    }

    func test_resolve_unknownHost_throws() {
        XCTAssertThrowsError(try SocketAddress.resolve(host: "no-such-host.invalid", port: 1))
    }

    func test_connect_toListener_becomesWritableWithNoPendingError() throws {
        let lfd = try Socket.listen(SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
        defer { close(lfd) }
        let (fd, connected) = try Socket.connect(Socket.localAddress(lfd))
        defer { close(fd) }
        if !connected {
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            XCTAssertEqual(poll(&pfd, 1, 5000), 1)
        }
        XCTAssertEqual(Socket.pendingError(fd), 0)
        XCTAssertTrue(waitUntil(timeout: 5) { (try? Socket.accept(lfd)).flatMap { $0 } != nil })
    }

    func test_connect_toClosedPort_reportsConnectionRefused() throws {
        let port = freeTCPPort()
        do {
            let (fd, _) = try Socket.connect(SocketAddress.resolve(host: "127.0.0.1", port: port))
            defer { close(fd) }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            XCTAssertEqual(poll(&pfd, 1, 5000), 1)
            XCTAssertEqual(Socket.pendingError(fd), ECONNREFUSED)
        } catch {
            XCTAssertEqual(error.errno, ECONNREFUSED)
        }
    }

    func test_accept_nothingPending_returnsNil() throws {
        let lfd = try Socket.listen(SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
        defer { close(lfd) }
        XCTAssertNil(try Socket.accept(lfd))
    }
}
