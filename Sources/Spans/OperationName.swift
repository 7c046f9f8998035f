/// The span's operation name: `METHOD /path`, without query or fragment.
///
/// Query strings carry unbounded, often sensitive values and would make every request its own
/// operation. With `collapseIDs`, path segments that look like identifiers become `{id}` so that
/// `/users/42` and `/users/43` group as `GET /users/{id}`: all-digit segments, UUIDs
/// (8-4-4-4-12 hex) and hex strings of 16 or more characters (object ids, hashes, trace ids).
public enum OperationName {
    public static func make(method: String, target: String, collapseIDs: Bool) -> String {
        make(method: method.utf8, target: target.utf8, collapseIDs: collapseIDs)
    }

    /// The byte form, for names read straight from the request head.
    public static func make(
        method: some Collection<UInt8>, target: some Collection<UInt8>, collapseIDs: Bool
    ) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(method.count + 1 + target.count)
        append(method: method, target: ArraySlice(target), collapseIDs: collapseIDs, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the name to `out`: the reporter thread renders names from a head's bytes into one
    /// reused buffer, so naming a span costs no String.
    public static func append(
        method: some Collection<UInt8>, target t: ArraySlice<UInt8>, collapseIDs: Bool, to out: inout [UInt8]
    ) {
        out.append(contentsOf: method)
        out.append(UInt8(ascii: " "))
        let path = pathRange(t)
        if path.isEmpty {
            out.append(UInt8(ascii: "/"))
        } else if collapseIDs {
            appendCollapsed(t[path], to: &out)
        } else {
            out.append(contentsOf: t[path])
        }
    }

    /// The path part of a request target (RFC 9112 §3.2): origin-form `/p?q`, absolute-form
    /// `http://host/p?q` (the path after the authority), and authority-form (`CONNECT host:443`)
    /// or asterisk-form (`*`) kept whole. Query and fragment are cut.
    static func pathRange(_ t: ArraySlice<UInt8>) -> Range<Int> {
        var start = t.startIndex
        if t.first != UInt8(ascii: "/"), let sep = schemeSeparator(t) {
            start = sep + 3
            while start < t.endIndex && !isPathDelimiter(t[start]) { start += 1 }
        }
        var end = start
        while end < t.endIndex && t[end] != UInt8(ascii: "?") && t[end] != UInt8(ascii: "#") {
            end += 1
        }
        return start..<end
    }

    /// Index of `://` when the target starts with a scheme.
    private static func schemeSeparator(_ t: ArraySlice<UInt8>) -> Int? {
        var i = t.startIndex
        while i + 2 < t.endIndex {
            let c = t[i]
            if c == UInt8(ascii: ":") {
                return i > t.startIndex && t[i + 1] == UInt8(ascii: "/") && t[i + 2] == UInt8(ascii: "/")
                    ? i : nil
            }
            let isSchemeChar =
                (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            guard isSchemeChar else { return nil }
            i += 1
        }
        return nil
    }

    private static func isPathDelimiter(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#")
    }

    private static func appendCollapsed(_ path: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var segStart = path.startIndex
        var i = path.startIndex
        while i <= path.endIndex {
            if i == path.endIndex || path[i] == UInt8(ascii: "/") {
                let seg = path[segStart..<i]
                if isIdentifier(seg) {
                    out.append(contentsOf: "{id}".utf8)
                } else {
                    out.append(contentsOf: seg)
                }
                if i < path.endIndex { out.append(UInt8(ascii: "/")) }
                segStart = i + 1
            }
            i += 1
        }
    }

    /// All digits, a UUID, or at least 16 hex digits.
    static func isIdentifier(_ seg: ArraySlice<UInt8>) -> Bool {
        guard !seg.isEmpty else { return false }
        if seg.allSatisfy(isDigit) { return true }
        if seg.count >= 16 && seg.allSatisfy(isHex) { return true }
        return isUUID(seg)
    }

    /// `8-4-4-4-12` hex digits, either case.
    static func isUUID(_ seg: ArraySlice<UInt8>) -> Bool {
        guard seg.count == 36 else { return false }
        for (offset, c) in seg.enumerated() {
            switch offset {
            case 8, 13, 18, 23: if c != UInt8(ascii: "-") { return false }
            default: if !isHex(c) { return false }
            }
        }
        return true
    }

    private static func isDigit(_ c: UInt8) -> Bool {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
    }

    private static func isHex(_ c: UInt8) -> Bool {
        isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f"))
    }
}
