import XCTest

@testable import SpanEncoding

final class JSONBytesTests: XCTestCase {
    func test_appendDecimal_extremes() {
        for v: Int64 in [0, 9, 10, -1, 1_502_787_600_000_000, Int64.max, Int64.min] {
            var out: [UInt8] = []
            JSONBytes.appendDecimal(v, into: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), String(v))
        }
    }

    func test_appendHex_zeroPaddedLowercase16() {
        for v: UInt64 in [0, 1, 0xabc, 0xFFFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000] {
            var out: [UInt8] = []
            JSONBytes.appendHex(v, into: &out)
            let s = String(v, radix: 16)
            XCTAssertEqual(
                String(decoding: out, as: UTF8.self), String(repeating: "0", count: 16 - s.count) + s)
        }
    }

    func test_appendString_controlQuoteBackslash_escapedOthersVerbatim() {
        var out: [UInt8] = []
        JSONBytes.appendString("\u{0}\u{1F}\"\\\u{7F}é", into: &out)
        XCTAssertEqual(out, Array(#""\u0000\u001f\"\\"#.utf8) + [0x7F, 0xC3, 0xA9, 0x22])
    }
}
