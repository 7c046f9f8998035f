/// Percent-decoding (RFC 3986 section 2.1), for values that arrive encoded: a query parameter
/// of the admin API, an `OTEL_RESOURCE_ATTRIBUTES` value. One owner for the `%XX` grammar.
public enum PercentDecoding {
    /// The decoded text (invalid UTF-8 repaired to U+FFFD), or nil when a `%` is not followed by
    /// two hex digits. `plusAsSpace`: `+` is a space, as in `application/x-www-form-urlencoded`.
    public static func decode(_ s: some StringProtocol, plusAsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        let input = Array(s.utf8)
        var i = 0
        while i < input.count {
            let b = input[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < input.count, let h = ASCII.hexValue(input[i + 1]), let l = ASCII.hexValue(input[i + 2])
                else { return nil }
                bytes.append(UInt8(h << 4 | l))
                i += 3
            } else {
                bytes.append(plusAsSpace && b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b)
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
