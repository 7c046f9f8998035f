import HTTP1
import XCTest

@testable import Proxy

/// The connection state machine alone: no socket, no clock but the `now` each event carries.
/// Every state, every transition the proxy relies on, and every status the proxy itself sends.
final class ConnectionStateMachineTests: XCTestCase {
    typealias Machine = ConnectionStateMachine
    private let timeouts = Machine.Timeouts(
        headerMs: 10, idleMs: 60, bodyMs: 20, upstreamConnectMs: 5, upstreamMs: 30, lingerMs: 2)

    private let get = Machine.RequestFacts(
        hasBody: false, keepAlive: true, idempotent: true, expectsContinue: false, upgrade: false)
    private let post = Machine.RequestFacts(
        hasBody: true, keepAlive: true, idempotent: false, expectsContinue: false, upgrade: false)

    /// A machine with a GET in flight on an open upstream connection (head sent at t=0).
    private func exchanging(_ request: Machine.RequestFacts? = nil, reused: Bool = false) -> Machine {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        XCTAssertEqual(m.requestHead(request ?? get, now: 0), .startUpstream)
        m.upstreamAttached(connecting: false, reused: reused, now: 0)
        if !(request ?? get).hasBody { m.requestEnd(now: 0) }
        return m
    }

    private func facts(
        _ base: Machine.RequestFacts, _ change: (inout Machine.RequestFacts) -> Void
    ) -> Machine.RequestFacts {
        var f = base
        change(&f)
        return f
    }

    /// The action for a response head with `status` (keep-alive upstream, no forced close).
    private func head(_ m: inout Machine, _ status: Int, now: Int64 = 1) -> Machine.Action {
        m.responseHead(status: status, keepAlive: true, framingNeedsClose: false, now: now)
    }

    private func streaming(_ request: Machine.RequestFacts? = nil) -> Machine {
        var m = exchanging(request)
        XCTAssertEqual(
            m.responseHead(status: 200, keepAlive: true, framingNeedsClose: false, now: 1),
            .forwardResponseHead(close: false))
        return m
    }

    // MARK: idle and reading a head

    func test_new_isIdle_closedQuietlyAtIdleTimeout() {
        var m = Machine(timeouts: timeouts, now: 100)
        XCTAssertEqual(m.state, .idle(closeAt: 160))
        XCTAssertTrue(m.acceptsRequestBytes)
        XCTAssertEqual(m.tick(now: 159), .none)
        XCTAssertEqual(m.tick(now: 160), .close)
        XCTAssertEqual(m.state, .closed)
    }

