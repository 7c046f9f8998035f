import Reactor
import Stats
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The shell around `NameRefreshSchedule`, with an injected resolver: the first attempt at
/// start-up, the background attempts on a thread of their own, events once per change.
final class ResolvedNameTests: XCTestCase {
    /// A resolver the test switches: no address until `answer` is set.
    private final class FakeResolver: Sendable {
        let answer = Locked<SocketAddress?>(nil)
        let calls = Locked<[pthread_t]>([])

        var resolver: ResolvedName.Resolver {
            { [self] host, _ throws(SystemError) in
                calls.withLock { $0.append(pthread_self()) }
                guard let a = answer.withLock({ $0 }) else {
                    throw SystemError(call: "getaddrinfo(\(host))", resolverCode: EAI_NONAME)
                }
                return a
            }
        }
        var callCount: Int { calls.withLock { $0.count } }
    }

    private final class Events: Sendable {
        let list = Locked<[ResolvedName.Event]>([])
        var changes: [(NameRefreshSchedule.Status, NameRefreshSchedule.Status)] {
            list.withLock { l in
                l.compactMap {
                    if case .changed(let from, let to) = $0 { return (from, to) }
                    return nil
                }
            }
        }
        var failures: Int {
            list.withLock { l in
                l.filter {
                    if case .attempted(failed: true) = $0 { return true }
                    return false
                }.count
            }
        }
    }

    private let a = SocketAddress.literal(host: "127.0.0.1", port: 9)!
    private let b = SocketAddress.literal(host: "127.0.0.2", port: 9)!
    private let fast = NameRefreshSettings(
        policy: .init(refreshMs: 40, firstRetryMs: 5, maxRetryMs: 20))

    func testTheFirstAttemptIsMadeAtStartUpAndAFailureIsNotFatal() throws {
        let fake = FakeResolver()
        let events = Events()
        let name = ResolvedName(
            host: "tp-late.test", port: 9, settings: .init(resolver: fake.resolver)
        ) { e in events.list.withLock { $0.append(e) } }
        XCTAssertEqual(fake.callCount, 1)
        XCTAssertNil(name.address)
        XCTAssertEqual(events.failures, 1)
        XCTAssertEqual(events.changes.count, 1)
        let error = name.unresolvedError()
        XCTAssertTrue(error.isResolverFailure)
        XCTAssertTrue("\(error)".hasPrefix("tp-late.test:9 does not resolve: "), "\(error)")
        XCTAssertFalse("\(error)".contains("Success"))
        XCTAssertEqual(name.description, "tp-late.test:9 (unresolved)")
    }

    func testASocketConnectorThrowsTheResolverFailureWhileThereIsNoAddress() throws {
        let fake = FakeResolver()
        let name = ResolvedName(host: "tp-late.test", port: 9, settings: .init(resolver: fake.resolver))
        let loop = try EventLoop(index: 0)
        defer { loop.queue.sync { loop.stop() } }
        let connector = SocketConnector(name: name, loop: loop)
        XCTAssertThrowsError(try loop.queue.sync { try connector.connect() }) { error in
            XCTAssertTrue((error as? SystemError)?.isResolverFailure ?? false, "\(error)")
        }
    }

    /// Attempts run in the background until the name resolves; the log hears of it twice (does
    /// not resolve, resolves now), however many attempts failed.
    func testABackgroundAttemptPicksUpALateNameAndReportsEachChangeOnce() throws {
        let fake = FakeResolver()
        let events = Events()
        let name = ResolvedName(host: "tp-late.test", port: 9, settings: withResolver(fake)) { e in
            events.list.withLock { $0.append(e) }
        }
        name.start()
        defer { name.stop() }
        XCTAssertTrue(waitUntil(timeout: 5) { events.failures >= 4 })
        XCTAssertNil(name.address)
        fake.answer.withLock { $0 = a }
        XCTAssertTrue(waitUntil(timeout: 5) { name.address == a })
        let changes = events.changes
        XCTAssertEqual(changes.count, 2, "\(changes)")
        XCTAssertEqual(changes.last?.1, .resolved(a))
        // Never on the caller's thread after start-up.
        let me = pthread_self()
        XCTAssertTrue(fake.calls.withLock { $0.dropFirst().allSatisfy { pthread_equal($0, me) == 0 } })
    }

    /// A name that moves is followed, and the generation says so.
    func testARefreshFollowsAMove() throws {
        let fake = FakeResolver()
        fake.answer.withLock { $0 = a }
        let name = ResolvedName(host: "collector.test", port: 9, settings: withResolver(fake))
        let first = name.current.generation
        XCTAssertEqual(name.address, a)
        name.start()
        defer { name.stop() }
        fake.answer.withLock { $0 = b }
        XCTAssertTrue(waitUntil(timeout: 5) { name.address == b })
        XCTAssertEqual(name.current.generation, first + 1)
    }

    func testALiteralIsNeverLookedUp() throws {
        let fake = FakeResolver()
        let name = ResolvedName(host: "127.0.0.1", port: 9, settings: withResolver(fake))
        name.start()
        defer { name.stop() }
        XCTAssertTrue(name.isLiteral)
        XCTAssertEqual(name.address, a)
        usleep(100_000)  // several refresh intervals of `fast`
        XCTAssertEqual(fake.callCount, 0)
    }

    func testStopEndsTheAttempts() throws {
        let fake = FakeResolver()
        let name = ResolvedName(host: "tp-late.test", port: 9, settings: withResolver(fake))
        name.start()
        XCTAssertTrue(waitUntil(timeout: 5) { fake.callCount >= 3 })
        name.stop()
        usleep(30_000)  // an attempt in progress may finish
        let after = fake.callCount
        usleep(100_000)
        XCTAssertEqual(fake.callCount, after)
    }

    private func withResolver(_ fake: FakeResolver) -> NameRefreshSettings {
        var s = fast
        s.resolver = fake.resolver
        return s
    }
}
