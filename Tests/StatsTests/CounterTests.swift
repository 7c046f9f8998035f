import Stats
import XCTest

final class CounterTests: XCTestCase {
    func test_addSubtractSet_valueFollows() {
        let c = Counter()
        XCTAssertEqual(c.value, 0)
        c.add()
        c.add(4)
        XCTAssertEqual(c.value, 5)
        c.subtract(2)
        XCTAssertEqual(c.value, 3)
        c.set(42)
        XCTAssertEqual(c.value, 42)
    }

    func test_gaugeBelowZero_isNegative() {
        let c = Counter()
        c.subtract()
        XCTAssertEqual(c.value, -1)
    }
}
