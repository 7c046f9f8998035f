import Propagation

extension HTTPHead: HeaderSource {
    public func forEachValue(lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        fatalError("implemented by the HTTP1 work")
    }
}

extension HTTPHead {
    /// Appends every end-to-end field line (`name: value\r\n`, as received) to `out`, leaving out the
    /// hop-by-hop fields (Connection and the fields it names, Keep-Alive, Proxy-Connection, TE,
    /// Trailer, Transfer-Encoding, Content-Length (the proxy re-frames), Upgrade unless
    /// `keepUpgrade`), and any field whose lowercased name is in `excluding`.
    public func appendForwardableFields(to out: inout [UInt8], excluding: Set<String>, keepUpgrade: Bool) {
        fatalError("implemented by the HTTP1 work")
    }

    /// The first value of a field, as a String (for the few fields the proxy reads: Host, User-Agent).
    public func firstValue(lowercasedName: String) -> String? {
        fatalError("implemented by the HTTP1 work")
    }

    /// The request target as received; the path without the query.
    public var target: String { fatalError("implemented by the HTTP1 work") }
    public var methodString: String { fatalError("implemented by the HTTP1 work") }
}
