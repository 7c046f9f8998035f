/// A complete, self-framed plain-text response for the answers the proxy makes itself
/// (400/408/413/414/431/502/503/504), written without any upstream involved.
public enum SimpleResponse {
    /// `close` adds `Connection: close` (RFC 9112 section 9.6), which the proxy sends whenever it
    /// will close after this response, e.g. after a parse error when the framing is unknown.
    /// A `Content-Type` in `extraHeaders` replaces the default `text/plain`.
    public static func make(
        status: Int, body: String, close: Bool, extraHeaders: [(String, String)] = []
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(StatusText.reason(status))\r\n"
        if !extraHeaders.contains(where: { $0.0.lowercased() == "content-type" }) {
            head += "Content-Type: text/plain\r\n"
        }
        head += "Content-Length: \(body.utf8.count)\r\n"
        if close { head += "Connection: close\r\n" }
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var out: [UInt8] = []
        out.reserveCapacity(head.utf8.count + body.utf8.count)
        out.append(contentsOf: head.utf8)
        out.append(contentsOf: body.utf8)
        return out
    }
}
