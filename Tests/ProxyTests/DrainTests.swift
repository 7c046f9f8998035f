import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT against the real binary: finish what is in flight, flush spans, exit 0.
/// Run as a subprocess because the drain ends the process.
final class DrainTests: XCTestCase {
    private var upstream: TestUpstream!

    override func setUpWithError() throws {
        upstream = try TestUpstream()
    }

    override func tearDown() {
        upstream.stop()
    }

    /// The `traceproxy` built alongside the test bundle (same build directory), else
    /// `.build/debug/traceproxy` in the package root.
    static func binaryURL() throws -> URL {
        var candidates: [URL] = []
        let testBinary = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var dir = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("traceproxy"))
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/traceproxy"))
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue {
                return candidate
            }
        }
        throw MissingBinary(
            description: "traceproxy binary not found (looked at \(candidates.map(\.path))); run `swift build` first")
    }

    struct MissingBinary: Error, CustomStringConvertible {
        let description: String
    }

    final class ProxyProcess {
        let process = Process()
        let port: UInt16
        let logURL: URL

        init(upstreamPort: UInt16, extra: [String]) throws {
            port = freeTCPPort()
            process.executableURL = try DrainTests.binaryURL()
            process.arguments =
                [
                    "--listen", "127.0.0.1:\(port)", "--upstream", "http://127.0.0.1:\(upstreamPort)",
                    "--admin", "off", "--threads", "1",
                ] + extra
            logURL = FileManager.default.temporaryDirectory.appendingPathComponent("traceproxy-\(UUID()).log")
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: logURL)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// Waits until the port accepts connections.
        func waitReady(timeout: TimeInterval = 20) -> Bool {
            waitUntil(timeout: timeout) { process.isRunning && (try? RawHTTPClient(port: port)) != nil }
        }

        /// Waits for exit; returns the status, or nil if still running at the deadline.
        func waitExit(timeout: TimeInterval) -> Int32? {
            guard waitUntil(timeout: timeout, { !process.isRunning }) else { return nil }
            return process.terminationStatus
        }

        var log: String {
            (try? String(contentsOf: logURL, encoding: .utf8)) ?? "(no log)"
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: logURL)
        }
    }

    func test_sigterm_inFlightSlowRequestCompletes_spanFlushed_exit0() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let proxy = try ProxyProcess(
            upstreamPort: upstream.port,
            extra: ["--reporter", agent.url, "--flush-interval-ms", "60000", "--drain-timeout-ms", "8000"])
        XCTAssertTrue(proxy.waitReady(), "proxy did not start")
        let client = try RawHTTPClient(port: proxy.port)
        try client.send(httpRequest("GET", "/slow/800"))
        XCTAssertEqual(upstream.waitForRequests(count: 1).count, 1, "request did not reach the upstream")
        let injected = try XCTUnwrap(Traceparent(upstream.requests.first?.header("traceparent")))
        kill(proxy.process.processIdentifier, SIGTERM)
        usleep(100_000)
        // New connections during the drain are not served.
        if let late = try? RawHTTPClient(port: proxy.port) {
            try? late.send(httpRequest("GET", "/late"))
            if let answer = try? late.readFinalResponse(timeout: 5) {
                XCTAssertEqual(answer.status, 503, "a new connection was served during the drain")
            }
        }
        let response = try client.readFinalResponse(timeout: 10)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "slow")
        XCTAssertTrue(response.connectionTokens.contains("close"), "the drain should close after the response")
        XCTAssertTrue(client.waitForClose(timeout: 5))
        let status = proxy.waitExit(timeout: 15)
        XCTAssertEqual(status, 0, "exit status; log:\n\(proxy.log)")
        XCTAssertEqual(proxy.process.terminationReason, .exit)
        XCTAssertFalse(upstream.requests.contains { $0.target == "/late" })
        let spanID = compactVarint(Int64(bitPattern: UInt64(injected.spanID, radix: 16)!))
        XCTAssertTrue(
            waitUntil(timeout: 5) { agent.received.contains { ByteStreamReader.find(spanID, in: $0) != nil } },
            "the queued span was not flushed before exit")
    }

    func test_sigint_idleProxy_exit0Promptly() throws {
        let proxy = try ProxyProcess(upstreamPort: upstream.port, extra: [])
        XCTAssertTrue(proxy.waitReady(), "proxy did not start")
        let client = try RawHTTPClient(port: proxy.port)
        XCTAssertEqual(try client.roundTrip(httpRequest("GET", "/x")).status, 200)
        kill(proxy.process.processIdentifier, SIGINT)
        XCTAssertTrue(client.waitForClose(timeout: 10), "idle keep-alive connection not closed by the drain")
        XCTAssertEqual(proxy.waitExit(timeout: 15), 0, "log:\n\(proxy.log)")
    }

    /// A request still in flight when `--drain-timeout-ms` runs out is answered 503 and recorded
    /// like any other failed exchange: a span with the error and an access-log line.
    func test_sigterm_drainTimeoutExpires_inFlightAnswered503_spanAndAccessLogLine_exit0() throws {
        let agent = try UDPReceiver()
        defer { agent.stop() }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("drain-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let proxy = try ProxyProcess(
            upstreamPort: upstream.port,
            extra: [
                "--drain-timeout-ms", "300", "--reporter", agent.url, "--flush-interval-ms", "60000",
                "--access-log", log.path,
            ])
        XCTAssertTrue(proxy.waitReady(), "proxy did not start")
        let client = try RawHTTPClient(port: proxy.port)
        try client.send(httpRequest("GET", "/hang"))
        XCTAssertEqual(upstream.waitForRequests(count: 1).count, 1)
        let injected = try XCTUnwrap(Traceparent(upstream.requests.first?.header("traceparent")))
        kill(proxy.process.processIdentifier, SIGTERM)
        XCTAssertEqual(proxy.waitExit(timeout: 15), 0, "log:\n\(proxy.log)")
        XCTAssertEqual(try client.readFinalResponse(timeout: 5).status, 503)
        XCTAssertTrue(client.waitForClose(timeout: 5))
        let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "\(lines)")
        XCTAssertTrue(lines.first?.contains("\"GET /hang HTTP/1.1\" 503 0 ") == true, "\(lines)")
        XCTAssertTrue(lines.first?.contains("error=drain_timeout") == true, "\(lines)")
        let spanID = compactVarint(Int64(bitPattern: UInt64(injected.spanID, radix: 16)!))
        XCTAssertTrue(
            waitUntil(timeout: 5) { agent.received.contains { ByteStreamReader.find(spanID, in: $0) != nil } },
            "the cut request left no span")
    }
}
