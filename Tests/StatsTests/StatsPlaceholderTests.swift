import XCTest

final class StatsPlaceholderTests: XCTestCase {
    func test_placeholder() {}
}