    func test_firstBytes_startHeaderTimeout_408AndClose() {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 5)
        XCTAssertEqual(m.state, .readingHead(timeoutAt: 15))
        XCTAssertEqual(m.tick(now: 14), .none)
        XCTAssertEqual(m.tick(now: 15), .reject(.headTimeout))
        XCTAssertEqual(ExchangeFailure.headTimeout.status, 408)
        XCTAssertEqual(m.state, .closingAfterFlush)
        XCTAssertFalse(m.acceptsRequestBytes, "nothing more is parsed after a rejection")
    }

    func test_malformedHead_rejectedWithParserStatus() {
        let cases: [(HTTPParseError, Int)] = [
            (.invalidRequestLine, 400), (.invalidHost, 400), (.ambiguousFraming, 400), (.targetTooLong, 414),
            (.headerTooLarge, 431), (.tooManyHeaders, 431), (.unsupportedVersion, 505),
        ]
        for (error, status) in cases {
            var m = Machine(timeouts: timeouts, now: 0)
            m.bytesReceived(now: 0)
            XCTAssertEqual(m.requestRefused(.malformedRequest(error)), .reject(.malformedRequest(error)), "\(error)")
            XCTAssertEqual(ExchangeFailure.malformedRequest(error).status, status, "\(error)")
            XCTAssertEqual(m.state, .closingAfterFlush)
        }
    }

    func test_eofBetweenRequestsOrInPartialHead_closes() {
        var idle = Machine(timeouts: timeouts, now: 0)
        XCTAssertEqual(idle.clientEOF(), .close)
        var partial = Machine(timeouts: timeouts, now: 0)
        partial.bytesReceived(now: 0)
        XCTAssertEqual(partial.clientEOF(), .close)
        XCTAssertEqual(partial.state, .closed)
        XCTAssertEqual(partial.clientEOF(), .none, "closed stays closed")
    }

    // MARK: exchanging

    func test_head_startsUpstream_pipelinedBytesWaitUntilResponseEnds() {
        var m = exchanging()
        XCTAssertFalse(m.acceptsRequestBytes, "a pipelined request waits for this response")
        XCTAssertEqual(m.exchange?.upstream, .open(timeoutAt: 30))
        _ = m.responseHead(status: 200, keepAlive: true, framingNeedsClose: false, now: 3)
        m.responseBody(now: 4)
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 5), .finish(reuseUpstream: true, then: .serveNext))
        XCTAssertEqual(m.state, .idle(closeAt: 65))
        XCTAssertTrue(m.acceptsRequestBytes)
    }

    func test_connectionClose_orHTTP10WithoutKeepAlive_closesAfterResponse() {
        var m = exchanging(facts(get) { $0.keepAlive = false })
        XCTAssertEqual(head(&m, 200), .forwardResponseHead(close: true))
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: true, then: .closeWhenFlushed))
        XCTAssertEqual(m.state, .closingAfterFlush)
    }

    func test_closeDelimitedRelay_closesAfterResponse_upstreamNotReusedWhenItSaidClose() {
        var m = exchanging()
        XCTAssertEqual(
            m.responseHead(status: 200, keepAlive: false, framingNeedsClose: true, now: 1),
            .forwardResponseHead(close: true))
        XCTAssertEqual(
            m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: false, then: .closeWhenFlushed))
    }

    func test_upstreamWithStrayBytes_notReused() {
        var m = streaming()
        XCTAssertEqual(m.responseEnd(upstreamIdle: false, now: 2), .finish(reuseUpstream: false, then: .serveNext))
    }

    func test_requestBody_resetsBodyTimeout_408WhenItStalls() {
        var m = exchanging(post)
        XCTAssertEqual(m.exchange?.bodyTimeoutAt, 20)
        m.requestBody(now: 15)
        XCTAssertEqual(m.tick(now: 34), .none)
        XCTAssertEqual(m.tick(now: 35), .respond(.bodyTimeout, then: .closeWhenFlushed))
        XCTAssertEqual(m.state, .closingAfterFlush)
    }

    func test_slowUpload_noUpstreamTimeoutWhileTheBodyKeepsComing() {
        var m = exchanging(post)
        for t in stride(from: 10, through: 200, by: 10) {
            m.requestBody(now: Int64(t))
            XCTAssertEqual(m.tick(now: Int64(t)), .none, "t=\(t)")
        }
        m.requestEnd(now: 200)
        XCTAssertEqual(m.tick(now: 229), .none)
        XCTAssertEqual(m.tick(now: 230), .respond(.upstreamTimeout, then: .serveNext))
    }

    func test_bodyTimeoutAfterResponseStarted_abortsWithoutAnswer() {
        var m = exchanging(post)
        _ = m.responseHead(status: 200, keepAlive: true, framingNeedsClose: false, now: 1)
        XCTAssertEqual(m.tick(now: 21), .abort(.bodyTimeout))
        XCTAssertEqual(m.state, .closed)
    }

    func test_requestEnd_restartsUpstreamTimeout_504() {
        var m = exchanging(post)
        m.requestBody(now: 10)
        m.requestEnd(now: 25)
        XCTAssertEqual(m.exchange?.upstream, .open(timeoutAt: 55))
        XCTAssertEqual(m.tick(now: 54), .none)
        XCTAssertEqual(m.tick(now: 55), .respond(.upstreamTimeout, then: .serveNext))
        XCTAssertEqual(ExchangeFailure.upstreamTimeout.status, 504)
    }

    func test_upstreamTimeoutAfterHead_cutsTheResponse() {
        var m = streaming()
        m.responseBody(now: 10)
        XCTAssertEqual(m.tick(now: 39), .none, "each response byte restarts the timeout")
        XCTAssertEqual(m.tick(now: 40), .abort(.upstreamTimeout))
        XCTAssertEqual(m.state, .closed)
    }

    /// A GET whose upstream connection is still being set up (at t=0).
    private func connecting() -> Machine {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        _ = m.requestHead(get, now: 0)
        m.upstreamAttached(connecting: true, reused: false, now: 0)
        return m
    }

    func test_connectTimeout_502_keepAliveKeptForBodilessRequest() {
        var m = connecting()
        m.requestEnd(now: 0)
        XCTAssertEqual(m.exchange?.upstream, .connecting(timeoutAt: 5))
        XCTAssertEqual(m.tick(now: 5), .respond(.upstreamConnectTimeout, then: .serveNext))
        XCTAssertEqual(ExchangeFailure.upstreamConnectTimeout.status, 502)
        XCTAssertEqual(m.state, .idle(closeAt: 65))
    }

    func test_connected_switchesToResponseTimeout() {
        var m = connecting()
        m.upstreamConnected(now: 3)
        XCTAssertEqual(m.exchange?.upstream, .open(timeoutAt: 33))
    }

    func test_connectRefused_502_withUnreadBody_closesAfterAnswer() {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        _ = m.requestHead(post, now: 0)
        XCTAssertEqual(
            m.upstreamFailed(.upstreamConnect(errno: 111), now: 1),
            .respond(.upstreamConnect(errno: 111), then: .closeWhenFlushed))
        XCTAssertEqual(ExchangeFailure.upstreamConnect(errno: 111).status, 502)
    }

    func test_invalidResponse_502_orCutAfterHead() {
        var before = exchanging()
        XCTAssertEqual(
            before.upstreamFailed(.upstreamProtocol(.invalidStatusLine), now: 1),
            .respond(.upstreamProtocol(.invalidStatusLine), then: .serveNext))
        var after = streaming()
        XCTAssertEqual(
            after.upstreamFailed(.upstreamProtocol(.invalidChunk), now: 2), .abort(.upstreamProtocol(.invalidChunk)))
    }

    func test_unrequested101_502() {
        var m = exchanging()
        XCTAssertEqual(
            m.responseHead(status: 101, keepAlive: true, framingNeedsClose: false, now: 1),
            .respond(.upstreamUnrequestedUpgrade, then: .serveNext))
        XCTAssertEqual(ExchangeFailure.upstreamUnrequestedUpgrade.status, 502)
    }

    func test_interimResponses_swallowedExcept100ForExpectContinue() {
        var plain = exchanging()
        XCTAssertEqual(plain.responseHead(status: 100, keepAlive: true, framingNeedsClose: false, now: 1), .none)
        XCTAssertEqual(plain.responseEnd(upstreamIdle: true, now: 1), .none)
        XCTAssertEqual(plain.exchange?.response, .awaiting)
        var facts = post
        facts.expectsContinue = true
        var expecting = exchanging(facts)
        XCTAssertEqual(
            expecting.responseHead(status: 100, keepAlive: true, framingNeedsClose: false, now: 1), .sendContinue)
        XCTAssertEqual(expecting.responseHead(status: 103, keepAlive: true, framingNeedsClose: false, now: 1), .none)
        XCTAssertEqual(expecting.responseEnd(upstreamIdle: true, now: 1), .none)
        XCTAssertEqual(
            expecting.responseHead(status: 201, keepAlive: true, framingNeedsClose: false, now: 2),
            .forwardResponseHead(close: false))
    }

    func test_responseBeforeBodyEnds_closesAfterResponse() {
        var m = exchanging(post)
        _ = m.responseHead(status: 413, keepAlive: true, framingNeedsClose: false, now: 1)
        XCTAssertEqual(
            m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: false, then: .closeWhenFlushed),
            "the unread body would be taken for the next request")
    }

    // MARK: the upstream closing

    func test_stalePooledConnection_idempotentRequestRetriedOnce() {
        var m = exchanging(reused: true)
        XCTAssertEqual(m.upstreamClosed(errno: 0, end: .nothing, now: 1), .retryUpstream)
        XCTAssertEqual(m.exchange?.upstream, Machine.Exchange.Upstream.none)
        m.upstreamAttached(connecting: true, reused: false, now: 1)
        XCTAssertEqual(
            m.upstreamClosed(errno: 104, end: .nothing, now: 2), .respond(.upstreamReset(errno: 104), then: .serveNext))
        XCTAssertEqual(ExchangeFailure.upstreamReset(errno: 104).status, 502)
    }

    func test_stalePooledConnection_postOrSentBody_notRetried() {
        var m = exchanging(post, reused: true)
        XCTAssertEqual(
            m.upstreamClosed(errno: 0, end: .nothing, now: 1),
            .respond(.upstreamReset(errno: 0), then: .closeWhenFlushed))
        var put = post
        put.idempotent = true
        var withBody = exchanging(put, reused: true)
        withBody.requestBody(now: 1)
        XCTAssertEqual(
            withBody.upstreamClosed(errno: 0, end: .nothing, now: 2),
            .respond(.upstreamReset(errno: 0), then: .closeWhenFlushed))
    }

    func test_closeDelimitedBody_endsWithTheClose() {
        var m = streaming()
        XCTAssertEqual(
            m.upstreamClosed(errno: 0, end: .complete, now: 3), .finish(reuseUpstream: false, then: .serveNext))
    }

    func test_upstreamClosedMidBody_cut() {
        var m = streaming()
        XCTAssertEqual(m.upstreamClosed(errno: 0, end: .truncated, now: 3), .abort(.upstreamTruncated))
        XCTAssertEqual(m.state, .closed)
    }

    // MARK: the client going away

    func test_clientClosesMidRequest_abortedAs499() {
        var m = exchanging(post)
        XCTAssertEqual(m.clientEOF(), .abort(.clientClosed))
        XCTAssertEqual(ExchangeFailure.clientClosed.status, 499)
        XCTAssertEqual(m.state, .closed)
    }

    func test_clientHalfClosesAfterWholeRequest_responseStillSent_thenClose() {
        var m = exchanging()
        XCTAssertEqual(m.clientEOF(), .none)
        _ = m.responseHead(status: 200, keepAlive: true, framingNeedsClose: false, now: 1)
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: true, then: .closeWhenFlushed))
        XCTAssertEqual(m.outputFlushed(readEOF: true, now: 3), .close)
    }

    func test_clientReset_abortsExchange_orJustCloses() {
        var m = streaming()
        XCTAssertEqual(m.clientReset(), .abort(.clientReset))
        XCTAssertEqual(ExchangeFailure.clientReset.status, 499)
        var idle = Machine(timeouts: timeouts, now: 0)
        XCTAssertEqual(idle.clientReset(), .close)
    }

    // MARK: closing, lingering, tunnelling

    func test_closingAfterFlush_lingersUntilPeerClosesOrDeadline() {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        _ = m.requestRefused(.malformedRequest(.invalidRequestLine))
        XCTAssertEqual(m.tick(now: 1000), .none, "no deadline while the answer is being written")
        XCTAssertEqual(m.outputFlushed(readEOF: false, now: 7), .linger)
        XCTAssertEqual(m.state, .lingering(closeAt: 9))
        XCTAssertFalse(m.acceptsRequestBytes)
        XCTAssertEqual(m.tick(now: 8), .none)
        XCTAssertEqual(m.tick(now: 9), .close)
        var early = Machine(timeouts: timeouts, now: 0)
        early.bytesReceived(now: 0)
        _ = early.requestRefused(.malformedRequest(.invalidRequestLine))
        _ = early.outputFlushed(readEOF: false, now: 1)
        XCTAssertEqual(early.clientEOF(), .close)
    }

    func test_upgrade_tunnelsAfter101_halfClosePassedOn_upstreamCloseFlushesAndCloses() {
        var m = exchanging(facts(get) { $0.upgrade = true })
        XCTAssertEqual(head(&m, 101), .forwardResponseHead(close: false))
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 1), .enterTunnel)
        XCTAssertEqual(m.state, .tunnelling)
        XCTAssertEqual(m.tick(now: 10_000), .none, "a tunnel has no deadline")
        XCTAssertEqual(m.clientEOF(), .shutdownUpstreamWrite)
        XCTAssertEqual(m.upstreamClosed(errno: 0, end: .nothing, now: 2), .closeWhenFlushed)
        XCTAssertEqual(m.state, .closingAfterFlush)
    }

    // MARK: drain

    func test_drain_idleClosesNow_inFlightClosesAfterResponse() {
        var idle = Machine(timeouts: timeouts, now: 0)
        XCTAssertEqual(idle.beginDrain(), .close)
        var m = exchanging()
        XCTAssertEqual(m.beginDrain(), .none)
        XCTAssertEqual(
            m.responseHead(status: 200, keepAlive: true, framingNeedsClose: false, now: 1),
            .forwardResponseHead(close: true))
        XCTAssertEqual(
            m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: false, then: .closeWhenFlushed),
            "no upstream connection goes back to the pool during a drain")
    }

    func test_drain_headInProgress_servedWithClose() {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        XCTAssertEqual(m.beginDrain(), .none)
        _ = m.requestHead(get, now: 1)
        XCTAssertEqual(m.exchange?.closeAfterResponse, true)
    }

    func test_drainTimeout_503BeforeResponse_cutAfter() {
        var waiting = exchanging()
        _ = waiting.beginDrain()
        XCTAssertEqual(waiting.drainTimedOut(), .respond(.drainTimeout, then: .closeWhenFlushed))
        XCTAssertEqual(ExchangeFailure.drainTimeout.status, 503)
        var started = streaming()
        _ = started.beginDrain()
        XCTAssertEqual(started.drainTimedOut(), .abort(.drainTimeout))
        var idle = Machine(timeouts: timeouts, now: 0)
        idle.bytesReceived(now: 0)
        XCTAssertEqual(idle.drainTimedOut(), .close)
    }

    // MARK: failures

    func test_failureKinds_clientSideOrNot() {
        let clientSide: [ExchangeFailure] = [
            .malformedRequest(.invalidRequestLine), .headTimeout, .bodyTimeout, .clientClosed, .clientReset,
        ]
        let other: [ExchangeFailure] = [
            .upstreamConnect(errno: 111), .upstreamConnectTimeout, .upstreamTimeout,
            .upstreamProtocol(.invalidStatusLine), .upstreamUnrequestedUpgrade, .upstreamReset(errno: 0),
            .upstreamTruncated, .drainTimeout,
        ]
        for f in clientSide { XCTAssertTrue(f.isClientSide, "\(f)") }
        for f in other { XCTAssertFalse(f.isClientSide, "\(f)") }
        XCTAssertEqual(Set((clientSide + other).map(\.kind)).count, 10, "kinds group the failures for the span")
        XCTAssertTrue(ExchangeFailure.upstreamReset(errno: 0).message.contains("before responding"))
        XCTAssertTrue(ExchangeFailure.upstreamReset(errno: 104).message.contains("reset"))
    }

    // MARK: CONNECT

    func test_connect_2xxTunnels_noCloseAdded() {
        var m = exchanging(facts(get) { $0.connect = true })
        XCTAssertEqual(head(&m, 200), .forwardResponseHead(close: false))
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 1), .enterTunnel)
        XCTAssertEqual(m.state, .tunnelling)
    }

    func test_connect_refusedByUpstream_relayedThenClosed() {
        var m = exchanging(facts(get) { $0.connect = true })
        XCTAssertEqual(head(&m, 403), .forwardResponseHead(close: true), "tunnel bytes may follow: close")
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: true, then: .closeWhenFlushed))
    }

    func test_connectNotAllowed_405WithAllow() {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        XCTAssertEqual(m.requestRefused(.connectNotAllowed), .reject(.connectNotAllowed))
        XCTAssertEqual(ExchangeFailure.connectNotAllowed.status, 405)
        var out: [UInt8] = []
        ExchangeFailure.connectNotAllowed.appendAnswerFields(to: &out)
        XCTAssertTrue(String(decoding: out, as: UTF8.self).hasPrefix("Allow: GET, HEAD, POST"))
        XCTAssertEqual(ExchangeFailure.underscoreInFieldName.status, 400)
    }

    // MARK: who is the slow party

    /// The upstream stops taking the body: the proxy stops reading it, so the body timeout must not
    /// blame the client; the upstream's deadline runs instead (504).
    func test_uploadPausedByUpstream_noBodyTimeout_upstreamTimeoutInstead() {
        var m = exchanging(post)
        m.requestBody(now: 1)
        m.requestPaused(true, now: 5)
        XCTAssertEqual(m.tick(now: 30), .none, "past the body timeout (21): not the client's fault")
        XCTAssertEqual(m.tick(now: 35), .respond(.upstreamTimeout, then: .closeWhenFlushed))
    }

    func test_uploadResumed_bodyTimeoutRestartsFromResume() {
        var m = exchanging(post)
        m.requestBody(now: 1)
        m.requestPaused(true, now: 5)
        m.requestPaused(false, now: 25)
        XCTAssertEqual(m.tick(now: 44), .none)
        XCTAssertEqual(m.tick(now: 45), .respond(.bodyTimeout, then: .closeWhenFlushed))
    }

    /// The client stops reading the response: the proxy stops reading the upstream, so the
    /// upstream's deadline stops; the send timeout bounds the client instead.
    func test_responsePausedBySlowClient_noUpstreamTimeout_sendTimeoutCuts() {
        var m = streaming()
        m.responsePaused(true, now: 2)
        m.clientOutput(pending: true, now: 2)
        XCTAssertEqual(m.tick(now: 1000 * 60 + 1), .none, "upstream deadline (32) suspended; send deadline 60002")
        XCTAssertEqual(m.tick(now: 60_002), .abort(.sendTimeout))
        XCTAssertEqual(m.state, .closed)
    }

    func test_sendDeadline_movesWithEachWrite_clearedWhenDrained() {
        var m = streaming()
        m.responsePaused(true, now: 10)
        m.clientOutput(pending: true, now: 10)
        m.clientOutput(pending: true, progressed: true, now: 50_000)
        XCTAssertEqual(m.sendDeadline, 110_000)
        m.clientOutput(pending: true, now: 60_000)
        XCTAssertEqual(m.sendDeadline, 110_000, "only progress moves it")
        m.responsePaused(false, now: 70_000)
        m.clientOutput(pending: false, now: 70_000)
        XCTAssertNil(m.sendDeadline)
        XCTAssertEqual(m.tick(now: 70_029), .none, "the upstream deadline restarted at the resume")
        XCTAssertEqual(m.tick(now: 70_030), .abort(.upstreamTimeout))
    }

    /// A finished response still going out is not idleness: the idle timer starts once it is out.
    func test_idleWithOutputPending_notClosed_idleStartsWhenDrained() {
        var m = streaming()
        m.clientOutput(pending: true, now: 1)
        XCTAssertEqual(m.responseEnd(upstreamIdle: true, now: 2), .finish(reuseUpstream: true, then: .serveNext))
        XCTAssertEqual(m.tick(now: 62), .none, "idle deadline passed, output still pending")
        m.clientOutput(pending: false, now: 1000)
        XCTAssertEqual(m.state, .idle(closeAt: 1060))
        XCTAssertEqual(m.tick(now: 1059), .none)
        XCTAssertEqual(m.tick(now: 1060), .close)
    }

    func test_closingAfterFlush_clientNeverReads_sendTimeoutCloses() {
        var m = Machine(timeouts: timeouts, now: 0)
        m.bytesReceived(now: 0)
        _ = m.requestRefused(.malformedRequest(.invalidTarget))
        m.clientOutput(pending: true, now: 1)
        XCTAssertEqual(m.tick(now: 60_000), .none)
        XCTAssertEqual(m.tick(now: 60_001), .close)
    }

    // MARK: TLS handshake

    func test_tlsHandshake_ownDeadline_thenIdle() {
        var t = timeouts
        t.handshakeMs = 7
        var m = Machine(timeouts: t, now: 100, tls: true)
        XCTAssertEqual(m.state, .handshaking(timeoutAt: 107))
        XCTAssertFalse(m.acceptsRequestBytes)
        XCTAssertEqual(m.tick(now: 106), .none)
        m.handshakeFinished(now: 105)
        XCTAssertEqual(m.state, .idle(closeAt: 165), "the idle timeout starts once the handshake is done")
        XCTAssertEqual(m.tick(now: 110), .none)
    }

    func test_tlsHandshake_stalled_closedAtDeadline_orByDrain() {
        var t = timeouts
        t.handshakeMs = 7
        var m = Machine(timeouts: t, now: 0, tls: true)
        XCTAssertEqual(m.tick(now: 7), .close)
        XCTAssertEqual(m.state, .closed)
        var d = Machine(timeouts: t, now: 0, tls: true)
        XCTAssertEqual(d.beginDrain(), .close)
        var e = Machine(timeouts: t, now: 0, tls: true)
        XCTAssertEqual(e.clientEOF(), .close, "a client that gives up mid-handshake")
    }

}
