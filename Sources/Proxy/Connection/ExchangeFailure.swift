import HTTP1
import Reactor
import Spans
import TLS

/// Why an exchange (or a request before it became one) ended badly. The one owner of the status
/// the client is sent, the span's `error.kind`, and which counter in /metrics counts it.
enum ExchangeFailure: Error, Equatable {
    /// The request broke RFC 9112 or a limit: the parser's status (400, 414, 431, 505).
    case malformedRequest(HTTPParseError)
    /// `--header-timeout-ms` ran out before the head was complete.
    case headTimeout
    /// `--body-timeout-ms` passed between request body bytes.
    case bodyTimeout
    /// `--send-timeout-ms` passed with output queued and the client reading none of it.
    case sendTimeout
    /// CONNECT without `--allow-connect`.
    case connectNotAllowed
    /// A field name with `_` under `--headers-with-underscores reject`.
    case underscoreInFieldName
    /// The client closed its side before the request was complete.
    case clientClosed
    /// The client reset the connection, or writing to it failed.
    case clientReset
    case upstreamConnect(errno: Int32)
    /// The upstream's host name has no address (yet): nothing was connected. The text says why.
    case upstreamUnresolved(String)
    /// The upstream's TLS handshake failed: its certificate was not trusted, named another host,
    /// had expired, or the server refused ours.
    case upstreamTLS(TLSError)
    case upstreamConnectTimeout
    case upstreamTimeout
    case upstreamProtocol(HTTPParseError)
    /// `101 Switching Protocols` to a request that asked for no upgrade.
    case upstreamUnrequestedUpgrade
    /// The upstream closed (errno 0) or reset before a complete response head.
    case upstreamReset(errno: Int32)
    /// The upstream closed in the middle of a response body.
    case upstreamTruncated
    /// SIGTERM's `--drain-timeout-ms` ran out with the exchange still in flight.
    case drainTimeout

    /// What the client is told when no response has started yet. The client-side cases that have
    /// no answer (the client is gone) carry nginx's 499 for the span and the access log.
    var status: Int {
        switch self {
        case .malformedRequest(let e): return e.status
        case .headTimeout, .bodyTimeout, .sendTimeout: return 408
        case .connectNotAllowed: return 405
        case .underscoreInFieldName: return 400
        case .clientClosed, .clientReset: return 499
        // Unreachable is a 502 (Envoy answers 503, nginx 504): 504 is kept for an upstream that
        // accepted the request and did not answer. A name that does not resolve is a 502 too, as
        // nginx answers for a `resolver`-resolved upstream ("could not be resolved"); Envoy
        // answers 503 (no healthy upstream, or `DF` from its dynamic forward proxy).
        case .upstreamConnect, .upstreamUnresolved, .upstreamConnectTimeout, .upstreamProtocol,
            .upstreamUnrequestedUpgrade,
            .upstreamReset, .upstreamTruncated, .upstreamTLS:
            return 502
        case .upstreamTimeout: return 504
        case .drainTimeout: return 503
        }
    }

    /// The span's `error.kind` and the access log's `error=`.
    var kind: SpanErrorKind {
        switch self {
        case .malformedRequest, .connectNotAllowed, .underscoreInFieldName: return .clientProtocol
        case .headTimeout, .bodyTimeout, .sendTimeout: return .clientTimeout
        case .clientClosed: return .clientClosed
        case .clientReset: return .clientReset
        case .upstreamConnect: return .upstreamConnect
        case .upstreamUnresolved: return .upstreamUnresolved
        case .upstreamTLS: return .upstreamTLS
        case .upstreamConnectTimeout: return .upstreamConnectTimeout
        case .upstreamTimeout: return .upstreamTimeout
        case .upstreamProtocol, .upstreamUnrequestedUpgrade: return .upstreamProtocol
        case .upstreamReset, .upstreamTruncated: return .upstreamReset
        case .drainTimeout: return .drainTimeout
        }
    }

    var message: String {
        switch self {
        case .malformedRequest(let e): return "malformed request: \(e)"
        case .headTimeout: return "request head not received in time"
        case .bodyTimeout: return "request body not received in time"
        case .sendTimeout: return "client did not read the response in time"
        case .connectNotAllowed: return "CONNECT is not enabled (--allow-connect)"
        case .underscoreInFieldName: return "field name with an underscore (--headers-with-underscores reject)"
        case .clientClosed: return "client closed the connection mid-request"
        case .clientReset: return "client connection reset"
        case .upstreamConnect(let e): return "\(SystemError("connect", e))"
        case .upstreamUnresolved(let why): return "upstream \(why)"
        case .upstreamTLS(let e): return "upstream TLS handshake failed (\(e.reason.rawValue)): \(e.message)"
        case .upstreamConnectTimeout: return "upstream connect timed out"
        case .upstreamTimeout: return "upstream did not respond in time"
        case .upstreamProtocol(let e): return "invalid upstream response: \(e)"
        case .upstreamUnrequestedUpgrade: return "101 Switching Protocols without an upgrade request"
        case .upstreamReset(let e):
            return e == 0
                ? "upstream closed the connection before responding" : "upstream reset: \(SystemError("read", e))"
        case .upstreamTruncated: return "upstream closed mid-response"
        case .drainTimeout: return "drain timeout: the proxy is shutting down"
        }
    }

    /// The client broke or left its side; the rest are the upstream's or the proxy's.
    var isClientSide: Bool { kind.isClientSide }

    /// Fields the answer needs besides the usual: 405 must say what is allowed (RFC 9110
    /// section 15.5.6); the proxy forwards every method but CONNECT.
    func appendAnswerFields(to out: inout [UInt8]) {
        if self == .connectNotAllowed {
            HeadWriter.appendField("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE", to: &out)
        }
    }
}
