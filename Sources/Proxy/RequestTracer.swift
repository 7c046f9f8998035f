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
    /// Continues the incoming trace (a new one when there is none, or with
    /// `--ignore-incoming-context`, which keeps a valid incoming context as the span's link) and
    /// lets the sampler decide, with or without the caller's decision as the configuration says.
    static func decide(head: HTTPHead, ctx: LoopContext) -> TraceDecision {
        let shared = ctx.shared
        if !shared.untracedPaths.isEmpty && shared.untracedPaths.matches(head) {
            let none = OutgoingContext(
                traceID: TraceID(high: 0, low: 0), spanID: .zero, parentSpanID: .zero, sampled: false, debug: false,
                traceState: nil)
            return TraceDecision(outgoing: none, untraced: true)
        }
        var incoming = shared.propagator.extract(from: head)
        var link: SpanLink?
        if shared.config.ignoreIncomingContext, let inc = incoming {
            if let trace = inc.traceID {
                link = SpanLink(traceID: trace, spanID: inc.spanID, sampled: inc.sampled == true)
            }
            incoming = nil
        }
        // A decision-only context has no trace id and a zero span id: a new root trace.
        let traceID = incoming?.traceID ?? TraceID.random(using: &ctx.random)
        let decision = shared.sampler.decide(
            traceID: traceID, incomingSampled: incoming?.sampled, incomingDebug: incoming?.debug ?? false)
        let span = SpanID.random(using: &ctx.random)
        return TraceDecision(
            outgoing: OutgoingContext(
                traceID: traceID, spanID: span, parentSpanID: incoming?.spanID ?? .zero, sampled: decision.sampled,
                debug: decision.debug, traceState: incoming?.traceState),
            link: link)
    }

    /// Request line, end-to-end fields, Host when the client sent none, X-Forwarded-*, the
    /// proxy's framing and the injected context. Underscore fields left out are counted.
    static func buildForwardedHead(
        _ head: HTTPHead, trace: TraceDecision, peerHost: String, secure: Bool, requestID: TraceID?,
        ctx: LoopContext, into out: inout [UInt8]
    ) {
        let shared = ctx.shared
        let leftOut = HeadWriter.appendRequestHead(
            head, excluding: trace.untraced ? shared.forwardedFieldNames : shared.requestExcluded,
            underscores: shared.requestRules.forwarding, to: &out
        ) { out in
            if head.effectiveHostRange == nil {
                HeadWriter.appendField("Host", shared.upstreamHostHeader, to: &out)
            }
            appendList(head, "x-forwarded-for", "X-Forwarded-For", appending: peerHost.utf8, to: &out)
            appendList(
                head, "x-forwarded-proto", "X-Forwarded-Proto", appending: (secure ? "https" : "http").utf8, to: &out)
            if let host = head.effectiveHostRange {
                appendList(head, "x-forwarded-host", "X-Forwarded-Host", appending: head.bytes[host], to: &out)
            }
            if let id = requestID { HeadWriter.appendField("X-Request-Id", id.hex32, to: &out) }
            if !trace.untraced { shared.propagator.inject(trace.outgoing, into: &out) }
        }
        if leftOut > 0 { shared.metrics.underscoreFieldsDropped.add(leftOut) }
    }

    /// Writes `Name: <existing values>, <value>`: the X-Forwarded-* fields are lists each hop extends.
    private static func appendList(
        _ head: HTTPHead, _ lower: String, _ name: String, appending value: some Sequence<UInt8>,
        to out: inout [UInt8]
    ) {
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: ": ".utf8)
        head.forEachValue(lowercasedName: lower) { v in
            out.append(contentsOf: v)
            out.append(contentsOf: ", ".utf8)
        }
        out.append(contentsOf: value)
        out.append(contentsOf: HeadWriter.crlf)
    }

    /// Counts the response, writes the access-log line and, for a sampled request, records its
    /// span: a `SpanRecord` of ids, timings, sizes and offsets into the head's bytes, so nothing is
    /// allocated here; tags and the operation name are made on the reporter's thread.
    static func finish(_ ex: Exchange, ctx: LoopContext, peer: ClientPeer) {
        let endNs = ctx.time.monotonicNs()
        let status = ex.status
        ctx.metrics.countResponse(status)
        let durationMicros = max(1, (endNs - ex.startNs) / 1000)
        let shared = ctx.shared
        if shared.accessLog != nil {
            AccessLog.append(
                ex, status: status, durationMicros: durationMicros, peer: peer.host, json: shared.config.accessLogJSON,
                requestID: shared.config.requestID != .off, to: &ctx.accessLog)
        }
        guard ex.trace.outgoing.sampled, !ex.trace.untraced else { return }
        ctx.metrics.spansSampled.add()
        ctx.record(
            SpanRecord(
                head: ex.head, context: ex.trace.outgoing, kind: shared.config.spanKind,
                startMicros: ex.startWallMicros, durationMicros: durationMicros,
                upstreamConnectedOffsetMicros: ex.connectedNs > 0 ? (ex.connectedNs - ex.startNs) / 1000 : nil,
                firstResponseByteOffsetMicros: ex.firstByteNs > 0 ? (ex.firstByteNs - ex.startNs) / 1000 : nil,
                status: status, requestBodyBytes: ex.requestBodyBytes, responseBodyBytes: ex.responseBodyBytes,
                peer: peer.address, errorKind: ex.errorKind, errorMessage: ex.errorMessage, tls: ex.tls,
                capturedResponseHeaders: ex.capturedResponseHeaders, generatedRequestID: ex.generatedRequestID,
                link: ex.trace.link))
    }
}
