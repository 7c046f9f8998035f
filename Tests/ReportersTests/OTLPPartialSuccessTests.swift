import XCTest

@testable import Reporters

/// `ExportTraceServiceResponse.partial_success`, protobuf bytes written from trace_service.proto's
/// field numbers by hand, and the OTLP/JSON form.
final class OTLPPartialSuccessTests: XCTestCase {
    func test_protobuf_rejectedAndMessage() {
        // partial_success (1) { rejected_spans (1) = 3, error_message (2) = "bad" }
        let body: [UInt8] = [0x0A, 0x07, 0x08, 0x03, 0x12, 0x03] + Array("bad".utf8)
        XCTAssertEqual(
            OTLPPartialSuccess.decode(body, json: false), OTLPPartialSuccess(rejectedSpans: 3, errorMessage: "bad"))
    }

    func test_protobuf_emptyOrAbsent_isFullSuccess() {
        XCTAssertNil(OTLPPartialSuccess.decode([], json: false))
        XCTAssertNil(OTLPPartialSuccess.decode([0x0A, 0x00], json: false), "an empty partial_success")
        XCTAssertNil(OTLPPartialSuccess.decode([0xFF, 0xFF], json: false), "garbage is not a rejection")
    }

    func test_json_stringOrNumber() {
        let a = Array(#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}}"#.utf8)
        XCTAssertEqual(
            OTLPPartialSuccess.decode(a, json: true), OTLPPartialSuccess(rejectedSpans: 2, errorMessage: "too old"))
        let b = Array(#"{"partialSuccess":{"rejectedSpans":5}}"#.utf8)
        XCTAssertEqual(OTLPPartialSuccess.decode(b, json: true)?.rejectedSpans, 5)
        XCTAssertNil(OTLPPartialSuccess.decode(Array("{}".utf8), json: true))
    }
}
