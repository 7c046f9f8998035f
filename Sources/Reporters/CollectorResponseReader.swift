import HTTP1

/// Finds the end of the collector's answer in the bytes read so far, with HTTP1's response parser
/// (the proxy's own), so that the Zipkin reporter's keep-alive connection follows the same
/// framing rules (RFC 9112 section 6.3) as everything else. Only the status and the framing
/// matter here: the collector's body is discarded.
struct CollectorResponseReader {
    enum Progress: Equatable {
        /// More bytes are needed.
        case incomplete
        /// The response ends at `end`; `keepAlive` says whether the connection may carry another.
        case complete(status: Int, keepAlive: Bool, end: Int)
    }

    private var parser = HTTPParser(kind: .response)
    /// How much of the buffer the parser has taken.
    private var consumed = 0
    /// The final response's head once it has arrived.
    private(set) var head: HTTPHead?
    /// The response body, up to `maxBody` bytes (an OTLP collector's partial-success message).
    private(set) var body: [UInt8] = []
    static let maxBody = 64 * 1024

    /// Feeds what `buffer` holds beyond the bytes already taken (the buffer only grows).
    /// `atEOF`: the peer closed, so what is there is all there is.
    mutating func feed(_ buffer: [UInt8], atEOF: Bool) throws(HTTPParseError) -> Progress {
        while true {
            let start = consumed
            let step = buffer.withUnsafeBytes { raw in
                Result { () throws(HTTPParseError) in
                    try parser.next(UnsafeRawBufferPointer(rebasing: raw[start...]))
                }
            }
            let (taken, event) = try step.get()
            consumed += taken
            switch event {
            case .head(let h):
                head = h
                body.removeAll()
            case .body(let r):
                if body.count < Self.maxBody {
                    let take = r.lowerBound..<min(r.upperBound, r.lowerBound + Self.maxBody - body.count)
                    body.append(contentsOf: buffer[(start + take.lowerBound)..<(start + take.upperBound)])
                }
            case .end:
                // Interim 1xx responses precede the real one (RFC 9112 section 6.3 rule 1).
                guard let head, !(100...199).contains(head.status) else { continue }
                return .complete(status: head.status, keepAlive: head.keepAlive, end: consumed)
            case nil:
                guard taken == 0 || consumed == buffer.count else { continue }
                guard atEOF else { return .incomplete }
                // A body delimited by the close ends here, and the connection is spent.
                guard case .end = try parser.finish(), let head else { throw .truncated }
                return .complete(status: head.status, keepAlive: false, end: buffer.count)
            }
        }
    }
}
