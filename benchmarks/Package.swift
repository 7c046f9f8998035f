// swift-tools-version:6.1
import PackageDescription

/// Micro-benchmarks of traceproxy's hot-path code (parser, propagation codecs, span encoders),
/// run with `swift package benchmark` from this directory. A separate package so the main one
/// does not depend on the benchmark harness.
let package = Package(
    name: "traceproxy-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "traceproxy", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Codecs",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TraceproxyCore", package: "traceproxy"),
            ],
            path: "Benchmarks/Codecs",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
