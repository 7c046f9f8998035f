import XCTest

@testable import SpanEncoding

/// Expected bytes are worked out by hand from the compact protocol spec
/// (apache/thrift doc/specs/thrift-compact-protocol.md), not produced by the writer.
final class ThriftCompactWriterTests: XCTestCase {
    private func bytes(_ body: (inout ThriftCompactWriter) -> Void) -> [UInt8] {
        var w = ThriftCompactWriter()
        body(&w)
        return w.bytes
    }

    func test_messageBegin_onewayEmitBatch_protocolIdVersionTypeSeqidName() {
        let out = bytes { $0.writeMessageBegin(name: "emitBatch", type: .oneway, seqID: 0) }
        // 0x82; (4 << 5) | 1 = 0x81; seqid 0; name length 9
        XCTAssertEqual(out, [0x82, 0x81, 0x00, 0x09] + Array("emitBatch".utf8))
    }

    func test_messageBegin_callWithLargeSeqid_varintSeqid() {
        let out = bytes { $0.writeMessageBegin(name: "m", type: .call, seqID: 300) }
        // (1 << 5) | 1 = 0x21; 300 = 0b10_0101100 -> 0xAC 0x02
        XCTAssertEqual(out, [0x82, 0x21, 0xAC, 0x02, 0x01, UInt8(ascii: "m")])
    }

    func test_messageBegin_negativeSeqid_unsignedVarintOf32Bits() {
        let out = bytes { $0.writeMessageBegin(name: "", type: .call, seqID: -1) }
        XCTAssertEqual(out, [0x82, 0x21, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00])
    }

