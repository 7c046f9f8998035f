import Reactor
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class ByteBufferTests: XCTestCase {
    private func readable(_ b: ByteBuffer) -> [UInt8] { b.withReadableBytes { Array($0) } }

    func test_appendConsume_readableBytesFollow() {
        var b = ByteBuffer()
        b.append(Array("hello world".utf8))
        b.consume(6)
        XCTAssertEqual(readable(b), Array("world".utf8))
        b.append(Array("!".utf8))
        XCTAssertEqual(readable(b), Array("world!".utf8))
        b.consume(6)
        XCTAssertTrue(b.isEmpty)
        XCTAssertEqual(b.readerIndex, 0, "fully read buffer rewinds")
    }

    func test_reserve_compactsBeforeGrowing_keepingBytes() {
        var b = ByteBuffer(capacity: 16)
        b.append(Array("0123456789abcdef".utf8))
        b.consume(10)
        b.append(Array("XYZ".utf8))
        XCTAssertEqual(readable(b), Array("abcdefXYZ".utf8))
        XCTAssertEqual(b.storage.count, 16, "compaction made room without growing")
        let big = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
        b.append(big)
        XCTAssertEqual(readable(b), Array("abcdefXYZ".utf8) + big)
    }

    func test_readWrite_overSocketPair_roundTrip() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        var out = ByteBuffer()
        out.append(Array("payload".utf8))
        XCTAssertEqual(out.write(to: fds[0]), .bytes(7))
        XCTAssertTrue(out.isEmpty)
        var input = ByteBuffer()
        XCTAssertEqual(input.read(from: fds[1]), .bytes(7))
        XCTAssertEqual(readable(input), Array("payload".utf8))
        XCTAssertEqual(input.read(from: fds[1]), .wouldBlock)
        close(fds[0])
        fds[0] = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertEqual(input.read(from: fds[1]), .eof)
    }

    func test_release_dropsStorage() {
        var b = ByteBuffer()
        b.append([1, 2, 3])
        b.release()
        XCTAssertTrue(b.isEmpty)
        XCTAssertEqual(b.storage.count, 0)
    }
}
