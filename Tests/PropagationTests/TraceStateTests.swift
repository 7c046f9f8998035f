import Propagation
import XCTest

/// tracestate list grammar, from the W3C Trace Context recommendation, section 3.3.
final class TraceStateTests: XCTestCase {
    func test_normalize_specExamples_keptInOrder() {
        XCTAssertEqual(TraceState.normalize("rojo=00f067aa0ba902b7"), "rojo=00f067aa0ba902b7")
        XCTAssertEqual(
            TraceState.normalize("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        XCTAssertEqual(
            TraceState.normalize("vendorname1=opaqueValue1,vendorname2=opaqueValue2"),
            "vendorname1=opaqueValue1,vendorname2=opaqueValue2")
    }

    func test_normalize_owsAndEmptyMembers_ignored() {
        XCTAssertEqual(TraceState.normalize(" a=1 ,\t, b=2\t,,"), "a=1,b=2")
    }

    func test_normalize_emptyOrWhitespaceOnly_nil() {
        XCTAssertNil(TraceState.normalize(""))
        XCTAssertNil(TraceState.normalize(" , ,"))
    }

    func test_normalize_valueLeadingSpacePreserved() {
        XCTAssertEqual(TraceState.normalize("a= x y"), "a= x y")
    }

    func test_normalize_keyCharacters_perGrammar() {
        XCTAssertEqual(TraceState.normalize("0a_-*/@z=v"), "0a_-*/@z=v")
        for bad in ["Foo=1", "_a=1", "a b=1", "a.b=1", "=1", "a=", "a", "a=b=c", "a=\u{7F}", "a=é"] {
            XCTAssertNil(TraceState.normalize(bad), bad)
        }
    }

    func test_normalize_lengthLimits_256() {
        let key256 = String(repeating: "k", count: 256)
        let value256 = String(repeating: "v", count: 256)
        XCTAssertNotNil(TraceState.normalize("\(key256)=\(value256)"))
        XCTAssertNil(TraceState.normalize("\(key256)k=v"))
        XCTAssertNil(TraceState.normalize("k=\(value256)v"))
    }

    func test_normalize_memberCount_atMost32() {
        let members = (0..<33).map { "k\($0)=v" }
        XCTAssertEqual(
            TraceState.normalize(members.prefix(32).joined(separator: ",")),
            members.prefix(32).joined(separator: ","))
        XCTAssertNil(TraceState.normalize(members.joined(separator: ",")))
    }

    func test_normalize_duplicateKeys_discarded() {
        XCTAssertNil(TraceState.normalize("foo=1,bar=2,foo=3"))
    }

    func test_extract_combinesFieldsAcrossHeadersAndCountsTogether() {
        let a = (0..<20).map { "a\($0)=v" }.joined(separator: ",")
        let b = (0..<13).map { "b\($0)=v" }.joined(separator: ",")
        XCTAssertNil(TraceState.extract(from: TestHeaders([("tracestate", a), ("tracestate", b)])))
        XCTAssertEqual(
            TraceState.extract(from: TestHeaders([("tracestate", "x=1"), ("TraceState", "y=2")])),
            "x=1,y=2")
    }
}
