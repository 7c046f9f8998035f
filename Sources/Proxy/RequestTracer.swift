import HTTP1
import Propagation
import Reactor
import Spans

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

    /// Request line, end-to-end fields, Host when the client sent none, X-Forwarded-*, the
    /// proxy's framing and the injected context.
    static func buildForwardedHead(
        _ head: HTTPHead, trace: TraceDecision, peerHost: String, ctx: LoopContext, into out: inout [UInt8]
    ) {
        let shared = ctx.shared
        HeadWriter.appendRequestHead(head, excluding: shared.requestExcluded, to: &out) { out in
            if head.hostFieldCount == 0 { HeadWriter.appendField("Host", shared.upstreamHostHeader, to: &out) }
            appendList(head, "x-forwarded-for", "X-Forwarded-For", appending: peerHost, to: &out)
            appendList(head, "x-forwarded-proto", "X-Forwarded-Proto", appending: "http", to: &out)
            if let host = head.firstValue(lowercasedName: "host") {
                appendList(head, "x-forwarded-host", "X-Forwarded-Host", appending: host, to: &out)
            }
            shared.propagator.inject(trace.outgoing, into: &out)
        }
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
        out.append(contentsOf: HeadWriter.crlf)
    }

    /// W3C `traceresponse` (Trace Context Level 2): lets a caller quote the trace id.
    static func traceResponseValue(_ c: OutgoingContext) -> String {
        TraceResponse.value(c)
    }

    static func finish(_ ex: Exchange, ctx: LoopContext, peer: Peer) {
        let endNs = ctx.time.monotonicNs()
        let status = ex.status
        ctx.metrics.countResponse(status)
        let durationMicros = max(1, (endNs - ex.startNs) / 1000)
        let shared = ctx.shared
        if shared.accessLog != nil {
            AccessLog.append(ex, status: status, durationMicros: durationMicros, peer: peer.host, to: &ctx.accessLog)
        }
        guard ex.trace.outgoing.sampled else { return }
        ctx.metrics.spansSampled.add()
        let head = ex.head
        let method = head.methodString
        let target = head.target
        var tags: [Tag] = []
        tags.reserveCapacity(14)
        tags.append(Tag("span.kind", .string(shared.config.spanKind.rawValue)))
        tags.append(Tag("component", .string("traceproxy")))
        tags.append(Tag("http.method", .string(method)))
        let host = head.firstValue(lowercasedName: "host") ?? shared.upstreamHostHeader
        tags.append(Tag("http.url", .string("http://\(host)\(target)")))
        tags.append(Tag("http.path", .string(head.path)))
        if status > 0 { tags.append(Tag("http.status_code", .long(Int64(status)))) }
        if let ua = head.firstValue(lowercasedName: "user-agent") { tags.append(Tag("http.user_agent", .string(ua))) }
        tags.append(Tag(peer.v6 ? "peer.ipv6" : "peer.ipv4", .string(peer.host)))
        tags.append(Tag("peer.port", .long(Int64(peer.port))))
        tags.append(Tag("upstream.address", .string(shared.upstreamDescription)))
        tags.append(Tag("http.request.body.size", .long(Int64(ex.requestBodyBytes))))
        tags.append(Tag("http.response.body.size", .long(Int64(ex.responseBodyBytes))))
        var logs: [SpanLog] = []
        let failed = status >= 500 || ex.errorKind != nil && status != 499 || status == 0
        if ex.errorKind != nil || status >= 500 {
            if failed { tags.append(Tag("error", .bool(true))) }
            if let kind = ex.errorKind {
                logs.append(
                    SpanLog(
                        timestampMicros: ex.startWallMicros + durationMicros,
                        fields: [
                            Tag("event", .string("error")), Tag("error.kind", .string(kind)),
                            Tag("message", .string(ex.errorMessage ?? kind)),
                        ]))
            }
        }
        if ex.connectedNs > 0 {
            logs.append(
                SpanLog(
                    timestampMicros: ex.startWallMicros + max(0, (ex.connectedNs - ex.startNs) / 1000),
                    fields: [Tag("event", .string("upstream_connected"))]))
        }
        if ex.firstByteNs > 0 {
            logs.append(
                SpanLog(
                    timestampMicros: ex.startWallMicros + max(0, (ex.firstByteNs - ex.startNs) / 1000),
                    fields: [Tag("event", .string("first_response_byte"))]))
        }
        logs.sort { $0.timestampMicros < $1.timestampMicros }
        let o = ex.trace.outgoing
        let span = FinishedSpan(
            traceID: o.traceID, spanID: o.spanID, parentSpanID: o.parentSpanID,
            operationName: OperationName.make(
                method: method, target: target, collapseIDs: shared.config.collapsePathIDs),
            kind: shared.config.spanKind, startMicros: ex.startWallMicros, durationMicros: durationMicros,
            debug: o.debug, tags: tags, logs: logs)
        ctx.record(span)
    }
}
