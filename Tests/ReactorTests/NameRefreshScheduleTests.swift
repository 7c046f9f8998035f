import Reactor
import XCTest

/// The late-name rules in memory: the time is given to each call, nothing sleeps.
final class NameRefreshScheduleTests: XCTestCase {
    private let a = SocketAddress.literal(host: "127.0.0.1", port: 8080)!
    private let b = SocketAddress.literal(host: "127.0.0.2", port: 8080)!
    private let policy = NameRefreshSchedule.Policy(refreshMs: 30_000, firstRetryMs: 250, maxRetryMs: 5_000)

    func testFirstAttemptIsDueAtOnce() {
        let s = NameRefreshSchedule(policy: policy, nowMs: 1_000)
        XCTAssertTrue(s.isDue(nowMs: 1_000))
        XCTAssertEqual(s.delayMs(nowMs: 1_000), 0)
        XCTAssertEqual(s.status, .pending)
        XCTAssertNil(s.status.address)
    }

    func testFailuresBackOffDoublingUpToTheCap() {
        var s = NameRefreshSchedule(policy: policy, nowMs: 0)
        var now: Int64 = 0
        var waits: [Int64] = []
        for _ in 0..<9 {
            _ = s.record(.failure(reason: "Name or service not known"), nowMs: now)
            waits.append(s.delayMs(nowMs: now))
            XCTAssertFalse(s.isDue(nowMs: now + waits.last! - 1))
            XCTAssertTrue(s.isDue(nowMs: now + waits.last!))
            now += waits.last!
        }
        XCTAssertEqual(waits, [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000])
        XCTAssertEqual(s.consecutiveFailures, 9)
    }

    func testTheRetryCapIsNeverLongerThanTheRefreshInterval() {
        let short = NameRefreshSchedule.Policy(refreshMs: 600, firstRetryMs: 250, maxRetryMs: 5_000)
        XCTAssertEqual((1...4).map { short.retryDelayMs(failures: $0) }, [250, 500, 600, 600])
        XCTAssertEqual(policy.retryDelayMs(failures: 1_000), 5_000, "no overflow after many failures")
    }

    func testAResolvedNameIsResolvedAgainAfterTheRefreshInterval() {
        var s = NameRefreshSchedule(policy: policy, nowMs: 0)
        XCTAssertEqual(s.record(.success(a), nowMs: 10), .pending)
        XCTAssertEqual(s.status, .resolved(a))
        XCTAssertEqual(s.delayMs(nowMs: 10), 30_000)
        XCTAssertFalse(s.isDue(nowMs: 30_009))
        XCTAssertTrue(s.isDue(nowMs: 30_010))
    }

    func testSuccessResetsTheBackoff() {
        var s = NameRefreshSchedule(policy: policy, nowMs: 0)
        for t in 0..<4 { _ = s.record(.failure(reason: "x"), nowMs: Int64(t)) }
        _ = s.record(.success(a), nowMs: 100)
        XCTAssertEqual(s.consecutiveFailures, 0)
        _ = s.record(.failure(reason: "x"), nowMs: 30_100)
        XCTAssertEqual(s.delayMs(nowMs: 30_100), 250)
    }

    /// A change is reported once: repeating the same result is no news.
    func testOnlyChangesOfStatusAreNews() {
        var s = NameRefreshSchedule(policy: policy, nowMs: 0)
        XCTAssertEqual(s.record(.failure(reason: "not known"), nowMs: 0), .pending)
        XCTAssertNil(s.record(.failure(reason: "not known"), nowMs: 250))
        XCTAssertNil(s.record(.failure(reason: "not known"), nowMs: 750))
        XCTAssertEqual(s.record(.success(a), nowMs: 1_000), .unresolved(reason: "not known"))
        XCTAssertNil(s.record(.success(a), nowMs: 31_000))
        XCTAssertEqual(s.record(.success(b), nowMs: 61_000), .resolved(a))
        XCTAssertEqual(s.status, .resolved(b))
    }

