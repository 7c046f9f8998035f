import Dispatch
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import Proxy

#if canImport(Glibc)
    import Glibc
#endif

/// More clients than --max-connections, and a process out of file descriptors: connections wait
/// in the kernel's backlog and are served later; nothing crashes or spins.
final class OverloadTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    func test_maxConnections_extraConnectionWaitsInBacklog_servedWhenOneCloses() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.maxConnections = 2 }
        var first: RawHTTPClient? = try proxy.client()
        let second = try proxy.client()
        XCTAssertEqual(try first?.roundTrip(httpRequest("GET", "/one")).status, 200)
        XCTAssertEqual(try second.roundTrip(httpRequest("GET", "/two")).status, 200)
        let third = try proxy.client()  // the kernel completes the handshake; the proxy does not accept
        try third.send(httpRequest("GET", "/three"))
        XCTAssertTrue(third.staysQuiet(for: 0.4), "a connection over --max-connections was served")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_open_connections"), 2)
        XCTAssertFalse(upstream.requests.contains { $0.target == "/three" })
        first = nil  // closes one
        let response = try third.readFinalResponse(timeout: 5)
        XCTAssertEqual(response.status, 200, "the waiting connection was not served after a slot freed")
        XCTAssertEqual(try Hardening.metric(proxy, "traceproxy_accepted_connections_total"), 3)
        XCTAssertEqual(try second.roundTrip(httpRequest("GET", "/two-again")).status, 200)
    }

    /// A burst of 60 clients against a limit of 4: every request is answered, none fails, and the
    /// open-connections gauge never passes the limit.
    func test_maxConnections_burstAboveLimit_allServedGaugeBounded() throws {
        let proxy = try Hardening.start(upstreamPort: upstream.port, collector: nil) { $0.maxConnections = 4 }
        let clients = 60
        let ok = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let group = DispatchGroup()
        for i in 0..<clients {
            DispatchQueue.global().async(group: group) {
                defer { finished.add(1, ordering: .relaxed) }
                guard let client = try? proxy.client(),
                    let response = try? client.roundTrip(
                        httpRequest("GET", "/slow/20", headers: [("Connection", "close"), ("X-I", "\(i)")]), timeout: 20
                    )
                else { return }
                if response.status == 200 { ok.add(1, ordering: .relaxed) }
            }
        }
        var maxOpen = 0.0
        while finished.load(ordering: .relaxed) < clients {
            maxOpen = max(maxOpen, try Hardening.metric(proxy, "traceproxy_open_connections"))
            usleep(10_000)
        }
        group.wait()
        XCTAssertEqual(ok.load(ordering: .relaxed), clients)
        XCTAssertLessThanOrEqual(maxOpen, 4)
        XCTAssertEqual(upstream.requests.count, clients)
    }

    /// CPU seconds (user + system) the process has used, from /proc/PID/stat.
    private func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private func openFDs(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// The real binary with a low descriptor limit: accept hits EMFILE, the loop backs off instead
    /// of spinning on a readiness it cannot serve, and serves again once descriptors are free.
    func test_outOfFileDescriptors_acceptLoopDoesNotSpin_recovers() throws {
        let port = freeTCPPort()
        let process = Process()
        let binary = try DrainTests.binaryURL()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c",
            "ulimit -n 64 && exec \"$0\" --listen 127.0.0.1:\(port) --upstream http://127.0.0.1:\(upstream.port)"
                + " --admin off --threads 1",
            binary.path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let pid = process.processIdentifier
        XCTAssertTrue(waitUntil(timeout: 20) { (try? RawHTTPClient(port: port)) != nil }, "proxy did not start")
        let baseFDs = openFDs(pid)
        var hogs: [RawHTTPClient] = []
        for _ in 0..<100 {
            if let c = try? RawHTTPClient(port: port) { hogs.append(c) }
        }
        usleep(300_000)
        XCTAssertTrue(process.isRunning, "the proxy died out of descriptors")
        // The limit is 64; reading /proc/PID/fd is not atomic while descriptors come and go, so
        // allow one entry of slack.
        XCTAssertLessThanOrEqual((0..<3).map { _ in openFDs(pid) }.min() ?? 0, 65)
        XCTAssertGreaterThan(openFDs(pid), 50, "the descriptor limit was not reached; EMFILE not exercised")
        let cpuBefore = try XCTUnwrap(cpuSeconds(pid))
        usleep(1_000_000)
        let cpuUsed = try XCTUnwrap(cpuSeconds(pid)) - cpuBefore
        print("EMFILE: \(hogs.count) connections, fds \(baseFDs) -> \(openFDs(pid)), CPU over 1 s: \(cpuUsed) s")
        XCTAssertLessThan(cpuUsed, 0.3, "the accept loop spins while out of descriptors")
        hogs.removeAll()
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                guard let c = try? RawHTTPClient(port: port),
                    let r = try? c.roundTrip(httpRequest("GET", "/after-emfile"), timeout: 2)
                else { return false }
                return r.status == 200
            }, "not serving again after descriptors were freed")
        XCTAssertTrue(process.isRunning)
    }
}
