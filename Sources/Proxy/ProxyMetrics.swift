import Stats
import TLS

/// The proxy's counters, looked up once so the request path only does relaxed atomic adds.
final class ProxyMetrics: Sendable {
    let requestsByClass: [Counter]  // index 0: other, 1...5: 1xx...5xx
    let upstreamConnectErrors: Counter
    let upstreamUnresolved: Counter
    let upstreamTimeouts: Counter
    let upstreamResets: Counter
    let upstreamProtocolErrors: Counter
    let upstreamTLSErrors: Counter
    /// HTTPS clients whose handshake failed, by `TLSFailureReason` (and `handshake_timeout`).
    let tlsHandshakeErrors: [String: Counter]
    let tlsHandshakes: Counter
    let openConnections: Counter
    let acceptedConnections: Counter
    let clientErrors: Counter
    let spansStarted: Counter
    let spansSampled: Counter
    let upstreamConnections: Counter
    let underscoreFieldsDropped: Counter

    init(registry r: MetricsRegistry) {
        requestsByClass = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"].map {
            r.counter(
                "traceproxy_requests_total", help: "Requests answered, by status class.", labels: [("code", $0)])
        }
        func upstreamError(_ kind: String) -> Counter {
            r.counter(
                "traceproxy_upstream_errors_total", help: "Upstream failures by kind.", labels: [("kind", kind)])
        }
        upstreamConnectErrors = upstreamError("connect")
        upstreamUnresolved = upstreamError("unresolved")
        upstreamTimeouts = upstreamError("timeout")
        upstreamResets = upstreamError("reset")
        upstreamProtocolErrors = upstreamError("protocol")
        upstreamTLSErrors = upstreamError("tls")
        var byReason: [String: Counter] = [:]
        for reason in TLSFailureReason.allCases.map(\.rawValue) + [Self.handshakeTimeout] {
            byReason[reason] = r.counter(
                "traceproxy_tls_handshake_errors_total", help: "HTTPS client handshakes that failed, by reason.",
                labels: [("reason", reason)])
        }
        tlsHandshakeErrors = byReason
        tlsHandshakes = r.counter("traceproxy_tls_handshakes_total", help: "HTTPS client handshakes completed.")
        openConnections = r.counter(
            "traceproxy_open_connections", help: "Client connections currently open.", kind: .gauge)
        acceptedConnections = r.counter(
            "traceproxy_accepted_connections_total", help: "Client connections accepted.")
        clientErrors = r.counter(
            "traceproxy_client_protocol_errors_total", help: "Requests rejected as malformed or over a limit.")
        spansStarted = r.counter("traceproxy_spans_started_total", help: "Spans started (one per request).")
        spansSampled = r.counter("traceproxy_spans_sampled_total", help: "Spans sampled and handed to reporters.")
        upstreamConnections = r.counter(
            "traceproxy_upstream_connections_opened_total", help: "New upstream connections opened.")
        underscoreFieldsDropped = r.counter(
            "traceproxy_request_fields_dropped_total",
            help: "Request header fields not forwarded, by reason (--headers-with-underscores).",
            labels: [("reason", "underscore")])
    }

    static let handshakeTimeout = "handshake_timeout"

    func countResponse(_ status: Int) {
        let i = status / 100
        requestsByClass[(1...5).contains(i) ? i : 0].add()
    }

    /// The counter that tracks each kind of failure (a client that left is not counted here: its
    /// 499 is in `requestsByClass`).
    func count(_ failure: ExchangeFailure) {
        switch failure {
        case .malformedRequest, .headTimeout, .bodyTimeout, .sendTimeout, .connectNotAllowed,
            .underscoreInFieldName:
            clientErrors.add()
        case .upstreamConnect: upstreamConnectErrors.add()
        case .upstreamUnresolved: upstreamUnresolved.add()
        case .upstreamTLS: upstreamTLSErrors.add()
        case .upstreamConnectTimeout, .upstreamTimeout: upstreamTimeouts.add()
        case .upstreamProtocol, .upstreamUnrequestedUpgrade: upstreamProtocolErrors.add()
        case .upstreamReset, .upstreamTruncated: upstreamResets.add()
        case .clientClosed, .clientReset, .drainTimeout: break
        }
    }
}
