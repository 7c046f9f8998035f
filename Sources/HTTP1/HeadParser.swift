/// Parses one complete head (start line through the empty line) that the parser has collected.
///
/// Works on the head's bytes in one pass: start line, then each field line, recording offsets
/// and the few fields that decide framing and connection handling (RFC 9112 sections 3-6).
struct HeadParser {
    let p: UnsafeBufferPointer<UInt8>
    let kind: HTTPParser.Kind
    let limits: HTTPParser.Limits
    /// Response parsers: the request this answers was HEAD.
    let toHEAD: Bool
    /// Response parsers: the request this answers was CONNECT.
    var toCONNECT = false

    // Facts collected from the fields.
    private var contentLength: Int?
    private var hostCount = 0
    private var hostValue: Range<Int>?
    private var underscoreFields = 0
    private var transferEncodingSeen = false
    private var codingCount = 0
    private var lastCodingIsChunked = false
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var connectionUpgrade = false
    private var upgradeField = false
    private var expectContinue = false

    init(
        _ p: UnsafeBufferPointer<UInt8>, kind: HTTPParser.Kind, limits: HTTPParser.Limits,
        toHEAD: Bool
    ) {
        self.p = p
        self.kind = kind
        self.limits = limits
        self.toHEAD = toHEAD
    }

    /// The end of the line starting at `start`: (content end without CR, index after the LF).
    /// The collector guarantees every line, the last included, ends in LF.
    private func line(from start: Int) -> (end: Int, next: Int) {
        var i = start
        while p[i] != ASCII.lf { i += 1 }
        let end = i > start && p[i - 1] == ASCII.cr ? i - 1 : i
        return (end, i + 1)
    }

    /// Parses the head; the fields are appended to `fields` (empty, with room kept from the last
    /// head) and handed out with it. `requestLine`: the request line as `requestLine(_:limits:)`
    /// already parsed it when its LF arrived (it is not parsed twice).
    mutating func parse(fields: inout [HeaderField], requestLine: RequestLine? = nil) throws(HTTPParseError) -> HTTPHead
    {
        var head = HTTPHead()
        let first = line(from: 0)
        switch kind {
        case .request:
            if let requestLine {
                requestLine.apply(to: &head)
            } else {
                try parseRequestLine(0..<first.end).apply(to: &head)
            }
        case .response: try parseStatusLine(0..<first.end, into: &head)
        }
        if fields.capacity < 16 { fields.reserveCapacity(16) }
        var pos = first.next
        while true {
            let l = line(from: pos)
            if l.end == pos { break }  // the empty line ending the head
            if fields.count == limits.maxHeaders { throw .tooManyHeaders }
            let field = try parseField(pos..<l.end)
            fields.append(field)
            try note(field)
            pos = l.next
        }
        head.fields = fields
        try decideFraming(&head)
        return head
    }

    // MARK: Start lines (RFC 9112 sections 3 and 4)

