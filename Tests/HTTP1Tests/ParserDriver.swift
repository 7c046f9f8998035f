import HTTP1
import XCTest

/// What a parser produced for one message, in a form that does not depend on how the input was
/// split: the head's observable properties, the body bytes joined, and whether `.end` came.
struct ParsedMessage: Equatable {
    var method = ""
    var target = ""
    var status = 0
    var versionMinor = 0
    var framing = BodyFraming.none
    var keepAlive = false
    var expectsContinue = false
    var isUpgrade = false
    var contentLength: Int?
    var fields: [String] = []
    var body: [UInt8] = []
    var ended = false

    init(_ head: HTTPHead) {
        method = head.methodString
        target = head.target
        status = head.status
        versionMinor = head.versionMinor
        framing = head.framing
        keepAlive = head.keepAlive
        expectsContinue = head.expectsContinue
        isUpgrade = head.isUpgrade
        contentLength = head.contentLength
        fields = head.fields.map { f in
            let name = String(
                decoding: head.bytes[Int(f.nameStart)..<Int(f.nameEnd)], as: UTF8.self)
            let value = String(
                decoding: head.bytes[Int(f.valueStart)..<Int(f.valueEnd)], as: UTF8.self)
            return "\(name): \(value)"
        }
    }
}

struct ParseOutcome: Equatable {
    var messages: [ParsedMessage] = []
    var error: HTTPParseError?
    /// Bytes left unconsumed after the last event (the tunnelled bytes after a 101); empty
    /// after an error.
    var leftover: [UInt8] = []
}

/// A deterministic generator (SplitMix64) so random split points are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum ParserDriver {
    /// Feeds `input` in pieces of the given sizes (the rest as one last piece), the way a
    /// connection would: unconsumed bytes are kept and fed again with the next read.
    static func run(
        _ kind: HTTPParser.Kind, _ input: [UInt8], pieces: [Int], toHEAD: Bool = false,
        limits: HTTPParser.Limits = .init(), finish: Bool = false
    ) -> ParseOutcome {
        var parser = HTTPParser(kind: kind, limits: limits)
        parser.expectResponse(toHEAD: toHEAD)
        var outcome = ParseOutcome()
        var pending: [UInt8] = []
        var offset = 0
        var sizes = pieces
        do throws(HTTPParseError) {
            while offset < input.count {
                let size =
                    sizes.isEmpty
                    ? input.count - offset : min(sizes.removeFirst(), input.count - offset)
                pending += input[offset..<offset + size]
                offset += size
                while true {
                    let step = try parser.step(pending)
                    pending.removeFirst(step.consumed)
                    guard let event = step.event else { break }
                    apply(event, body: step.body, to: &outcome)
                }
            }
            if finish, let event = try parser.finish() { apply(event, body: nil, to: &outcome) }
            outcome.leftover = pending
        } catch {
            // Where the input was split decides how much sat unconsumed at the error; only the
            // error itself is comparable.
            outcome.error = error
        }
        return outcome
    }

    private static func apply(
        _ event: HTTPParser.Event, body: [UInt8]?, to outcome: inout ParseOutcome
    ) {
        switch event {
        case .head(let head): outcome.messages.append(ParsedMessage(head))
        case .body: outcome.messages[outcome.messages.count - 1].body += body ?? []
        case .end: outcome.messages[outcome.messages.count - 1].ended = true
        }
    }

    /// Parses `input` whole, one byte at a time and at random split points; asserts that all
    /// give the same outcome and returns it.
    static func parseEverySplit(
        _ kind: HTTPParser.Kind, _ input: [UInt8], toHEAD: Bool = false,
        limits: HTTPParser.Limits = .init(), finish: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) -> ParseOutcome {
        let whole = run(kind, input, pieces: [], toHEAD: toHEAD, limits: limits, finish: finish)
        let bytewise = run(
            kind, input, pieces: Array(repeating: 1, count: input.count), toHEAD: toHEAD,
            limits: limits,
            finish: finish)
        XCTAssertEqual(bytewise, whole, "byte-at-a-time differs", file: file, line: line)
        var rng = SplitMix64(state: UInt64(input.count))
        for _ in 0..<20 {
            var sizes: [Int] = []
            var total = 0
            while total < input.count {
                let s = Int.random(in: 1...max(1, input.count / 3), using: &rng)
                sizes.append(s)
                total += s
            }
            let split = run(
                kind, input, pieces: sizes, toHEAD: toHEAD, limits: limits, finish: finish)
            XCTAssertEqual(split, whole, "split \(sizes) differs", file: file, line: line)
        }
        return whole
    }
}

/// The UTF-8 bytes of a test message.
func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

extension HTTPParser {
    /// `next` over an array, returning the body bytes an event points at (Array's
    /// `withUnsafeBytes` does not carry a typed error, hence the Result).
    mutating func step(
        _ bytes: [UInt8]
    ) throws(HTTPParseError) -> (consumed: Int, event: Event?, body: [UInt8]) {
        let result: Result<(Int, Event?, [UInt8]), HTTPParseError> = bytes.withUnsafeBytes { p in
            do throws(HTTPParseError) {
                let r = try next(p)
                var body: [UInt8] = []
                if case .body(let range)? = r.event { body = Array(p[range]) }
                return .success((r.consumed, r.event, body))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
