import HTTP1
import Reactor

extension ByteBuffer {
    /// Runs `parser` over the buffered bytes until it reports an event or needs more: the event,
    /// or nil. Body bytes go to `body` before they are consumed (they point into this buffer).
    mutating func nextEvent(
        of parser: inout HTTPParser, body: (UnsafeRawBufferPointer) -> Void
    ) throws(HTTPParseError) -> HTTPParser.Event? {
        while true {
            var event: HTTPParser.Event?
            let consumed = try withReadableBytes { (b) throws(HTTPParseError) -> Int in
                let (n, e) = try parser.next(b)
                if case .body(let r) = e { body(UnsafeRawBufferPointer(rebasing: b[r])) }
                event = e
                return n
            }
            consume(consumed)
            if event != nil || consumed == 0 || isEmpty { return event }
        }
    }
}