    func test_fieldHeader_smallDeltas_shortForm() {
        let out = bytes { w in
            w.writeStructBegin()
            w.writeI32Field(id: 1, 1)  // delta 1, type 5 -> 0x15; zigzag(1) = 2
            w.writeI64Field(id: 3, -1)  // delta 2, type 6 -> 0x26; zigzag(-1) = 1
            w.writeI64Field(id: 18, 0)  // delta 15 is still short form -> 0xF6
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x15, 0x02, 0x26, 0x01, 0xF6, 0x00, 0x00])
    }

    func test_fieldHeader_deltaAbove15_longForm() {
        let out = bytes { w in
            w.writeStructBegin()
            w.writeI32Field(id: 16, 0)  // delta 16: type byte 0x05, then zigzag i16 16 = 32
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x05, 0x20, 0x00, 0x00])
    }

    func test_fieldHeader_decreasingId_longForm() {
        let out = bytes { w in
            w.writeStructBegin()
            w.writeI32Field(id: 5, 7)  // 0x55, zigzag(7) = 14
            w.writeI32Field(id: 2, 7)  // delta -3: 0x05, zigzag(2) = 4, then the value
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x55, 0x0E, 0x05, 0x04, 0x0E, 0x00])
    }

    func test_nestedStruct_end_restoresOuterLastFieldId() {
        let out = bytes { w in
            w.writeStructBegin()
            w.writeFieldBegin(id: 1, type: .struct)  // 0x1C
            w.writeStructBegin()
            w.writeI32Field(id: 7, 0)  // inner deltas start from 0: 0x75
            w.writeStructEnd()
            w.writeI32Field(id: 2, 0)  // outer delta 2 - 1 = 1: 0x15 (not the long form from 7)
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x1C, 0x75, 0x00, 0x00, 0x15, 0x00, 0x00])
    }

    func test_boolField_valueInTypeNibble_noPayload() {
        let out = bytes { w in
            w.writeStructBegin()
            w.writeBoolField(id: 1, true)  // type BOOLEAN_TRUE 1
            w.writeBoolField(id: 2, false)  // type BOOLEAN_FALSE 2
            w.writeBoolField(id: 4, true)
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x11, 0x12, 0x21, 0x00])
    }

    func test_byteField_oneRawByte() {
        let out = bytes { w in
            w.writeStructBegin()
            w.writeByteField(id: 1, -1)
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x13, 0xFF, 0x00])
    }

    func test_i16_zigzagVarint() {
        XCTAssertEqual(bytes { $0.writeI16(-64) }, [0x7F])  // zigzag 127
        XCTAssertEqual(bytes { $0.writeI16(64) }, [0x80, 0x01])  // zigzag 128
        XCTAssertEqual(bytes { $0.writeI16(Int16.min) }, [0xFF, 0xFF, 0x03])  // zigzag 65535
    }

    func test_i32_extremes_fiveByteVarint() {
        XCTAssertEqual(bytes { $0.writeI32(Int32.min) }, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        XCTAssertEqual(bytes { $0.writeI32(Int32.max) }, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F])
    }

    func test_i64_extremes_tenByteVarint() {
        let nines = [UInt8](repeating: 0xFF, count: 9)
        XCTAssertEqual(bytes { $0.writeI64(Int64.min) }, nines + [0x01])
        XCTAssertEqual(bytes { $0.writeI64(Int64.max) }, [0xFE] + nines.dropFirst() + [0x01])
        XCTAssertEqual(bytes { $0.writeI64(0) }, [0x00])
        XCTAssertEqual(bytes { $0.writeI64(150) }, [0xAC, 0x02])  // zigzag 300
    }

    func test_double_littleEndianIEEE754() {
        // 1.0 = 0x3FF0_0000_0000_0000; -2.5 = 0xC004_0000_0000_0000
        XCTAssertEqual(bytes { $0.writeDouble(1.0) }, [0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        XCTAssertEqual(bytes { $0.writeDouble(-2.5) }, [0, 0, 0, 0, 0, 0, 0x04, 0xC0])
        let out = bytes { w in
            w.writeStructBegin()
            w.writeDoubleField(id: 4, 1.0)
            w.writeStructEnd()
        }
        XCTAssertEqual(out, [0x47, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x00])
    }

    func test_string_varintLengthThenUTF8Bytes() {
        XCTAssertEqual(bytes { $0.writeString("héllo") }, [0x06, 0x68, 0xC3, 0xA9, 0x6C, 0x6C, 0x6F])
        XCTAssertEqual(bytes { $0.writeString("") }, [0x00])
        let long = String(repeating: "a", count: 200)
        XCTAssertEqual(bytes { $0.writeString(long) }, [0xC8, 0x01] + Array(long.utf8))
        XCTAssertEqual(bytes { $0.writeBinary([0x00, 0xFF]) }, [0x02, 0x00, 0xFF])
    }

    func test_listHeader_below15_sizeInHighNibble() {
        XCTAssertEqual(bytes { $0.writeListBegin(elementType: .i32, count: 3) }, [0x35])
        XCTAssertEqual(bytes { $0.writeListBegin(elementType: .struct, count: 0) }, [0x0C])
        XCTAssertEqual(bytes { $0.writeListBegin(elementType: .struct, count: 14) }, [0xEC])
    }

    func test_listHeader_15OrMore_longFormWithVarintSize() {
        XCTAssertEqual(bytes { $0.writeListBegin(elementType: .struct, count: 15) }, [0xFC, 0x0F])
        XCTAssertEqual(
            bytes { $0.writeListBegin(elementType: .binary, count: 200) }, [0xF8, 0xC8, 0x01])
        XCTAssertEqual(ThriftCompactWriter.listHeaderSize(count: 14), 1)
        XCTAssertEqual(ThriftCompactWriter.listHeaderSize(count: 15), 2)
        XCTAssertEqual(ThriftCompactWriter.listHeaderSize(count: 128), 3)
    }

    func test_boolListElements_oneForTrueTwoForFalse() {
        let out = bytes { w in
            w.writeListBegin(elementType: ThriftCompactType.boolElement, count: 2)
            w.writeBool(true)
            w.writeBool(false)
        }
        XCTAssertEqual(out, [0x21, 0x01, 0x02])
    }

    func test_removeAll_resetsFieldIdTracking() {
        var w = ThriftCompactWriter()
        w.writeStructBegin()
        w.writeI32Field(id: 9, 0)
        w.removeAll()
        w.writeStructBegin()
        w.writeI32Field(id: 1, 0)
        XCTAssertEqual(w.bytes, [0x15, 0x00])
    }
}
