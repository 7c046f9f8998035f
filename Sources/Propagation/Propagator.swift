/// Extract-first-valid and inject-all over the configured formats.
///
/// Implementations for each format live beside this file (W3C, B3, Jaeger). Injection writes
/// complete header lines (`name: value\r\n`) straight into the outgoing head buffer so the request
/// path builds no intermediate header objects.
public struct Propagator: Sendable {
    public let formats: [PropagationFormat]

    public init(formats: [PropagationFormat]) { self.formats = formats }

    /// The first valid context in the order of `formats`, or nil.
    public func extract(from headers: some HeaderSource) -> IncomingContext? {
        fatalError("implemented by the Propagation work")
    }

    /// Appends the header lines of every configured format for `context` to `out`.
    public func inject(_ context: OutgoingContext, into out: inout [UInt8]) {
        fatalError("implemented by the Propagation work")
    }

    /// Lowercased names of the incoming header fields the proxy must not forward because it
    /// re-injects them (the configured formats' headers). Other formats' headers pass through.
    public var ownedHeaderNames: Set<String> {
        fatalError("implemented by the Propagation work")
    }
}
