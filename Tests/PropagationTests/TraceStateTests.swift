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

    /// More than 32 members: the right-most go ("the right-most list-member should be removed").
    func test_normalize_memberCount_first32Kept() {
        let members = (0..<40).map { "k\($0)=v" }
        XCTAssertEqual(
            TraceState.normalize(members.prefix(32).joined(separator: ",")),
            members.prefix(32).joined(separator: ","))
        XCTAssertEqual(
            TraceState.normalize(members.joined(separator: ",")), members.prefix(32).joined(separator: ","))
    }

    /// A repeated key keeps its first (left-most, most recent) member; the list is still passed on.
    func test_normalize_duplicateKeys_firstKept() {
        XCTAssertEqual(TraceState.normalize("foo=1,bar=2,foo=3"), "foo=1,bar=2")
        XCTAssertEqual(TraceState.normalize("a=1, a=1 ,b=2,b=3,a=4"), "a=1,b=2")
        XCTAssertEqual(TraceState.normalize("a@x=1,a=2,a@x=3"), "a@x=1,a=2", "keys compare whole")
    }

    /// An invalid member is left out alone ("Invalid tracestate entries MAY also be discarded"),
    /// the valid ones keep their order.
    func test_normalize_invalidMembers_droppedAlone() {
        let key257 = String(repeating: "k", count: 257)
        let value257 = String(repeating: "v", count: 257)
        XCTAssertEqual(
            TraceState.normalize("a=1,Foo=2,b=2,c,=3,\(key257)=4,d=\(value257),e=x=y,f=ok"), "a=1,b=2,f=ok")
        XCTAssertEqual(TraceState.normalize("a=\u{7F},b=é,c=1"), "c=1")
        XCTAssertNil(TraceState.normalize("Foo=1,bar"), "no valid member: no tracestate")
    }

    /// Invalid and duplicate members do not count toward the 32.
    func test_normalize_invalidAndDuplicates_notCounted() {
        let valid = (0..<32).map { "k\($0)=v" }
        let noisy = ["X=1", valid[0], "k0=again"] + valid.dropFirst() + ["k32=v"]
        XCTAssertEqual(TraceState.normalize(noisy.joined(separator: ",")), valid.joined(separator: ","))
    }

    func test_extract_combinesFieldsAcrossHeadersAndCountsTogether() {
        let a = (0..<20).map { "a\($0)=v" }
        let b = (0..<13).map { "b\($0)=v" }
        XCTAssertEqual(
            TraceState.extract(
                from: TestHeaders([("tracestate", a.joined(separator: ",")), ("tracestate", b.joined(separator: ","))])),
            (a + b).prefix(32).joined(separator: ","))
        XCTAssertEqual(
            TraceState.extract(from: TestHeaders([("tracestate", "x=1"), ("TraceState", "y=2")])),
            "x=1,y=2")
        XCTAssertEqual(
            TraceState.extract(from: TestHeaders([("tracestate", "x=1,y=2"), ("tracestate", "x=3,z=4")])),
            "x=1,y=2,z=4", "a key repeated in a later field")
    }
}
