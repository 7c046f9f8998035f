import Propagation

/// A `HeaderSource` over name/value pairs, as a request head would present them.
struct TestHeaders: HeaderSource {
    var fields: [(String, String)]

    init(_ fields: [(String, String)]) { self.fields = fields }

    func forEachValue(lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        for (name, value) in fields where name.lowercased() == lowercasedName {
            var bytes = Array(value.utf8)
            while let c = bytes.first, c == 0x20 || c == 0x09 { bytes.removeFirst() }
            while let c = bytes.last, c == 0x20 || c == 0x09 { bytes.removeLast() }
            bytes.withUnsafeBytes(body)
        }
    }
}

/// Runs `body` on the bytes of `s`.
func withBytes<R>(_ s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    Array(s.utf8).withUnsafeBytes(body)
}

/// Splits injected `name: value\r\n` lines, nil on anything else.
func headerLines(_ bytes: [UInt8]) -> [(name: String, value: String)]? {
    let text = String(decoding: bytes, as: UTF8.self)
    guard text.isEmpty || text.hasSuffix("\r\n") else { return nil }
    var out: [(name: String, value: String)] = []
    for line in text.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
        guard let colon = line.firstIndex(of: ":"), line[line.index(after: colon)...].first == " "
        else { return nil }
        out.append((String(line[..<colon]), String(line[line.index(colon, offsetBy: 2)...])))
    }
    return out
}

/// The single value of header `name` (case-insensitive) in `lines`; nil when absent or repeated.
func single(_ lines: [(name: String, value: String)], _ name: String) -> String? {
    let all = lines.filter { $0.name.lowercased() == name.lowercased() }
    return all.count == 1 ? all[0].value : nil
}
