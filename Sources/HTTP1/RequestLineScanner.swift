/// Checks a request line whose end has not arrived yet, resuming where the last call stopped, so
/// that bytes no request line can hold are refused as soon as they are read. It only rejects
/// what the full parse (`HeadParser`) would reject too; the full parse still decides.
struct RequestLineScanner {
    private enum Phase { case method, targetStart, target, version, done }
    private static let versionPrefix: [UInt8] = Array("HTTP/".utf8)

    private var phase = Phase.method
    private var offset = 0
    private var versionIndex = 0

    /// Scans `line[offset...]`, the start of a request line (no LF in it).
    mutating func scan(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) {
        while offset < line.count {
            let b = line[offset]
            switch phase {
            case .method:
                if b == ASCII.sp && offset > 0 {
                    phase = .targetStart
                } else if !ASCII.isTChar(b) {
                    throw .invalidRequestLine
                }
            case .targetStart:
                // `/`, `*`, or the scheme or host of the absolute and authority forms.
                guard
                    b == UInt8(ascii: "/") || b == UInt8(ascii: "*") || URIGrammar.regName.contains(b)
                        || b == UInt8(ascii: "[")
                else { throw .invalidTarget }
                phase = .target
            case .target:
                if b == ASCII.sp {
                    phase = .version
                } else if !URIGrammar.mayAppearInTarget(b) {
                    throw .invalidTarget
                }
            case .version:
                if versionIndex == Self.versionPrefix.count {
                    phase = .done
                } else {
                    guard b == Self.versionPrefix[versionIndex] else { throw .invalidRequestLine }
                    versionIndex += 1
                }
            case .done:
                return
            }
            offset += 1
        }
    }
}
