import Foundation
import TestSupport
import XCTest

@testable import Proxy

#if canImport(Glibc)
    import Glibc
#endif

/// A client that resets its connection while the proxy streams a response to it: the proxy must
/// close that connection and the upstream one and keep serving others. Whether the proxy notices
/// the reset on a write (the path that once closed buffers while they were being read) or on a
/// read depends on event order, so this is a resilience test rather than an exact reproducer.
final class ClientResetTests: XCTestCase {
    func test_clientResetDuringLargeResponse_proxyKeepsServing() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let proxy = try ProxyHarness.start(upstreamPort: upstream.port)
        for _ in 0..<3 {
            let client = try proxy.client()
            try client.send(httpRequest("GET", "/bytes/1000000"))
            _ = try client.reader.read(count: 1, deadline: Date().addingTimeInterval(10))
            // SO_LINGER 0: close sends a RST, so the proxy's next write fails with ECONNRESET/EPIPE.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        let response = try proxy.client().roundTrip(httpRequest("GET", "/after-reset"))
        XCTAssertEqual(response.status, 200)
    }
}