    /// The request line in `r` (without CR LF). The scanner's byte checks come first, in byte
    /// order, so the answer is the one the scanner gives when the line arrives in pieces.
    private func parseRequestLine(_ r: Range<Int>) throws(HTTPParseError) -> RequestLine {
        var scanner = RequestLineScanner()
        let withCR = r.upperBound < p.count && p[r.upperBound] == ASCII.cr ? r.upperBound + 1 : r.upperBound
        try scanner.scan(
            UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: p[r.lowerBound..<withCR])),
            maxLineLength: limits.maxTargetLength + 32)
        var i = r.lowerBound
        while i < r.upperBound && ASCII.isTChar(p[i]) { i += 1 }
        guard i > r.lowerBound, i < r.upperBound, p[i] == ASCII.sp else {
            throw .invalidRequestLine
        }
        let methodRange = r.lowerBound..<i
        let method = Self.method(p, methodRange)
        let targetStart = i + 1
        var j = targetStart
        while j < r.upperBound && p[j] != ASCII.sp {
            // No controls, SP or DEL in a request-target (RFC 9112 section 3.2, RFC 3986).
            if p[j] < 0x21 || p[j] == 0x7F { throw .invalidRequestLine }
            j += 1
        }
        if j - targetStart > limits.maxTargetLength { throw .targetTooLong }
        guard j > targetStart, j < r.upperBound else { throw .invalidRequestLine }
        let targetRange = targetStart..<j
        let versionMinor = try version(j + 1..<r.upperBound, invalid: .invalidRequestLine)
        let target = try URIGrammar.parseTarget(p, targetRange, method: method)
        return RequestLine(
            method: method, methodRange: methodRange, targetRange: targetRange, versionMinor: versionMinor,
            target: target)
    }

    /// Parses a request line on its own (`p` is the line, without its LF), as soon as it has
    /// arrived, so a line that can never be served is refused before the rest of the head. The
    /// head it returns (method, target, version) is handed to `parse` when the head is complete.
    static func requestLine(
        _ p: UnsafeBufferPointer<UInt8>, limits: HTTPParser.Limits
    ) throws(HTTPParseError) -> RequestLine {
        var end = p.count
        if end > 0 && p[end - 1] == ASCII.cr { end -= 1 }
        return try HeadParser(p, kind: .request, limits: limits, toHEAD: false).parseRequestLine(0..<end)
    }

    private func parseStatusLine(_ r: Range<Int>, into head: inout HTTPHead) throws(HTTPParseError) {
        let v = r.lowerBound
        guard r.count >= 12, p[v + 8] == ASCII.sp else { throw .invalidStatusLine }
        head.versionMinor = try version(v..<v + 8, invalid: .invalidStatusLine)
        var status = 0
        for i in v + 9..<v + 12 {
            let d = p[i] &- UInt8(ascii: "0")
            guard d < 10 else { throw .invalidStatusLine }
            status = status * 10 + Int(d)
        }
        guard status >= 100 else { throw .invalidStatusLine }
        head.status = status
        // The SP before an empty reason phrase is required, but some servers leave it out;
        // accepting both costs nothing.
        if r.count == 12 {
            head.reasonRange = r.upperBound..<r.upperBound
            return
        }
        guard p[v + 12] == ASCII.sp else { throw .invalidStatusLine }
        for i in v + 13..<r.upperBound where !ASCII.isFieldValueByte(p[i]) {
            throw .invalidStatusLine
        }
        head.reasonRange = v + 13..<r.upperBound
    }

    /// `HTTP/1.0` or `HTTP/1.1` gives the minor version; any other well-formed `HTTP/d.d` is a
    /// version we do not speak (505); anything else is a malformed start line.
    private func version(_ r: Range<Int>, invalid: HTTPParseError) throws(HTTPParseError) -> Int {
        let v = r.lowerBound
        guard r.count == 8, p[v] == UInt8(ascii: "H"), p[v + 1] == UInt8(ascii: "T"),
            p[v + 2] == UInt8(ascii: "T"), p[v + 3] == UInt8(ascii: "P"),
            p[v + 4] == UInt8(ascii: "/"), p[v + 6] == UInt8(ascii: ".")
        else { throw invalid }
        let major = p[r.lowerBound + 5] &- UInt8(ascii: "0")
        let minor = p[r.lowerBound + 7] &- UInt8(ascii: "0")
        guard major < 10, minor < 10 else { throw invalid }
        guard major == 1, minor <= 1 else { throw .unsupportedVersion }
        return Int(minor)
    }

    /// Method names are case-sensitive (RFC 9110 section 9.1).
    static func method(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> HTTPMethod {
        func eq(_ s: StaticString) -> Bool {
            s.withUTF8Buffer { m in
                m.count == r.count && zip(m, p[r]).allSatisfy { $0 == $1 }
            }
        }
        switch r.count {
        case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
        case 4: return eq("POST") ? .post : eq("HEAD") ? .head : .other
        case 5: return eq("PATCH") ? .patch : eq("TRACE") ? .trace : .other
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : eq("CONNECT") ? .connect : .other
        default: return .other
        }
    }

    // MARK: Field lines (RFC 9112 section 5)

    private mutating func parseField(_ r: Range<Int>) throws(HTTPParseError) -> HeaderField {
        // A line starting with whitespace continues the previous one (obs-fold), which a server
        // must reject or replace (RFC 9112 section 5.2); a proxy that unfolds differently from
        // the upstream invites smuggling, so reject.
        if ASCII.isOWS(p[r.lowerBound]) { throw .obsoleteLineFolding }
        var i = r.lowerBound
        var underscore = false
        while i < r.upperBound && ASCII.isTChar(p[i]) {
            if p[i] == ASCII.underscore { underscore = true }
            i += 1
        }
        // No whitespace between name and colon (RFC 9112 section 5.1).
        guard i > r.lowerBound, i < r.upperBound, p[i] == ASCII.colon else {
            throw .invalidHeaderField
        }
        if underscore { underscoreFields += 1 }
        var vs = i + 1
        var ve = r.upperBound
        while vs < ve && ASCII.isOWS(p[vs]) { vs += 1 }
        while ve > vs && ASCII.isOWS(p[ve - 1]) { ve -= 1 }
        for j in vs..<ve where !ASCII.isFieldValueByte(p[j]) { throw .invalidHeaderField }
        return HeaderField(
            nameStart: Int32(r.lowerBound), nameEnd: Int32(i), valueStart: Int32(vs),
            valueEnd: Int32(ve))
    }

    /// Records what the fields that matter to framing and connection management say.
    private mutating func note(_ f: HeaderField) throws(HTTPParseError) {
        let name = Int(f.nameStart)..<Int(f.nameEnd)
        let value = Int(f.valueStart)..<Int(f.valueEnd)
        switch name.count {
        case 14 where ASCII.equalsIgnoringCase(p, name, "content-length"):
            try noteContentLength(value)
        case 17 where ASCII.equalsIgnoringCase(p, name, "transfer-encoding"):
            transferEncodingSeen = true
            try ASCII.forEachListElement(p, value) { (e: Range<Int>) throws(HTTPParseError) in
                codingCount += 1
                lastCodingIsChunked = ASCII.equalsIgnoringCase(p, e, "chunked")
            }
        case 10 where ASCII.equalsIgnoringCase(p, name, "connection"):
            try ASCII.forEachListElement(p, value) { (e: Range<Int>) throws(HTTPParseError) in
                if ASCII.equalsIgnoringCase(p, e, "close") { connectionClose = true }
                if ASCII.equalsIgnoringCase(p, e, "keep-alive") { connectionKeepAlive = true }
                if ASCII.equalsIgnoringCase(p, e, "upgrade") { connectionUpgrade = true }
            }
        case 7 where ASCII.equalsIgnoringCase(p, name, "upgrade"):
            upgradeField = true
        case 6 where ASCII.equalsIgnoringCase(p, name, "expect"):
            if ASCII.equalsIgnoringCase(p, value, "100-continue") { expectContinue = true }
        case 4 where ASCII.equalsIgnoringCase(p, name, "host"):
            hostCount += 1
            if hostValue == nil { hostValue = value }
        default:
            break
        }
    }

    /// Content-Length is 1*DIGIT; a list of identical values (from a field repeated by some
    /// intermediary) may be taken as one, differing values are a framing error (RFC 9110
    /// section 8.6, RFC 9112 section 6.3 rule 5).
    private mutating func noteContentLength(_ value: Range<Int>) throws(HTTPParseError) {
        var sawElement = false
        try ASCII.forEachListElement(p, value) { (e: Range<Int>) throws(HTTPParseError) in
            sawElement = true
            var n = 0
            for i in e {
                let d = p[i] &- UInt8(ascii: "0")
                guard d < 10 else { throw .invalidContentLength }
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(d))
                guard !o1, !o2 else { throw .invalidContentLength }
                n = s
            }
            if let existing = contentLength, existing != n { throw .ambiguousFraming }
            contentLength = n
        }
        guard sawElement else { throw .invalidContentLength }
    }

    // MARK: Framing and connection (RFC 9112 sections 6.1-6.3 and 9.3)

    private func decideFraming(_ head: inout HTTPHead) throws(HTTPParseError) {
        head.contentLength = contentLength
        head.hostFieldCount = hostCount
        head.hostValueRange = hostValue
        head.underscoreFieldCount = underscoreFields
        head.expectsContinue = kind == .request && expectContinue
        if head.versionMinor == 0 {
            head.keepAlive = connectionKeepAlive && !connectionClose
        } else {
            head.keepAlive = !connectionClose
        }
        if transferEncodingSeen {
            // Both framings: the classic request-smuggling shape; RFC 9112 section 6.1 lets a
            // recipient process it, but an intermediary is safer refusing it. An HTTP/1.0
            // message with Transfer-Encoding must be treated as faultily framed (same section).
            if contentLength != nil || head.versionMinor == 0 { throw .ambiguousFraming }
        }
        switch kind {
        case .request:
            head.isUpgrade = connectionUpgrade && upgradeField
            if transferEncodingSeen {
                head.framing = try chunkedOnly()
            } else if let n = contentLength {
                head.framing = .length(n)
            } else {
                head.framing = .none
            }
            // The bytes after a CONNECT head belong to the tunnel (RFC 9110 section 9.3.6): a
            // declared body would make them ambiguous.
            if head.method == .connect && head.framing != .none && head.framing != .length(0) {
                throw .ambiguousFraming
            }
        case .response:
            let status = head.status
            // A 2xx to CONNECT has no body and no framing: the tunnel starts after its head.
            let tunnel = toCONNECT && status >= 200 && status < 300
            head.isUpgrade = status == 101 || tunnel
            if (toHEAD && status >= 200) || tunnel || status < 200 || status == 204 || status == 304 {
                head.framing = .none
            } else if transferEncodingSeen {
                head.framing = try chunkedOnly()
            } else if let n = contentLength {
                head.framing = .length(n)
            } else {
                head.framing = .untilClose
                head.keepAlive = false
            }
        }
    }

    /// The proxy removes the chunked coding and re-frames the body; any other transfer coding
    /// would reach the next hop without its Transfer-Encoding label, so only a lone `chunked`
    /// is accepted (RFC 9112 section 6.1: 501 for codings a server does not understand).
    private func chunkedOnly() throws(HTTPParseError) -> BodyFraming {
        guard codingCount == 1, lastCodingIsChunked else { throw .unsupportedTransferEncoding }
        return .chunked
    }
}

/// What a request line says, parsed when its LF arrives and applied to the head once the head is
/// complete (small, so keeping it costs nothing like keeping a whole `HTTPHead`).
struct RequestLine {
    var method: HTTPMethod
    var methodRange: Range<Int>
    var targetRange: Range<Int>
    var versionMinor: Int
    var target: ParsedTarget

    func apply(to head: inout HTTPHead) {
        head.method = method
        head.methodRange = methodRange
        head.targetRange = targetRange
        head.versionMinor = versionMinor
        head.targetForm = target.form
        head.forwardTargetRange = target.forward
        head.authorityRange = target.authority
    }
}