    /// A failed re-resolution keeps the address in use; connections keep going there.
    func testAFailedRefreshKeepsTheLastAddress() {
        var s = NameRefreshSchedule(policy: policy, nowMs: 0)
        _ = s.record(.success(a), nowMs: 0)
        let generation = s.generation
        XCTAssertEqual(s.record(.failure(reason: "temporary failure"), nowMs: 30_000), .resolved(a))
        XCTAssertEqual(s.status, .stale(a, reason: "temporary failure"))
        XCTAssertEqual(s.status.address, a)
        XCTAssertEqual(s.generation, generation, "the address did not change")
        XCTAssertEqual(s.delayMs(nowMs: 30_000), 250, "a stale name is retried with backoff")
        XCTAssertEqual(s.record(.success(a), nowMs: 30_250), .stale(a, reason: "temporary failure"))
        XCTAssertEqual(s.generation, generation)
    }

    func testTheGenerationCountsChangesOfAddressOnly() {
        var s = NameRefreshSchedule(policy: policy, nowMs: 0)
        XCTAssertEqual(s.generation, 0)
        _ = s.record(.failure(reason: "x"), nowMs: 0)
        XCTAssertEqual(s.generation, 0)
        _ = s.record(.success(a), nowMs: 1)
        XCTAssertEqual(s.generation, 1)
        _ = s.record(.success(a), nowMs: 2)
        XCTAssertEqual(s.generation, 1)
        _ = s.record(.success(b), nowMs: 3)
        XCTAssertEqual(s.generation, 2)
        _ = s.record(.failure(reason: "x"), nowMs: 4)
        XCTAssertEqual(s.generation, 2)
    }

    func testLogLines() {
        let name = "tp-late.test:8080"
        typealias S = NameRefreshSchedule
        XCTAssertEqual(
            S.describe(name: name, from: .pending, to: .unresolved(reason: "Name or service not known")).text,
            "tp-late.test:8080 does not resolve (Name or service not known); retrying in the background")
        XCTAssertTrue(S.describe(name: name, from: .pending, to: .unresolved(reason: "r")).warning)
        XCTAssertEqual(
            S.describe(name: name, from: .unresolved(reason: "r"), to: .resolved(a)).text,
            "tp-late.test:8080 resolves now to 127.0.0.1:8080")
        XCTAssertFalse(S.describe(name: name, from: .unresolved(reason: "r"), to: .resolved(a)).warning)
        XCTAssertEqual(
            S.describe(name: name, from: .resolved(a), to: .resolved(b)).text,
            "tp-late.test:8080 moved from 127.0.0.1:8080 to 127.0.0.2:8080")
        XCTAssertEqual(
            S.describe(name: name, from: .resolved(a), to: .stale(a, reason: "r")).text,
            "tp-late.test:8080 no longer resolves (r); keeping 127.0.0.1:8080, retrying in the background")
        XCTAssertEqual(
            S.describe(name: name, from: .stale(a, reason: "r"), to: .resolved(a)).text,
            "tp-late.test:8080 resolves again to 127.0.0.1:8080")
    }

    func testLiteralsAreRecognisedWithoutALookup() {
        XCTAssertNotNil(SocketAddress.literal(host: "127.0.0.1", port: 1))
        XCTAssertNotNil(SocketAddress.literal(host: "[::1]", port: 1))
        XCTAssertNotNil(SocketAddress.literal(host: "::1", port: 1))
        XCTAssertNil(SocketAddress.literal(host: "localhost", port: 1))
        XCTAssertNil(SocketAddress.literal(host: "tp-late.test", port: 1))
        XCTAssertEqual(
            SocketAddress.literal(host: "127.0.0.1", port: 1), SocketAddress.literal(host: "127.0.0.1", port: 1))
        XCTAssertNotEqual(
            SocketAddress.literal(host: "127.0.0.1", port: 1), SocketAddress.literal(host: "127.0.0.1", port: 2))
    }
}
