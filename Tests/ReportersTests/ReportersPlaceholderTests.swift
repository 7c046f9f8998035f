import XCTest

final class ReportersPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
