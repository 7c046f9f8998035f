import XCTest

final class PropagationPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
