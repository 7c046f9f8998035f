/// Finds the end of one HTTP/1.1 response in the bytes read so far, for the Zipkin reporter's
/// keep-alive connection. Only the status and the framing matter to us: the collector's body is
/// discarded. RFC 9112 section 6.3 gives the framing order: no body for 1xx/204/304, then
/// `Transfer-Encoding: chunked`, then `Content-Length`, else the body runs to connection close.
enum HTTPResponseScanner {
    enum Result: Equatable {
        /// More bytes are needed.
        case incomplete
        /// The response ends at `end`; `keepAlive` says whether the connection may carry another.
        case complete(status: Int, keepAlive: Bool, end: Int)
    }

    struct Malformed: Error, Equatable {
        let reason: String
    }

    /// A response head larger than this is not from a Zipkin collector.
    static let maxHeadBytes = 64 * 1024

    private static let crlf: [UInt8] = [13, 10]

    /// Scans `buffer` from the start. `atEOF`: the peer closed, so what is there is all there is.
    static func scan(_ buffer: [UInt8], atEOF: Bool) throws(Malformed) -> Result {
        var start = 0
        while true {
            guard let headEnd = find([13, 10, 13, 10], in: buffer, from: start) else {
                if buffer.count - start > maxHeadBytes { throw Malformed(reason: "head too large") }
                if atEOF { throw Malformed(reason: "connection closed before the response head") }
                return .incomplete
            }
            let head = try parseHead(buffer[start..<headEnd])
            let bodyStart = headEnd + 4
            // RFC 9112 section 6.3 rule 1: interim 1xx responses precede the real one.
            if (100...199).contains(head.status) {
                start = bodyStart
                continue
            }
            let result: Result
            if head.status == 204 || head.status == 304 {
                result = .complete(status: head.status, keepAlive: head.keepAlive, end: bodyStart)
            } else if head.chunked {
                guard let end = try chunkedBodyEnd(buffer, from: bodyStart) else {
                    if atEOF { throw Malformed(reason: "connection closed inside a chunked body") }
                    return .incomplete
                }
                result = .complete(status: head.status, keepAlive: head.keepAlive, end: end)
            } else if let length = head.contentLength {
                guard buffer.count - bodyStart >= length else {
                    if atEOF { throw Malformed(reason: "connection closed inside the body") }
                    return .incomplete
                }
                result = .complete(
                    status: head.status, keepAlive: head.keepAlive, end: bodyStart + length)
            } else {
                // Close-delimited body: complete only at EOF, and the connection is spent.
                guard atEOF else { return .incomplete }
                return .complete(status: head.status, keepAlive: false, end: buffer.count)
            }
            return result
        }
    }

    private struct Head {
        var status: Int
        var keepAlive: Bool
        var chunked = false
        var contentLength: Int?
    }

    private static func parseHead(_ head: ArraySlice<UInt8>) throws(Malformed) -> Head {
        let lines = split(head)
        guard let statusLine = lines.first, statusLine.count >= 12,
            statusLine.starts(with: Array("HTTP/1.".utf8))
        else { throw Malformed(reason: "bad status line") }
        let minor = statusLine[statusLine.startIndex + 7]
        let digits = statusLine[(statusLine.startIndex + 9)..<(statusLine.startIndex + 12)]
        guard statusLine[statusLine.startIndex + 8] == 32, digits.allSatisfy({ $0 >= 48 && $0 <= 57 })
        else { throw Malformed(reason: "bad status line") }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        var closeToken = false
        var keepAliveToken = false
        var result = Head(status: status, keepAlive: false)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 58) else { throw Malformed(reason: "bad header") }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
                .trimmingSpaces().lowercased()
            switch name {
            case "content-length":
                guard let n = Int(value), n >= 0 else { throw Malformed(reason: "bad Content-Length") }
                if let previous = result.contentLength, previous != n {
                    throw Malformed(reason: "conflicting Content-Length")
                }
                result.contentLength = n
            case "transfer-encoding":
                result.chunked = value.hasSuffix("chunked")
            case "connection":
                closeToken = closeToken || value.contains("close")
                keepAliveToken = keepAliveToken || value.contains("keep-alive")
            default:
                break
            }
        }
        // RFC 9112 section 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with keep-alive.
        result.keepAlive = minor == 49 ? !closeToken : (keepAliveToken && !closeToken)
        return result
    }

    /// Returns the index just past the chunked body's last CRLF, or nil when it has not all arrived.
    private static func chunkedBodyEnd(_ buffer: [UInt8], from start: Int) throws(Malformed) -> Int? {
        var position = start
        while true {
            guard let lineEnd = find(crlf, in: buffer, from: position) else { return nil }
            var size = 0
            var sawDigit = false
            for byte in buffer[position..<lineEnd] {
                guard let digit = hexValue(byte) else {
                    if byte == 59 || byte == 32 || byte == 9 { break }  // ';' starts an extension
                    throw Malformed(reason: "bad chunk size")
                }
                sawDigit = true
                guard size < (1 << 40) else { throw Malformed(reason: "chunk too large") }
                size = size * 16 + digit
            }
            guard sawDigit else { throw Malformed(reason: "bad chunk size") }
            position = lineEnd + 2
            if size == 0 {
                // Trailer fields, then an empty line (RFC 9112 section 7.1).
                while true {
                    guard let end = find(crlf, in: buffer, from: position) else { return nil }
                    if end == position { return end + 2 }
                    position = end + 2
                }
            }
            guard buffer.count >= position + size + 2 else { return nil }
            guard buffer[position + size] == 13, buffer[position + size + 1] == 10 else {
                throw Malformed(reason: "chunk without CRLF")
            }
            position += size + 2
        }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: return Int(byte - 48)
        case 97...102: return Int(byte - 87)
        case 65...70: return Int(byte - 55)
        default: return nil
        }
    }

    private static func split(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var position = head.startIndex
        while position < head.endIndex {
            let end = find(crlf, in: head, from: position) ?? head.endIndex
            lines.append(head[position..<end])
            position = end + 2
        }
        return lines
    }

    private static func find<C: RandomAccessCollection>(
        _ needle: [UInt8], in haystack: C, from start: Int
    )
        -> Int? where C.Element == UInt8, C.Index == Int
    {
        guard haystack.endIndex - start >= needle.count else { return nil }
        var i = start
        while i <= haystack.endIndex - needle.count {
            if haystack[i] == needle[0] {
                var matched = true
                for k in 1..<needle.count where haystack[i + k] != needle[k] {
                    matched = false
                    break
                }
                if matched { return i }
            }
            i += 1
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
