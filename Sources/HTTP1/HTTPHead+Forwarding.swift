extension HTTPHead {
    /// Calls `body` with the value bytes (OWS trimmed) of every field whose name equals
    /// `lowercasedName` ASCII-case-insensitively, in order of appearance.
    ///
    /// This is `Propagation.HeaderSource`'s requirement. The conformance itself
    /// (`extension HTTPHead: HeaderSource {}`) is declared where both modules are visible,
    /// because the HTTP1 target does not depend on Propagation.
    public func forEachValue(lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBufferPointer { p in
            for f in fields
            where ASCII.equalsIgnoringCase(p, Int(f.nameStart)..<Int(f.nameEnd), lowercasedName) {
                let value = UnsafeBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)])
                body(UnsafeRawBufferPointer(value))
            }
        }
    }

    /// Appends every end-to-end field line (`name: value\r\n`, as received) to `out`, leaving out the
    /// hop-by-hop fields (Connection and the fields it names, Keep-Alive, Proxy-Connection, TE,
    /// Trailer, Transfer-Encoding, Content-Length (the proxy re-frames), Upgrade unless
    /// `keepUpgrade`), any field whose lowercased name is in `excluding`, Host when `dropHost`,
    /// and the field names with `_` that `underscores` leaves out. Returns how many of those
    /// underscore fields it left out.
    ///
    /// RFC 9110 section 7.6.1: a proxy must remove Connection and every field it names before
    /// forwarding; Proxy-Connection and Keep-Alive are the common unlisted ones.
    @discardableResult
    public func appendForwardableFields(
        to out: inout [UInt8], excluding: Set<String>, keepUpgrade: Bool,
        underscores: HeadWriter.UnderscorePolicy = .keepAll, dropHost: Bool = false
    ) -> Int {
        bytes.withUnsafeBufferPointer { p in
            // Whether Connection names any options at all; usually it names none or one, so each
            // field is checked against them in place rather than collecting them (no allocation).
            let hasConnection = fields.contains {
                ASCII.equalsIgnoringCase(p, Int($0.nameStart)..<Int($0.nameEnd), "connection")
            }
            let checkUnderscores = underscoreFieldCount > 0 && underscores != .keepAll
            var leftOut = 0
            for f in fields {
                let name = Int(f.nameStart)..<Int(f.nameEnd)
                if checkUnderscores && p[name].contains(ASCII.underscore) {
                    if underscores == .drop || Self.isReserved(p, name, excluding: excluding) {
                        leftOut += 1
                        continue
                    }
                }
                if Self.isHopByHop(p, name, keepUpgrade: keepUpgrade) { continue }
                if dropHost && ASCII.equalsIgnoringCase(p, name, "host") { continue }
                // With keepUpgrade the proxy relays an upgrade and writes its own
                // `Connection: upgrade`, so the Upgrade field it names stays.
                let keptUpgrade = keepUpgrade && ASCII.equalsIgnoringCase(p, name, "upgrade")
                if hasConnection && !keptUpgrade && isNamedByConnection(p, name) { continue }
                if excluding.contains(where: { ASCII.equalsIgnoringCase(p, name, $0) }) { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[name]))
                out.append(ASCII.colon)
                out.append(ASCII.sp)
                out.append(
                    contentsOf: UnsafeBufferPointer(
                        rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                out.append(ASCII.cr)
                out.append(ASCII.lf)
            }
            return leftOut
        }
    }

    /// A name with `_` that a back end folding `_` into `-` would take for a framing or hop-by-hop
    /// field, or for one the proxy writes itself (`excluding`): never forwarded.
    private static func isReserved(_ p: UnsafeBufferPointer<UInt8>, _ name: Range<Int>, excluding: Set<String>) -> Bool
    {
        for reserved in ["content-length", "transfer-encoding", "keep-alive", "proxy-connection"]
        where ASCII.equalsFoldingUnderscore(p, name, reserved) {
            return true
        }
        return excluding.contains { ASCII.equalsFoldingUnderscore(p, name, $0) }
    }

    /// Whether the field name at `name` is one of the options a Connection field lists.
    private func isNamedByConnection(_ p: UnsafeBufferPointer<UInt8>, _ name: Range<Int>) -> Bool {
        var named = false
        for f in fields where ASCII.equalsIgnoringCase(p, Int(f.nameStart)..<Int(f.nameEnd), "connection") {
            ASCII.forEachListElement(p, Int(f.valueStart)..<Int(f.valueEnd)) {
                if !named && Self.equalIgnoringCase(p, name, $0) { named = true }
            }
            if named { return true }
        }
        return false
    }

    /// The first value of a field, as a String (for the few fields the proxy reads: Host, User-Agent).
    public func firstValue(lowercasedName: String) -> String? {
        firstValueRange(lowercasedName: lowercasedName).map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// Where the first value of a field lies in `bytes`: a span keeps the offsets and the shared
    /// buffer rather than a copy of the value.
    public func firstValueRange(lowercasedName: String) -> Range<Int>? {
        bytes.withUnsafeBufferPointer { p -> Range<Int>? in
            for f in fields
            where ASCII.equalsIgnoringCase(p, Int(f.nameStart)..<Int(f.nameEnd), lowercasedName) {
                return Int(f.valueStart)..<Int(f.valueEnd)
            }
            return nil
        }
    }

    /// The request target exactly as received (percent-encoding untouched, a fragment included).
    public var target: String { String(decoding: bytes[targetRange], as: UTF8.self) }

    /// The target's path: everything before the first `?` (for span names and tags).
    public var path: String {
        let t = bytes[targetRange]
        let end = t.firstIndex(of: UInt8(ascii: "?")) ?? t.endIndex
        return String(decoding: t[..<end], as: UTF8.self)
    }

    /// Which host the request is for: an absolute-form target's authority, which wins over Host
    /// (RFC 9112 section 3.2.2), otherwise the first Host value.
    public var effectiveHostRange: Range<Int>? {
        targetForm == .absolute ? authorityRange : hostValueRange
    }

    public var methodString: String { String(decoding: bytes[methodRange], as: UTF8.self) }

    /// The reason phrase of a response, as received.
    public var reason: String { String(decoding: bytes[reasonRange], as: UTF8.self) }

    private static func isHopByHop(
        _ p: UnsafeBufferPointer<UInt8>, _ name: Range<Int>, keepUpgrade: Bool
    ) -> Bool {
        switch name.count {
        case 2: return ASCII.equalsIgnoringCase(p, name, "te")
        case 7:
            return ASCII.equalsIgnoringCase(p, name, "trailer")
                || (!keepUpgrade && ASCII.equalsIgnoringCase(p, name, "upgrade"))
        case 10:
            return ASCII.equalsIgnoringCase(p, name, "connection")
                || ASCII.equalsIgnoringCase(p, name, "keep-alive")
        case 14: return ASCII.equalsIgnoringCase(p, name, "content-length")
        case 16: return ASCII.equalsIgnoringCase(p, name, "proxy-connection")
        case 17: return ASCII.equalsIgnoringCase(p, name, "transfer-encoding")
        default: return false
        }
    }

    /// Two ranges of the same head equal ignoring ASCII case.
    private static func equalIgnoringCase(
        _ p: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: Range<Int>
    ) -> Bool {
        guard a.count == b.count else { return false }
        return zip(p[a], p[b]).allSatisfy { ASCII.lower($0) == ASCII.lower($1) }
    }
}
