#if canImport(Glibc)
    import Glibc
#endif

/// An incremental HTTP/1.1 message parser: bytes in, events out.
///
/// The caller passes whatever bytes it has (down to one at a time); `next` consumes a prefix and
/// returns at most one event. Body events point into the caller's input so bodies stream without a
/// copy. Keep calling `next` with the unconsumed rest until it returns a nil event with everything
/// consumed; then read more.
///
/// Heads are collected in a reused buffer until the empty line (each byte is looked at once, so
/// a head trickling in byte by byte still costs linear time) and then parsed in one pass; the
/// head's bytes are copied once into `HTTPHead.bytes`. After an error the parser's state is
/// unspecified: the caller answers (see `HTTPParseError.status`) and closes the connection.
public struct HTTPParser: Sendable {
    public enum Kind: Sendable { case request, response }

    public struct Limits: Sendable {
        /// The whole head, start line included (431 beyond it).
        public var maxHeaderBytes: Int
        /// Number of header fields (431 beyond it).
        public var maxHeaders: Int
        /// Request target length (414 beyond it).
        public var maxTargetLength: Int

        public init(
            maxHeaderBytes: Int = 64 * 1024, maxHeaders: Int = 100, maxTargetLength: Int = 16 * 1024
        ) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaders = maxHeaders
            self.maxTargetLength = maxTargetLength
        }
    }

    public enum Event: Sendable {
        case head(HTTPHead)
        /// Body bytes: a range of indices into the input buffer passed to this `next` call.
        case body(Range<Int>)
        /// The message is complete (after its last body byte, or right after the head when it has
        /// no body). The parser is ready for the next message on the connection.
        case end
    }

    enum State: Sendable {
        /// Collecting a head (or idle, when nothing is collected yet).
        case head
        /// The message is complete; the next call reports `.end`.
        case endPending
        case length(remaining: Int)
        case chunked(ChunkedDecoder)
        case untilClose
        /// After a 101 response: the bytes that follow are not HTTP.
        case upgraded
    }

    let kind: Kind
    let limits: Limits
    var state: State = .head
    /// Head bytes received so far (empty when idle or the head arrived in one piece).
    private var headBuffer: [UInt8] = []
    /// The last head's bytes and fields, shared with the head handed out; reused in place for
    /// the next head when that one was let go.
    private var headBytes: [UInt8] = []
    private var headFields: [HeaderField] = []
    /// Where the head-end scan stands: 0 inside a line, 1 just after LF, 2 after LF CR.
    private var lineState: UInt8 = 0
    private var sawFirstLineEnd = false
    /// The next response answers a HEAD (or CONNECT) request; kept across 1xx interim responses.
    private var responseToHEAD = false
    private var responseToCONNECT = false
    /// Request parsers: the first line's bytes so far, checked as they come, and the line once
    /// parsed at its LF.
    private var lineScanner = RequestLineScanner()
    private var requestLine: RequestLine?
    /// Set by a 101 head: after its `.end` the parser stops.
    private var upgradeAfterEnd = false

    public init(kind: Kind, limits: Limits = Limits()) {
        self.kind = kind
        self.limits = limits
    }

    /// Back to waiting for a new message, keeping the head storage: a parser reused for the next
    /// response on a pooled connection allocates nothing for its head.
    public mutating func reset() {
        state = .head
        headBuffer.removeAll(keepingCapacity: true)
        lineState = 0
        sawFirstLineEnd = false
        responseToHEAD = false
        responseToCONNECT = false
        upgradeAfterEnd = false
        lineScanner = RequestLineScanner()
        requestLine = nil
    }

    /// For response parsers: the method of the request the next response answers. A response to
    /// HEAD has no body; a 2xx to CONNECT has none either, and the connection is a tunnel after
    /// it. Call before feeding that response's bytes; it holds until a final (non-1xx) head.
    public mutating func expectResponse(to method: HTTPMethod) {
        responseToHEAD = method == .head
        responseToCONNECT = method == .connect
    }

    /// `expectResponse(to: .head)` when `toHEAD`, otherwise as for a GET.
    public mutating func expectResponse(toHEAD: Bool) {
        expectResponse(to: toHEAD ? .head : .get)
    }

    /// Parses from the start of `input`. Returns how many bytes were consumed and the event, if any.
    public mutating func next(
        _ input: UnsafeRawBufferPointer
    ) throws(HTTPParseError) -> (consumed: Int, event: Event?) {
        switch state {
        case .head:
            return try nextHead(input)
        case .endPending:
            endMessage()
            return (0, .end)
        case .length(let remaining):
            guard !input.isEmpty else { return (0, nil) }
            let n = min(remaining, input.count)
            state = n == remaining ? .endPending : .length(remaining: remaining - n)
            return (n, .body(0..<n))
        case .chunked(var decoder):
            let r = try decoder.next(input, maxTrailerBytes: limits.maxHeaderBytes)
            if r.done {
                endMessage()
                return (r.consumed, .end)
            }
            state = .chunked(decoder)
            return (r.consumed, r.body.map { .body($0) })
        case .untilClose:
            guard !input.isEmpty else { return (0, nil) }
            return (input.count, .body(0..<input.count))
        case .upgraded:
            return (0, nil)
        }
    }

    /// The peer closed its side. Returns `.end` if that completes an `untilClose` body; nil if the
    /// parser was between messages; throws `.truncated` if a message was cut short.
    public mutating func finish() throws(HTTPParseError) -> Event? {
        switch state {
        case .head:
            guard headBuffer.isEmpty, lineState == 0 else { throw .truncated }
            return nil
        case .untilClose, .endPending:
            endMessage()
            return .end
        case .upgraded:
            return nil
        case .length, .chunked:
            throw .truncated
        }
    }

    /// True between messages (no partial head or body pending). False once a 101 response has
    /// ended: the connection no longer carries HTTP.
    public var isIdle: Bool {
        if case .head = state { return headBuffer.isEmpty && lineState == 0 }
        return false
    }

    private mutating func endMessage() {
        state = upgradeAfterEnd ? .upgraded : .head
        upgradeAfterEnd = false
    }

    // MARK: Heads

    private mutating func nextHead(
        _ input: UnsafeRawBufferPointer
    ) throws(HTTPParseError) -> (consumed: Int, event: Event?) {
        let n = input.count
        var i = 0
        // Empty lines before a start line are ignored (RFC 9112 section 2.2): some clients send
        // an extra CRLF after a body.
        if headBuffer.isEmpty {
            while i < n && (input[i] == ASCII.cr || input[i] == ASCII.lf) { i += 1 }
        }
        let start = i
        var st = lineState
        var end = -1
        // A request line whose LF is not in this input is checked byte by byte now; one whose LF is
        // here is checked whole at its LF (the same checks in the same order: the same answer).
        if kind == .request && !sawFirstLineEnd {
            let rest = UnsafeRawBufferPointer(rebasing: input[start...])
            if let base = rest.baseAddress, memchr(base, Int32(ASCII.lf), rest.count) == nil {
                try lineScanner.scan(rest, maxLineLength: maxLineLength)
            }
        }
        while i < n {
            let b = input[i]
            if b == ASCII.lf {
                if st != 0 {
                    end = i + 1
                    break
                }
                st = 1
                if !sawFirstLineEnd {
                    sawFirstLineEnd = true
                    // The whole request line is checked once it is read, head complete or not.
                    if kind == .request {
                        requestLine = try parseRequestLine(UnsafeRawBufferPointer(rebasing: input[start..<i]))
                    }
                }
            } else {
                st = b == ASCII.cr && st == 1 ? 2 : 0
            }
            i += 1
        }
        let taken = (end >= 0 ? end : n) - start
        let total = headBuffer.count + taken
        if total > limits.maxHeaderBytes { throw .headerTooLarge }
        let slice = UnsafeRawBufferPointer(rebasing: input[start..<start + taken])
        guard end >= 0 else {
            headBuffer.append(contentsOf: slice)
            lineState = st
            return (n, nil)
        }
        // A response head's storage is reused: the proxy drops a relayed head once it is written,
        // so a pooled connection allocates nothing per head. A request head's bytes are kept by
        // its span record until reported; reusing them would only copy the old capacity into a
        // fresh buffer (and grew RSS steadily under the soak with dead collectors).
        if kind == .response { headBytes.removeAll(keepingCapacity: true) } else { headBytes = [] }
        if !headBuffer.isEmpty {
            headBytes.append(contentsOf: headBuffer)
            headBuffer.removeAll(keepingCapacity: true)
        }
        headBytes.append(contentsOf: slice)
        lineState = 0
        sawFirstLineEnd = false
        lineScanner = RequestLineScanner()
        let line = requestLine
        requestLine = nil
        headFields.removeAll(keepingCapacity: true)
        var head = try parseHead(headBytes, fields: &headFields, requestLine: line)
        head.bytes = headBytes
        // An unusually large head's storage is not kept for the life of the connection.
        if headBytes.capacity > 8192 { headBytes = [] }
        if headFields.capacity > 64 { headFields = [] }
        startBody(head)
        return (end, .head(head))
    }

    /// The request line, `rest` being its bytes in this input (the start may wait in `headBuffer`).
    private func parseRequestLine(_ rest: UnsafeRawBufferPointer) throws(HTTPParseError) -> RequestLine {
        let limits = limits
        func parse(_ p: UnsafeRawBufferPointer) -> Result<RequestLine, HTTPParseError> {
            do throws(HTTPParseError) {
                return .success(try HeadParser.requestLine(p.assumingMemoryBound(to: UInt8.self), limits: limits))
            } catch {
                return .failure(error)
            }
        }
        if headBuffer.isEmpty { return try parse(rest).get() }
        return try (headBuffer + rest).withUnsafeBytes { parse($0) }.get()
    }

    /// The longest request line before the parser answers 414: the longest target plus room for
    /// the method and version.
    private var maxLineLength: Int { limits.maxTargetLength + 32 }

    private func parseHead(
        _ bytes: [UInt8], fields: inout [HeaderField], requestLine: RequestLine?
    ) throws(HTTPParseError) -> HTTPHead {
        let result: Result<HTTPHead, HTTPParseError> = bytes.withUnsafeBufferPointer { p in
            var parser = HeadParser(p, kind: kind, limits: limits, toHEAD: responseToHEAD)
            parser.toCONNECT = responseToCONNECT
            do throws(HTTPParseError) {
                return .success(try parser.parse(fields: &fields, requestLine: requestLine))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private mutating func startBody(_ head: HTTPHead) {
        if kind == .response && head.status >= 200 {
            responseToHEAD = false
            responseToCONNECT = false
        }
        upgradeAfterEnd = kind == .response && head.isUpgrade
        switch head.framing {
        case .none, .length(0): state = .endPending
        case .length(let n): state = .length(remaining: n)
        case .chunked: state = .chunked(ChunkedDecoder())
        case .untilClose: state = .untilClose
        }
    }
}
