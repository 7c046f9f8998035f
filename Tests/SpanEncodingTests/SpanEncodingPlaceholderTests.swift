import XCTest

final class SpanEncodingPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
