/// The proxy's own complete answers (400/408/414/431/502/503/504, admin and demo responses) as one
/// array, for callers that want the bytes rather than to append them (`HeadWriter` writes them).
public enum SimpleResponse {
    /// `close` adds `Connection: close` (RFC 9112 section 9.6), which the proxy sends whenever it
    /// will close after this response, e.g. after a parse error when the framing is unknown.
    /// A `Content-Type` in `extraHeaders` replaces the default `text/plain`.
    public static func make(
        status: Int, body: String, close: Bool, extraHeaders: [(String, String)] = []
    ) -> [UInt8] {
        let contentType = extraHeaders.first { $0.0.lowercased() == "content-type" }?.1
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.utf8.count)
        HeadWriter.appendSimpleResponse(
            status: status, body: body, connection: close ? .close : .none, contentType: contentType, to: &out
        ) { out in
            for (name, value) in extraHeaders where name.lowercased() != "content-type" {
                HeadWriter.appendField(name, value, to: &out)
            }
        }
        return out
    }
}
