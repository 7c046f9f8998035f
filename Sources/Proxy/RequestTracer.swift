import HTTP1
import Propagation
import Reactor
import Spans

#if canImport(Glibc)
    import Glibc
#endif

/// The tracing half of a request: extract the incoming context, decide, inject into the forwarded
/// head, and turn the finished exchange into a span.
enum RequestTracer {
    static func decide(head: HTTPHead, ctx: LoopContext) -> TraceDecision {
        let shared = ctx.shared
        let incoming = shared.propagator.extract(from: head)
        var traceID: TraceID
        var parent = SpanID.zero
        var sampled: Bool
        var debug = false
        var traceState: String?
        if let inc = incoming {
            debug = inc.debug
            if let t = inc.traceID {
                traceID = t
                parent = inc.spanID
            } else {
                traceID = TraceID.random(using: &ctx.random)
            }
            sampled = debug || (inc.sampled ?? shared.sampler.shouldSample(traceID: traceID))
            traceState = inc.traceState
        } else {
            traceID = TraceID.random(using: &ctx.random)
            sampled = shared.sampler.shouldSample(traceID: traceID)
        }
        let span = SpanID.random(using: &ctx.random)
        return TraceDecision(
            outgoing: OutgoingContext(
                traceID: traceID, spanID: span, parentSpanID: parent, sampled: sampled, debug: debug,
                traceState: traceState))
    }

    /// Request line, end-to-end fields, X-Forwarded-*, framing, injected context.
    static func buildForwardedHead(
        _ head: HTTPHead, trace: TraceDecision, peerHost: String, ctx: LoopContext, into out: inout [UInt8]
    ) {
        let shared = ctx.shared
        out.append(contentsOf: head.bytes[head.methodRange])
        out.append(0x20)
        out.append(contentsOf: head.bytes[head.targetRange])
        out.append(contentsOf: httpVersionLine)
        head.appendForwardableFields(to: &out, excluding: shared.requestExcluded, keepUpgrade: head.isUpgrade)
        var hasHost = false
        head.forEachValue(lowercasedName: "host") { _ in hasHost = true }
        if !hasHost {
            out.append(contentsOf: "Host: ".utf8)
            out.append(contentsOf: shared.upstreamHostHeader.utf8)
            out.append(contentsOf: crlf)
        }
        appendList(head, "x-forwarded-for", "X-Forwarded-For", appending: peerHost, to: &out)
        appendList(head, "x-forwarded-proto", "X-Forwarded-Proto", appending: "http", to: &out)
        if let host = head.firstValue(lowercasedName: "host") {
            appendList(head, "x-forwarded-host", "X-Forwarded-Host", appending: host, to: &out)
        }
        switch head.framing {
        case .length(let n):
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(n, to: &out)
            out.append(contentsOf: crlf)
        case .chunked:
            out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        case .none, .untilClose:
            break
        }
        if head.isUpgrade { out.append(contentsOf: "Connection: upgrade\r\n".utf8) }
        shared.propagator.inject(trace.outgoing, into: &out)
        out.append(contentsOf: crlf)
    }

    /// Writes `Name: <existing values>, <value>`: the X-Forwarded-* fields are lists each hop extends.
    private static func appendList(
        _ head: HTTPHead, _ lower: String, _ name: String, appending value: String, to out: inout [UInt8]
    ) {
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: ": ".utf8)
        head.forEachValue(lowercasedName: lower) { v in
            out.append(contentsOf: v)
            out.append(contentsOf: ", ".utf8)
        }
        out.append(contentsOf: value.utf8)
        out.append(contentsOf: crlf)
    }

    /// W3C `traceresponse` (Trace Context Level 2): lets a caller quote the trace id.
    static func traceResponseValue(_ c: OutgoingContext) -> String {
        "00-\(c.traceID.hex32)-\(c.spanID.hex16)-\(c.sampled ? "01" : "00")"
    }

    /// Counts the response, writes the access-log line and, for a sampled request, records its
    /// span: a `SpanRecord` of ids, timings, sizes and offsets into the head's bytes, so nothing is
    /// allocated here; tags and the operation name are made on the reporter's thread.
    static func finish(_ ex: Exchange, ctx: LoopContext, peer: ClientPeer) {
        let endNs = Clock.monotonicNs()
        let status = ex.status
        ctx.metrics.countResponse(status)
        let durationMicros = max(1, (endNs - ex.startNs) / 1000)
        let shared = ctx.shared
        if shared.accessLog != nil {
            AccessLog.append(ex, status: status, durationMicros: durationMicros, peer: peer.host, to: &ctx.accessLog)
        }
        guard ex.trace.outgoing.sampled else { return }
        ctx.metrics.spansSampled.add()
        ctx.record(
            SpanRecord(
                head: ex.head, context: ex.trace.outgoing, kind: shared.config.spanKind,
                startMicros: ex.startWallMicros, durationMicros: durationMicros,
                upstreamConnectedOffsetMicros: ex.connectedNs > 0 ? (ex.connectedNs - ex.startNs) / 1000 : nil,
                firstResponseByteOffsetMicros: ex.firstByteNs > 0 ? (ex.firstByteNs - ex.startNs) / 1000 : nil,
                status: status, requestBodyBytes: ex.requestBodyBytes, responseBodyBytes: ex.responseBodyBytes,
                peer: peer.address, errorKind: ex.errorKind, errorMessage: ex.errorMessage))
    }

    static let httpVersionLine = Array(" HTTP/1.1\r\n".utf8)
    static let crlf: [UInt8] = [13, 10]
}

/// A client connection's peer, worked out once when the connection is accepted: the numeric host
/// as text for X-Forwarded-For and the access log, and the address as a fixed value for spans.
struct ClientPeer {
    let host: String
    let address: PeerAddress

    init(_ socketAddress: SocketAddress) {
        host = socketAddress.hostAndPort.host
        var storage = socketAddress.storage
        address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { PeerAddress($0) }
        }
    }
}
