import Propagation
import XCTest

/// `traceresponse`, from the processing model's "Restarted Trace" example.
final class TraceResponseTests: XCTestCase {
    func test_value_specRestartedTraceExample_exact() throws {
        let value = TraceResponse.value(
            OutgoingContext(
                traceID: TraceID(high: 0x1baa_d25c_36c1_1c1e, low: 0x7fbd_6d12_2bd8_5db6),
                spanID: SpanID(0xcab7_0b47_728a_8a99), parentSpanID: SpanID(3), sampled: true, debug: false,
                traceState: nil))
        XCTAssertEqual(value, "00-1baad25c36c11c1e7fbd6d122bd85db6-cab70b47728a8a99-01")
    }

    func test_value_notSampled_flags00() throws {
        let value = TraceResponse.value(
            OutgoingContext(
                traceID: TraceID(high: 0, low: 1), spanID: SpanID(2), parentSpanID: SpanID(3),
                sampled: false, debug: false, traceState: nil))
        XCTAssertEqual(Strict.traceparent(value)?.sampled, false)
        XCTAssertEqual(Strict.traceparent(value)?.span, 2)
    }
}
