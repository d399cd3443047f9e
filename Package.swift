// swift-tools-version:6.0
// ringproxy: a Redis partitioning proxy on libuv.
//
// The targets are the architecture: RingCore (RESP framing, commands, hashing, ring,
// split/merge) is pure and imports neither libuv nor Foundation; RingConfig reads
// nutcracker-compatible YAML through libyaml (CYAML), so no Foundation is linked at all;
// RingServer is the libuv layer and the data path on top of it; ringproxy is the command line.
import PackageDescription

// The request path's modules drop Swift's run-time exclusivity checks in release builds:
// profiling showed them (swift_beginAccess and its thread-local access set) at about a
// fifth of the proxy's CPU per request. Debug builds, which run the unit tests and the
// sanitizer builds, keep them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "ringproxy",
    products: [
        .executable(name: "ringproxy", targets: ["ringproxy"]),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "RingCore", swiftSettings: hotPath),
        .target(name: "RingConfig", dependencies: ["CYAML", "RingCore"]),
        .target(name: "RingServer", dependencies: ["CLibUV", "RingCore", "RingConfig"], swiftSettings: hotPath),
        .executableTarget(name: "ringproxy", dependencies: ["RingServer", "RingConfig", "RingCore"]),
        // The fuzz checks over RingCore; a library so RingCoreTests can replay what the fuzzer found.
        .target(name: "RingFuzzHarness", dependencies: ["RingCore"]),
        .testTarget(name: "RingCoreTests", dependencies: ["RingCore", "RingFuzzHarness"]),
        .testTarget(name: "RingConfigTests", dependencies: ["RingConfig", "RingCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["RingCore", "RingConfig"]),
    ],
    swiftLanguageModes: [.v5]
)

// The libFuzzer target (`make fuzz`): built with -Xswiftc -sanitize=fuzzer,address, it runs
// libFuzzer's driver (RingFuzzMain) instead of a main of its own. Without those flags it
// cannot link, so it is only declared when RINGPROXY_FUZZ=1 and a plain build is unchanged.
if Context.environment["RINGPROXY_FUZZ"] == "1" {
    package.targets += [
        .target(name: "RingFuzzMain"),
        .executableTarget(name: "RingFuzz", dependencies: ["RingFuzzHarness", "RingFuzzMain"],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
}
