import Foundation
import Logging
import Reactor
import Reporters
import Stats
import TestSupport
import XCTest

@testable import Proxy

/// A proxy started in-process on 127.0.0.1 port 0 with one loop. Tests do not wait for
/// `ProxyServer.shutdown()`'s drain, so every started server is kept for the life of the test
/// process (each test has its own ports; a dangling `unowned` loop reference would crash otherwise).
struct RunningProxy {
    let server: ProxyServer
    let port: UInt16
    let adminPort: UInt16?

    func client() throws -> RawHTTPClient { try RawHTTPClient(port: port) }
}

enum ProxyHarness {
    private static let keepAlive = Locked<[ProxyServer]>([])

    /// Starts a proxy in front of `upstreamPort` with short timeouts suitable for tests;
    /// `configure` adjusts anything else.
    static func start(
        upstreamPort: UInt16, _ configure: (inout ProxyConfig) -> Void = { _ in }
    ) throws -> RunningProxy {
        try start(upstreamPort: upstreamPort, resolver: nil, configure)
    }

    /// The same, with `resolver` in place of getaddrinfo for the upstream's and collectors' names.
    static func start(
        upstreamPort: UInt16, resolver: ResolvedName.Resolver?, _ configure: (inout ProxyConfig) -> Void
    ) throws -> RunningProxy {
        var config = ProxyConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        config.upstream = HostPort(host: "127.0.0.1", port: upstreamPort)
        config.admin = nil
        config.threads = 1
        config.flushIntervalMs = 50
        configure(&config)
        let server = try ProxyServer(config: config, logger: Logger(label: "proxy-tests"), resolver: resolver)
        try server.start()
        keepAlive.withLock { $0.append(server) }
        let port = server.listenPort
        let adminPort = server.adminListener.map { Socket.localAddress($0.fd).hostAndPort.port }
        return RunningProxy(server: server, port: port, adminPort: adminPort)
    }
}

/// The parts of a W3C traceparent (`00-<trace>-<span>-<flags>`), checked strictly.
struct Traceparent: Equatable {
    let traceID: String
    let spanID: String
    let flags: String

    init?(_ value: String?) {
        guard let value else { return nil }
        let parts = value.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        let hex = Set("0123456789abcdef")
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts.dropFirst().allSatisfy({ $0.allSatisfy(hex.contains) })
        else { return nil }
        traceID = parts[1]
        spanID = parts[2]
        flags = parts[3]
    }
}

/// Random lower-hex ids for incoming contexts.
func randomHex(_ digits: Int) -> String {
    var s = ""
    while s.count < digits { s += String(UInt64.random(in: 1...UInt64.max), radix: 16) }
    return String(s.prefix(digits))
}

/// The tests' collectors hand out URLs; the proxy takes the parsed form.
func reporterTarget(_ url: String) -> ReporterTarget {
    guard let target = try? ReporterTarget.parse(url) else { fatalError("not a reporter URL: \(url)") }
    return target
}
