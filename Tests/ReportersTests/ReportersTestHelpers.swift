import Dispatch
import Foundation
import Propagation
import Reporters
import Spans
import Stats
import XCTest

/// Distinct spans with random ids, so that a test can look for each one in what was delivered.
/// `tagBytes` is the length of the User-Agent, the one free-form tag, to size the encoded spans.
func makeSpans(_ count: Int, tagBytes: Int = 20) -> [SpanRecord] {
    // Not SystemRandomNumberGenerator: ThreadSanitizer crashes when an empty generator is passed
    // inout to generic code (swiftlang/swift#66099), and this suite also runs under TSan.
    var generator = SplitMix64()
    let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
    return (0..<count).map { i in
        SpanRecord(
            traceID: TraceID.random(using: &generator), spanID: SpanID.random(using: &generator),
            startMicros: now, durationMicros: 1500 + Int64(i), method: "GET", target: "/items/item-\(i)",
            userAgent: String(repeating: "x", count: tagBytes), status: 200)
    }
}

let testProcess = ServiceProcess(
    serviceName: "reporters-test", tags: [Tag("hostname", .string("t"))])

/// The value of the series `name{labels}` in the registry's Prometheus text, or nil if absent.
func metricValue(_ metrics: MetricsRegistry, _ series: String) -> Int? {
    for line in metrics.render().split(separator: "\n") where line.hasPrefix(series + " ") {
        return Int(line.dropFirst(series.count + 1))
    }
    return nil
}

/// Polls `condition` every 2 ms until it holds or `timeout` seconds pass.
func eventually(timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

/// Thrift compact protocol's encoding of an i64 value: zigzag, then a little-endian base-128
/// varint (thrift/doc/specs/thrift-compact-protocol.md, "Integer encoding"). Written here from
/// the spec, independently of SpanEncoding, to find span ids inside datagrams.
func compactI64(_ value: Int64) -> [UInt8] {
    var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    var out: [UInt8] = []
    while zigzag >= 0x80 {
        out.append(UInt8(zigzag & 0x7f) | 0x80)
        zigzag >>= 7
    }
    out.append(UInt8(zigzag))
    return out
}

/// How many times `needle` occurs in all of `datagrams` (Foundation's search keeps this fast in
/// debug builds, where a Swift byte loop over hundreds of kilobytes per span id takes seconds).
func occurrences(of needle: [UInt8], in datagrams: [[UInt8]]) -> Int {
    let pin = Data(needle)
    var count = 0
    for datagram in datagrams {
        let hay = Data(datagram)
        var from = hay.startIndex
        while let hit = hay.range(of: pin, in: from..<hay.endIndex) {
            count += 1
            from = hit.lowerBound + 1
        }
    }
    return count
}

/// A SpanReporter that keeps the batches it is given: the pipeline's observable output.
/// `blockUntilReleased` makes `send` hang like a dead collector; `result` is what send returns.
final class RecordingReporter: SpanReporter {
    let name: String
    private let state = Locked<(batches: [[SpanRecord]], closed: Bool)>(([], false))
    private let result: Bool
    private let gate: DispatchSemaphore?

    let takesWholeQueue: Bool

    init(
        name: String = "recording", result: Bool = true, blockUntilReleased: Bool = false, wholeQueue: Bool = false
    ) {
        self.name = name
        self.result = result
        self.gate = blockUntilReleased ? DispatchSemaphore(value: 0) : nil
        takesWholeQueue = wholeQueue
    }

    var batches: [[SpanRecord]] { state.withLock { $0.batches } }
    var spanCount: Int { batches.reduce(0) { $0 + $1.count } }
    var closed: Bool { state.withLock { $0.closed } }

    func send(_ spans: [SpanRecord]) -> Bool {
        state.withLock { $0.batches.append(spans) }
        gate?.wait()
        return result
    }

    func release() { gate?.signal() }

    func close() { state.withLock { $0.closed = true } }
}

/// A `PipelineClock` that moves only when told to: the pipeline's interval and deadline tests
/// advance it instead of sleeping. Waits registered with it return when their semaphore is
/// signalled or when `advance` carries the time past their deadline.
final class ManualPipelineClock: PipelineClock {
    private struct Sleeper {
        var deadline: UInt64
        var semaphore: DispatchSemaphore
        var timedOut = false
    }

    private let state: Locked<(now: UInt64, sleepers: [Int: Sleeper], nextID: Int)>

    /// Starts at the system's current time, so that deadlines handed on to real reporters mean
    /// the same instant to them.
    init() {
        state = Locked((DispatchTime.now().uptimeNanoseconds, [:], 0))
    }

    func now() -> DispatchTime { DispatchTime(uptimeNanoseconds: state.withLock { $0.now }) }

    func wait(on semaphore: DispatchSemaphore, until deadline: DispatchTime) -> Bool {
        let id = state.withLock { s -> Int? in
            if deadline.uptimeNanoseconds <= s.now { return nil }
            s.nextID += 1
            s.sleepers[s.nextID] = Sleeper(deadline: deadline.uptimeNanoseconds, semaphore: semaphore)
            return s.nextID
        }
        guard let id else { return semaphore.wait(timeout: .now()) == .success }
        semaphore.wait()
        let timedOut = state.withLock { $0.sleepers.removeValue(forKey: id)?.timedOut ?? false }
        return !timedOut
    }

    func advance(milliseconds: Int) {
        state.withLock { s in
            s.now += UInt64(milliseconds) * 1_000_000
            for (id, sleeper) in s.sleepers where !sleeper.timedOut && sleeper.deadline <= s.now {
                s.sleepers[id]?.timedOut = true
                sleeper.semaphore.signal()
            }
        }
    }

    /// Waits (in real time, polling) until `count` threads are blocked on this clock: the
    /// pipeline's workers idle between flushes, or a shutdown waiting for its deadline.
    func waitForSleepers(_ count: Int, file: StaticString = #filePath, line: UInt = #line) {
        let reached = eventually {
            state.withLock { s in s.sleepers.values.filter { !$0.timedOut }.count >= count }
        }
        XCTAssertTrue(reached, "\(count) waits on the manual clock", file: file, line: line)
    }
}
