// swift-tools-version:6.0
// ringproxy: a Redis partitioning proxy on libuv.
//
// The targets are the architecture: RingCore (RESP framing, commands, hashing, ring,
// split/merge) is pure and imports neither libuv nor Foundation; RingConfig reads
// nutcracker-compatible YAML; RingServer is the libuv layer and the data path on top of it;
// ringproxy is the command line.
import PackageDescription

let package = Package(
    name: "ringproxy",
    products: [
        .executable(name: "ringproxy", targets: ["ringproxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .target(name: "RingCore"),
        .target(name: "RingConfig", dependencies: ["RingCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "RingServer", dependencies: ["CLibUV", "RingCore", "RingConfig"]),
        .executableTarget(name: "ringproxy", dependencies: ["RingServer", "RingConfig", "RingCore"]),
        .testTarget(name: "RingCoreTests", dependencies: ["RingCore", "RingConfig"]),
        .testTarget(name: "IntegrationTests", dependencies: ["RingCore", "RingConfig"]),
    ],
    swiftLanguageModes: [.v5]
)
