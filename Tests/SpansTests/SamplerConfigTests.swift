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
        for text in [
            "const:1", "const:0", "probabilistic:0.25", "ratelimiting:5.0", "always_on", "always_off",
            "traceidratio:0.25",
        ] {
            XCTAssertEqual(try SamplerConfig.parse(text).description, text)
        }
    }

    /// OpenTelemetry's names in `--sampler`: the three that ignore the caller are new samplers,
    /// the three `parentbased_*` are the Jaeger spellings the proxy always had.
    func test_parse_openTelemetryNames() throws {
        XCTAssertEqual(try SamplerConfig.parse("always_on"), .alwaysOn)
        XCTAssertEqual(try SamplerConfig.parse("ALWAYS_OFF"), .alwaysOff)
        XCTAssertEqual(try SamplerConfig.parse("traceidratio:0.1"), .traceIDRatio(0.1))
        XCTAssertEqual(try SamplerConfig.parse("parentbased_always_on"), .const(true))
        XCTAssertEqual(try SamplerConfig.parse("parentbased_always_off"), .const(false))
        XCTAssertEqual(try SamplerConfig.parse("parentbased_traceidratio:0.1"), .probabilistic(0.1))
        XCTAssertFalse(try SamplerConfig.parse("always_on").parentBased)
        XCTAssertFalse(try SamplerConfig.parse("traceidratio:1").parentBased)
        XCTAssertTrue(try SamplerConfig.parse("parentbased_always_on").parentBased)
        XCTAssertEqual(try SamplerConfig.parse("parentbased_traceidratio:0.5").description, "probabilistic:0.5")
    }

    func test_parse_openTelemetryNames_invalid_throws() {
        for input in [
            "always_on:1", "always", "traceidratio", "traceidratio:", "traceidratio:1.5", "parentbased_traceidratio",
            "parentbased_traceidratio:-1", "parentbased_always_on:0", "parentbased_ratelimiting:5", "jaeger_remote",
        ] {
            XCTAssertThrowsError(try SamplerConfig.parse(input), input) { error in
                XCTAssertEqual(error as? SamplerConfigError, SamplerConfigError(.spec, SamplerConfig.expectedForms))
            }
        }
    }

    /// Every `OTEL_TRACES_SAMPLER` value; the argument only for the ratio samplers, 1.0 when unset.
    func test_fromOTelEnv_everySampler() throws {
        let cases: [(String, String?, SamplerConfig)] = [
            ("always_on", nil, .alwaysOn), ("always_off", nil, .alwaysOff),
            ("traceidratio", "0.25", .traceIDRatio(0.25)), ("traceidratio", nil, .traceIDRatio(1)),
            ("parentbased_always_on", nil, .const(true)), ("parentbased_always_off", nil, .const(false)),
            ("parentbased_traceidratio", "0.5", .probabilistic(0.5)),
            ("parentbased_traceidratio", nil, .probabilistic(1)),
            ("Always_On", "0.5", .alwaysOn), ("parentbased_always_off", "junk", .const(false)),
        ]
        for (name, arg, want) in cases {
            XCTAssertEqual(try SamplerConfig.fromOTelEnv(sampler: name, arg: arg), want, "\(name) \(arg ?? "-")")
        }
    }

    /// The error says which of the two variables to fix, and why remote samplers are refused.
    func test_fromOTelEnv_invalid_namesTheVariable() {
        let cases: [(String, String?, Bool)] = [
            ("traceidratio", "1.5", true), ("traceidratio", "abc", true), ("parentbased_traceidratio", "-0.1", true),
            ("parentbased_traceidratio", "nan", true), ("bogus", "0.5", false), ("const", "1", false),
        ]
        for (name, arg, inArgument) in cases {
            XCTAssertThrowsError(try SamplerConfig.fromOTelEnv(sampler: name, arg: arg)) { error in
                XCTAssertEqual((error as? OTelSamplerError)?.inArgument, inArgument, "\(name) \(arg ?? "-")")
            }
        }
        for remote in ["jaeger_remote", "parentbased_jaeger_remote", "xray"] {
            XCTAssertThrowsError(try SamplerConfig.fromOTelEnv(sampler: remote, arg: nil)) { error in
                XCTAssertTrue("\(error)".contains("remote sampling is not supported"), "\(error)")
            }
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
