// swift-tools-version:6.0
import PackageDescription

/// Module graph (dependencies point one way; README "How the code is laid out" says the same):
/// traceproxy -> {Proxy, Reporters, Spans, Propagation, HTTP1, Reactor, TLS, ConfigFile}
/// ConfigFile -> CYAML (the system libyaml, linked statically; the `--config` file's shape only).
/// Proxy -> {TraceView, Reporters, Spans, Propagation, HTTP1, Reactor, TLS, Stats}
/// TraceView -> {Reporters, SpanEncoding, Spans, Propagation, HTTP1, Stats} (the admin page's store and statistics)
/// Reporters -> {SpanEncoding, Spans, Propagation, HTTP1, Reactor, TLS, Gzip, Stats}
/// SpanEncoding -> {Spans, Propagation}; Spans -> {Propagation, HTTP1, Stats}; Reactor -> {CEpoll, Stats};
/// TLS -> {CSSL, Reactor} (CSSL: the system libssl); Gzip -> CZlib.
/// Release builds skip the runtime exclusivity checks: the request path mutates state of
/// loop-confined classes on every event, and the checks (swift_beginAccess/endAccess) showed up
/// in the load profile. Debug builds and the sanitizer runs keep them, so the tests still catch a
/// conflicting access.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "traceproxy",
    products: [
        .executable(name: "traceproxy", targets: ["traceproxy"]),
        .library(name: "TraceproxyCore", targets: ["HTTP1", "Propagation", "Spans", "SpanEncoding"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CEpoll"),
        .target(name: "Stats"),
        .target(name: "HTTP1", swiftSettings: hotPath),
        .target(name: "Propagation", swiftSettings: hotPath),
        .target(name: "Spans", dependencies: ["Propagation", "HTTP1", "Stats"], swiftSettings: hotPath),
        .target(name: "SpanEncoding", dependencies: ["Spans", "Propagation"], swiftSettings: hotPath),
        .target(name: "Reactor", dependencies: ["CEpoll", "Stats"], swiftSettings: hotPath),
        .target(name: "Gzip", dependencies: ["CZlib"]),
        .target(name: "TLS", dependencies: ["CSSL", "Reactor"]),
        .target(
            name: "Reporters",
            dependencies: [
                "SpanEncoding", "Spans", "Propagation", "HTTP1", "Reactor", "TLS", "Gzip", "Stats",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        .target(
            name: "TraceView",
            dependencies: ["Reporters", "SpanEncoding", "Spans", "Propagation", "HTTP1", "Stats"],
            swiftSettings: hotPath
        ),
        .target(
            name: "Proxy",
            dependencies: [
                "TraceView", "Reporters", "Spans", "Propagation", "HTTP1", "Reactor", "TLS", "Stats",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        // No pkgConfig: its `-lyaml` would link the shared library; the header is in /usr/include.
        .systemLibrary(
            name: "CYAML",
            providers: [.apt(["libyaml-dev"])]
        ),
        // libyaml is linked statically (Debian's libyaml-dev ships libyaml.a): the binary and the
        // container image need no runtime package beyond libssl and zlib for a 130 KB parser.
        .target(
            name: "ConfigFile", dependencies: ["CYAML"],
            linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libyaml.a"])]
        ),
        .executableTarget(
            name: "traceproxy",
            dependencies: [
                "Proxy", "Reporters", "Spans", "Propagation", "HTTP1", "Reactor", "TLS", "ConfigFile",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["Reactor", "HTTP1", "Spans", "Propagation", "Stats"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "StatsTests", dependencies: ["Stats"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "PropagationTests", dependencies: ["Propagation"]),
        .testTarget(name: "SpansTests", dependencies: ["Spans", "Propagation", "HTTP1", "Stats"]),
        .testTarget(name: "SpanEncodingTests", dependencies: ["SpanEncoding", "Spans", "Propagation"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "Stats", "TestSupport"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip"]),
        .testTarget(name: "ConfigFileTests", dependencies: ["ConfigFile"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "CSSL", "Reactor", "Stats", "TestSupport"]),
        .testTarget(
            name: "ReportersTests",
            dependencies: ["Reporters", "SpanEncoding", "Spans", "Gzip", "Stats", "TestSupport"]
        ),
        .testTarget(
            name: "TraceViewTests",
            dependencies: ["TraceView", "Reporters", "Spans", "Propagation", "Stats"]
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: [
                "Proxy", "TraceView", "Reporters", "Spans", "Propagation", "HTTP1", "Stats", "TestSupport",
            ]
        ),
    ]
)
