import Propagation
import Spans
import XCTest

final class SamplerConfigTests: XCTestCase {
    func test_parse_validForms() throws {
        XCTAssertEqual(try SamplerConfig.parse("const:1"), .const(true))
        XCTAssertEqual(try SamplerConfig.parse("const:0"), .const(false))
        XCTAssertEqual(try SamplerConfig.parse("probabilistic:0.25"), .probabilistic(0.25))
        XCTAssertEqual(try SamplerConfig.parse("probabilistic:1"), .probabilistic(1))
        XCTAssertEqual(try SamplerConfig.parse("ratelimiting:5"), .rateLimiting(5))
        XCTAssertEqual(try SamplerConfig.parse("ratelimiting:0.5"), .rateLimiting(0.5))
    }

    func test_parse_invalid_throwsNamingValue() {
        let cases = [
            ("const:2", "'2'"), ("const", "'const'"), ("probabilistic:1.5", "'1.5'"),
            ("probabilistic:-0.1", "'-0.1'"), ("probabilistic:abc", "'abc'"),
            ("probabilistic:nan", "'nan'"),
            ("ratelimiting:-1", "'-1'"), ("ratelimiting:inf", "'inf'"), ("remote:1", "'remote'"),
            ("", "''"),
        ]
        for (input, named) in cases {
            XCTAssertThrowsError(try SamplerConfig.parse(input), input) { error in
                XCTAssertTrue("\(error)".contains(named), "\(input): \(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
    }

    func test_fromJaegerEnv_typesAndParams() throws {
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "const", param: "1"), .const(true))
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "const", param: "0"), .const(false))
        XCTAssertEqual(
            try SamplerConfig.fromJaegerEnv(type: "probabilistic", param: "0.1"),
            .probabilistic(0.1))
        XCTAssertEqual(
            try SamplerConfig.fromJaegerEnv(type: "ratelimiting", param: "2"), .rateLimiting(2))
        XCTAssertEqual(
            try SamplerConfig.fromJaegerEnv(type: "remote", param: nil), .probabilistic(0.001))
        XCTAssertEqual(
            try SamplerConfig.fromJaegerEnv(type: "remote", param: "0.5"), .probabilistic(0.5))
        XCTAssertThrowsError(try SamplerConfig.fromJaegerEnv(type: "const", param: nil))
        XCTAssertThrowsError(try SamplerConfig.fromJaegerEnv(type: "bogus", param: "1")) { error in
            XCTAssertTrue("\(error)".contains("'bogus'"))
        }
    }

    func test_makeSampler_behavesAsConfigured() {
        let id = TraceID(high: 0, low: 1)
        XCTAssertTrue(SamplerConfig.const(true).makeSampler().shouldSample(traceID: id))
        XCTAssertFalse(SamplerConfig.const(false).makeSampler().shouldSample(traceID: id))
        XCTAssertFalse(SamplerConfig.probabilistic(0).makeSampler().shouldSample(traceID: id))
        XCTAssertTrue(SamplerConfig.probabilistic(1).makeSampler().shouldSample(traceID: id))
        let limited = SamplerConfig.rateLimiting(2).makeSampler()
        XCTAssertEqual((0..<5).filter { _ in limited.shouldSample(traceID: id) }.count, 2)
    }
}
