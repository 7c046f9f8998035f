import Stats
import XCTest

final class LogThrottleTests: XCTestCase {
    func test_admit_withinInterval_suppressesAndCounts() {
        var t = LogThrottle(intervalMs: 1000)
        XCTAssertEqual(t.admit(nowMs: 0), 0)
        XCTAssertNil(t.admit(nowMs: 10))
        XCTAssertNil(t.admit(nowMs: 999))
        XCTAssertEqual(t.admit(nowMs: 1000), 2, "the two held back are reported with the next line")
        XCTAssertNil(t.admit(nowMs: 1500))
        XCTAssertEqual(t.admit(nowMs: 5000), 1)
        XCTAssertEqual(t.admit(nowMs: 6000), 0)
    }
}
