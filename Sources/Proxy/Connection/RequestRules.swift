import HTTP1

/// The proxy's rules for a request head the codec accepted: which Host it needs (RFC 9112
/// section 3.2), whether CONNECT is served, and what happens to underscore field names. The one
/// place a well-formed head is still refused.
struct RequestRules {
    let allowConnect: Bool
    let underscores: UnderscoreAction

    init(_ config: ProxyConfig) {
        allowConnect = config.allowConnect
        underscores = config.headersWithUnderscores
    }

    /// nil when `head` may be forwarded.
    func check(_ head: HTTPHead) -> ExchangeFailure? {
        if let error = HTTPParseError.checkHost(head) { return .malformedRequest(error) }
        if head.method == .connect && !allowConnect { return .connectNotAllowed }
        if head.underscoreFieldCount > 0 && underscores == .reject { return .underscoreInFieldName }
        return nil
    }

    /// How the forwarded head treats underscore field names.
    var forwarding: HeadWriter.UnderscorePolicy {
        switch underscores {
        case .drop, .reject: return .drop
        case .allow: return .allow
        }
    }
}
