/// Checks a request line byte by byte as it arrives, so that a line no request can start with (a
/// TLS handshake on the plain port, a control byte, a target of no known form) is refused at the
/// byte that gives it away instead of when the header timeout runs out.
///
/// Every request's first line goes through it in arrival order, whole or in pieces, so the
/// answer never depends on how the bytes were split. It only rejects what the full parse
/// (`HeadParser`) rejects too; the full parse still decides the rest.
struct RequestLineScanner {
    private enum Phase { case method, targetStart, target, version, done }
    private static let versionPrefix: [UInt8] = Array("HTTP/".utf8)

    private var phase = Phase.method
    private var count = 0
    private var versionIndex = 0

    /// One more byte of the line (never its LF).
    @inline(__always)
    mutating func step(_ b: UInt8, limits: HTTPParser.Limits) throws(HTTPParseError) {
        count += 1
        // Longer than any allowed target plus room for the method and version: 414 now rather
        // than 431 later.
        if count > limits.maxTargetLength + 32 { throw .targetTooLong }
        switch phase {
        case .method:
            if b == ASCII.sp && count > 1 {
                phase = .targetStart
            } else if !ASCII.isTChar(b) {
                throw .invalidRequestLine
            }
        case .targetStart:
            if b <= ASCII.sp || b == 0x7F { throw .invalidRequestLine }
            // `/`, `*`, or the scheme or host that starts the absolute and authority forms.
            guard
                b == UInt8(ascii: "/") || b == UInt8(ascii: "*") || b == UInt8(ascii: "[")
                    || URIGrammar.regName.contains(b)
            else { throw .invalidTarget }
            phase = .target
        case .target:
            if b == ASCII.sp {
                phase = .version
            } else if b < ASCII.sp || b == 0x7F {
                throw .invalidRequestLine
            } else if !URIGrammar.mayAppearInTarget(b) {
                throw .invalidTarget
            }
        case .version:
            guard b == Self.versionPrefix[versionIndex] else { throw .invalidRequestLine }
            versionIndex += 1
            if versionIndex == Self.versionPrefix.count { phase = .done }
        case .done:
            break
        }
    }
}
