import XCTest

final class ReactorPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
