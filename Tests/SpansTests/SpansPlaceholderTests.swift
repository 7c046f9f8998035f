import XCTest

final class SpansPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
