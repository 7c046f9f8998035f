/// Checks a request line byte by byte as it arrives, so that a line no request can start with (a
/// TLS handshake on the plain port, a control byte, a target of no known form) is refused at the
/// byte that gives it away instead of when the header timeout runs out.
///
/// Every request's first line goes through it in arrival order, whole or in pieces, so the
/// answer never depends on how the bytes were split. It only rejects what the full parse
/// (`HeadParser`) rejects too; the full parse still decides the rest.
struct RequestLineScanner {
    private enum Phase { case method, targetStart, target, version, done }

    private var phase = Phase.method
    private var count = 0
    private var versionIndex = 0

    /// Scans `bytes`, the next bytes of the line (no LF among them). One loop per phase with the
    /// state in locals: this runs over every request line, so it is kept to a few instructions a
    /// byte.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, maxLineLength: Int) throws(HTTPParseError) {
        let n = bytes.count
        // Past this index the line is too long: 414 now rather than 431 later.
        let limit = maxLineLength - count
        if phase == .done || n == 0 {
            count += n
            if n > limit { throw .targetTooLong }
            return
        }
        var i = 0
        func tooLong(_ i: Int) -> Bool { i >= limit }
        if phase == .method {
            while i < n {
                if tooLong(i) { throw .targetTooLong }
                let b = bytes[i]
                i += 1
                if b == ASCII.sp && count + i > 1 {
                    phase = .targetStart
                    break
                }
                if !ASCII.isTChar(b) { throw .invalidRequestLine }
            }
        }
        if phase == .targetStart && i < n {
            if tooLong(i) { throw .targetTooLong }
            let b = bytes[i]
            i += 1
            if b <= ASCII.sp || b == 0x7F { throw .invalidRequestLine }
            // `/`, `*`, or the scheme or host that starts the absolute and authority forms.
            guard
                b == UInt8(ascii: "/") || b == UInt8(ascii: "*") || b == UInt8(ascii: "[")
                    || URIGrammar.regName.contains(b)
            else { throw .invalidTarget }
            phase = .target
        }
        if phase == .target {
            let set = URIGrammar.targetByte
            while i < n {
                if tooLong(i) { throw .targetTooLong }
                let b = bytes[i]
                i += 1
                if set.contains(b) { continue }
                if b == ASCII.sp {
                    phase = .version
                    break
                }
                if b < ASCII.sp || b == 0x7F { throw .invalidRequestLine }
                if b != UInt8(ascii: "%") && b != UInt8(ascii: "#") { throw .invalidTarget }
            }
        }
        if phase == .version {
            // "HTTP/", byte by byte; the digits are the full parse's.
            while i < n && versionIndex < 5 {
                if tooLong(i) { throw .targetTooLong }
                let expected: UInt8
                switch versionIndex {
                case 0: expected = UInt8(ascii: "H")
                case 1, 2: expected = UInt8(ascii: "T")
                case 3: expected = UInt8(ascii: "P")
                default: expected = UInt8(ascii: "/")
                }
                guard bytes[i] == expected else { throw .invalidRequestLine }
                i += 1
                versionIndex += 1
            }
            if versionIndex == 5 { phase = .done }
        }
        if n > limit { throw .targetTooLong }
        count += n
    }
}
