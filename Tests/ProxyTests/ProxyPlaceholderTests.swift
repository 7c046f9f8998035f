import XCTest

final class ProxyPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
