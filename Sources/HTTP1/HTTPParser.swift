/// An incremental HTTP/1.1 message parser: bytes in, events out.
///
/// The caller passes whatever bytes it has (down to one at a time); `next` consumes a prefix and
/// returns at most one event. Body events point into the caller's input so bodies stream without a
/// copy. Keep calling `next` with the unconsumed rest until it returns a nil event with everything
/// consumed; then read more.
public struct HTTPParser: Sendable {
    public enum Kind: Sendable { case request, response }

    public struct Limits: Sendable {
        /// The whole head, start line included (431 beyond it).
        public var maxHeaderBytes: Int
        /// Number of header fields (431 beyond it).
        public var maxHeaders: Int
        /// Request target length (414 beyond it).
        public var maxTargetLength: Int

        public init(maxHeaderBytes: Int = 64 * 1024, maxHeaders: Int = 100, maxTargetLength: Int = 16 * 1024) {
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

    public init(kind: Kind, limits: Limits = Limits()) {
        fatalError("implemented by the HTTP1 work")
    }

    /// For response parsers: the next response answers a HEAD request (so it has no body).
    /// Call before feeding that response's bytes.
    public mutating func expectResponse(toHEAD: Bool) {
        fatalError("implemented by the HTTP1 work")
    }

    /// Parses from the start of `input`. Returns how many bytes were consumed and the event, if any.
    public mutating func next(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> (consumed: Int, event: Event?) {
        fatalError("implemented by the HTTP1 work")
    }

    /// The peer closed its side. Returns `.end` if that completes an `untilClose` body; nil if the
    /// parser was between messages; throws `.truncated` if a message was cut short.
    public mutating func finish() throws(HTTPParseError) -> Event? {
        fatalError("implemented by the HTTP1 work")
    }

    /// True between messages (no partial head or body pending).
    public var isIdle: Bool {
        fatalError("implemented by the HTTP1 work")
    }
}
