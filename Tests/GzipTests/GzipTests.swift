import Foundation
import Gzip
import XCTest

final class GzipTests: XCTestCase {
    /// Runs `/bin/gzip` (an independent implementation) with `arguments` over `input`.
    private func runGzipTool(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // Write on another thread: a large input would otherwise fill both pipes and deadlock.
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "gzip \(arguments) failed")
        return [UInt8](output)
    }

    private func sampleJSON(count: Int) -> [UInt8] {
        var text = "["
        for i in 0..<count {
            if i > 0 { text += "," }
            text += #"{"traceId":"\#(String(i, radix: 16))","name":"get /items","kind":"SERVER"}"#
        }
        return Array((text + "]").utf8)
    }

    func test_compress_thenDecompress_roundTrips() {
        let input = sampleJSON(count: 500)
        let compressed = Gzip.compress(input)
        XCTAssertLessThan(compressed.count, input.count / 3)
        XCTAssertEqual(Gzip.decompress(compressed), input)
    }

    func test_compress_emptyInput_roundTrips() {
        let compressed = Gzip.compress([])
        XCTAssertEqual(Array(compressed.prefix(2)), [0x1f, 0x8b])
        XCTAssertEqual(Gzip.decompress(compressed), [])
    }

    func test_compress_incompressibleInput_roundTrips() {
        // The default generator, not a local SystemRandomNumberGenerator passed inout: TSan
        // crashes on that (swiftlang/swift#66099).
        let input = (0..<200_000).map { _ in UInt8.random(in: 0...255) }
        XCTAssertEqual(Gzip.decompress(Gzip.compress(input, level: 9)), input)
    }

    /// RFC 1952 section 2.3: ID1 0x1f, ID2 0x8b, CM 8 (deflate).
    func test_compress_output_hasGzipMagicAndDeflateMethod() {
        let compressed = Gzip.compress(Array("hello".utf8))
        XCTAssertEqual(Array(compressed.prefix(3)), [0x1f, 0x8b, 0x08])
    }

    func test_compress_output_isReadableByGzipTool() throws {
        let input = sampleJSON(count: 300)
        XCTAssertEqual(try runGzipTool(["-dc"], input: Gzip.compress(input)), input)
    }

    func test_decompress_gzipToolOutput_returnsOriginal() throws {
        let input = sampleJSON(count: 300)
        let fromTool = try runGzipTool(["-c", "-9"], input: input)
        XCTAssertEqual(Gzip.decompress(fromTool), input)
    }

    func test_decompress_truncatedStream_returnsNil() {
        let compressed = Gzip.compress(sampleJSON(count: 100))
        XCTAssertNil(Gzip.decompress(Array(compressed.dropLast(10))))
    }

    func test_decompress_garbage_returnsNil() {
        XCTAssertNil(Gzip.decompress(Array("not gzip at all".utf8)))
    }

    func test_decompress_outputBeyondLimit_returnsNil() {
        let input = [UInt8](repeating: 0x61, count: 1 << 20)
        let compressed = Gzip.compress(input)
        XCTAssertNil(Gzip.decompress(compressed, maxOutputBytes: 1000))
        XCTAssertEqual(Gzip.decompress(compressed, maxOutputBytes: 1 << 20), input)
    }
}
