import CSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Reads OpenSSL's per-thread error queue. Every call that can fail is preceded by `clear()`, so
/// what `drain()` returns belongs to that call and not to an earlier connection on the same thread.
enum OpenSSLErrorQueue {
    struct Entry {
        let library: Int32
        let reason: Int32
        /// The reason text; for system-library entries the errno's text.
        let text: String
        /// Extra text OpenSSL attached ("Expecting: CERTIFICATE"), when any.
        let detail: String?

        /// OpenSSL's "the library below failed" entries ("system lib", "PEM lib"): their text says
        /// nothing the entry they wrap did not.
        var isWrapper: Bool { reason & TRACEPROXY_ERR_RFLAG_COMMON != 0 }
    }

    static func clear() { ERR_clear_error() }

    /// Takes every entry, oldest first.
    static func drain() -> [Entry] {
        var entries: [Entry] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            let library = traceproxy_ERR_GET_LIB(code)
            let reason = traceproxy_ERR_GET_REASON(code)
            let text: String
            if library == ERR_LIB_SYS {
                text = String(cString: strerror(reason))
            } else if let s = ERR_reason_error_string(code) {
                text = String(cString: s)
            } else {
                text = "error \(reason) in library \(library)"
            }
            var detail: String?
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 {
                let d = String(cString: data)
                // fopen's "calling fopen(/x.pem, r)" repeats the path the message already names.
                if !d.hasPrefix("calling ") { detail = d }
            }
            entries.append(Entry(library: library, reason: reason, text: text, detail: detail))
        }
        return entries
    }

    /// The entries as one line: wrappers dropped when something more specific is there, repeats
    /// ("No such file or directory" then BIO's "no such file") dropped.
    static func describe(_ entries: [Entry]) -> String {
        let specific = entries.filter { !$0.isWrapper }
        var parts: [String] = []
        for e in specific.isEmpty ? entries : specific {
            var text = e.text
            if let d = e.detail { text += " (\(d))" }
            let lower = e.text.lowercased()
            if parts.contains(where: { $0.lowercased().hasPrefix(lower) }) { continue }
            parts.append(text)
        }
        return parts.isEmpty ? "unknown OpenSSL error" : parts.joined(separator: ": ")
    }

    /// Drains the queue into `what: <OpenSSL's text>` as a configuration error.
    static func configurationError(_ what: String) -> TLSError {
        TLSError(.configuration, "\(what): \(describe(drain()))")
    }
}
