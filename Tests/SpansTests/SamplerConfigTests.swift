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

    func test_parse_invalid_throwsWithExpectedForms() {
        for input in [
            "const:2", "const", "const:true", "probabilistic:1.5", "probabilistic:-0.1", "probabilistic:abc",
            "probabilistic:nan", "probabilistic:0x1p-2", "ratelimiting:-1", "ratelimiting:inf", "remote:1", "",
        ] {
            XCTAssertThrowsError(try SamplerConfig.parse(input), input) { error in
                XCTAssertEqual(error as? SamplerConfigError, SamplerConfigError(.spec, SamplerConfig.expectedForms))
            }
        }
    }

    func test_description_isTheParsedSpelling() throws {
        for text in ["const:1", "const:0", "probabilistic:0.25", "ratelimiting:5.0"] {
            XCTAssertEqual(try SamplerConfig.parse(text).description, text)
        }
    }

    func test_fromJaegerEnv_typesAndParams() throws {
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "const", param: "1"), .const(true))
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "const", param: "0"), .const(false))
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "CONST", param: "2"), .const(true))
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "probabilistic", param: "0.1"), .probabilistic(0.1))
        XCTAssertEqual(try SamplerConfig.fromJaegerEnv(type: "ratelimiting", param: "2"), .rateLimiting(2))
    }

    /// The error says which of the two variables to fix.
    func test_fromJaegerEnv_invalid_namesThePart() {
        let cases: [(String, String, SamplerConfigError.Part)] = [
            ("remote", "0.5", .jaegerType), ("bogus", "1", .jaegerType), ("const", "", .jaegerParam),
            ("const", "yes", .jaegerParam), ("probabilistic", "2", .jaegerParam), ("ratelimiting", "-1", .jaegerParam),
        ]
        for (type, param, part) in cases {
            XCTAssertThrowsError(try SamplerConfig.fromJaegerEnv(type: type, param: param)) { error in
                XCTAssertEqual((error as? SamplerConfigError)?.part, part, "\(type) \(param)")
            }
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
