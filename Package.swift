// swift-tools-version:6.1
// Tandem: a Linux dataplane packet forwarder. See README.md and docs/.
import PackageDescription

let strictSwift: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Tandem",
    products: [
        .executable(name: "tandem", targets: ["tandem"]),
        .library(name: "TandemPacket", targets: ["TandemPacket"]),
        .library(name: "TandemLPM", targets: ["TandemLPM"]),
        .library(name: "TandemDatasets", targets: ["TandemDatasets"]),
        .library(name: "TandemRouting", targets: ["TandemRouting"]),
        .library(name: "TandemConfig", targets: ["TandemConfig"]),
        .library(name: "TandemDataplane", targets: ["TandemDataplane"]),
        .library(name: "TandemPcap", targets: ["TandemPcap"]),
        .library(name: "TandemLinux", targets: ["TandemLinux"]),
        .library(name: "TandemDaemon", targets: ["TandemDaemon"]),
        .library(name: "TandemJSON", targets: ["TandemJSON"]),
        .library(name: "TandemControl", targets: ["TandemControl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Pure modules: no OS networking calls, testable anywhere.
        .target(name: "TandemPacket", swiftSettings: strictSwift),
        // JSON as Tandem writes it: the event log's lines, the control socket's answers, the replay report.
        .target(name: "TandemJSON", swiftSettings: strictSwift),
        .target(name: "TandemLPM", dependencies: ["TandemPacket", "CTandemBits"], swiftSettings: strictSwift),
        // The RIB, next-hop groups, ECMP, tunnel pairs and their health state machines, the FIB.
        .target(name: "TandemRouting", dependencies: ["TandemPacket", "TandemLPM"], swiftSettings: strictSwift),
        // The YAML configuration and its validation; what it makes: the router, the pipeline's settings.
        .target(
            name: "TandemConfig",
            dependencies: [
                "TandemRouting", "TandemDataplane", "TandemPacket", .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift),
        // The batch packet pipeline: validation, TTL, decisions, ICMP errors, fragmentation, counters.
        .target(
            name: "TandemDataplane", dependencies: ["TandemRouting", "TandemPacket", "TandemLPM"],
            swiftSettings: strictSwift),
        // Reading and writing capture files (libpcap), the replay harness.
        .target(
            name: "TandemPcap",
            dependencies: [
                "TandemDataplane", "TandemRouting", "TandemPacket", "TandemJSON", "CPcap",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSwift),
        // Linux: rtnetlink over libmnl, network namespaces, TUN devices, epoll, signals, capabilities.
        .target(
            name: "TandemLinux",
            dependencies: ["TandemDataplane", "TandemPacket", "CMnl", "CTandemLinux"],
            swiftSettings: strictSwift),
        // The control protocol of `tandem run`: request lines, answers, where the socket is (`show` and `lookup`).
        .target(name: "TandemControl", dependencies: ["TandemPacket"], swiftSettings: strictSwift),
        // `tandem run`: the gateway on a router (TUN devices, kernel rules and routes, learning, pipeline threads).
        .target(
            name: "TandemDaemon",
            dependencies: [
                "TandemConfig", "TandemControl", "TandemDataplane", "TandemLinux", "TandemRouting", "TandemPacket",
                "TandemJSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSwift),
        // Tests of the daemon without root: an in-memory kernel behind the daemon's KernelPort.
        .target(
            name: "TandemKernelFake", dependencies: ["TandemDaemon", "TandemLinux", "TandemRouting", "TandemPacket"],
            swiftSettings: strictSwift),
        // Route tables and update traces from files (gzip through zlib) or generated.
        .target(name: "TandemDatasets", dependencies: ["TandemPacket", "CZlib"], swiftSettings: strictSwift),

        // System libraries, installed by tools/test and tools/demo with apt-get.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        // Linux calls and constants Swift cannot import alone (behind _GNU_SOURCE, TUN ioctls, epoll).
        .target(name: "CTandemLinux"),
        // POPCNT for the LPM tables' ranks without building the package for a newer CPU (an unsafe flag).
        .target(name: "CTandemBits"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .executableTarget(
            name: "tandem",
            dependencies: [
                "TandemPacket", "TandemLPM", "TandemDatasets", "TandemRouting", "TandemConfig", "TandemDataplane",
                "TandemPcap", "TandemLinux", "TandemControl", "TandemDaemon", "CPcap", "CMnl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSwift
        ),

        .testTarget(name: "TandemPacketTests", dependencies: ["TandemPacket"], swiftSettings: strictSwift),
        .testTarget(name: "TandemJSONTests", dependencies: ["TandemJSON"], swiftSettings: strictSwift),
        .testTarget(
            name: "TandemControlTests", dependencies: ["TandemControl", "TandemPacket"], swiftSettings: strictSwift),
        .testTarget(
            name: "TandemLPMTests", dependencies: ["TandemLPM", "TandemPacket", "TandemDatasets"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "TandemDatasetsTests", dependencies: ["TandemDatasets", "TandemPacket"], swiftSettings: strictSwift),
        .testTarget(
            name: "TandemRoutingTests", dependencies: ["TandemRouting", "TandemPacket", "TandemLPM", "TandemDatasets"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "TandemConfigTests", dependencies: ["TandemConfig", "TandemRouting", "TandemPacket"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "TandemDataplaneTests",
            dependencies: ["TandemDataplane", "TandemRouting", "TandemPacket", "TandemDatasets"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "TandemPcapTests",
            dependencies: ["TandemPcap", "TandemDataplane", "TandemRouting", "TandemDatasets", "TandemPacket", "CPcap"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "TandemLinuxTests", dependencies: ["TandemLinux", "TandemPacket", "CMnl"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "TandemDaemonTests",
            dependencies: [
                "TandemDaemon", "TandemConfig", "TandemLinux", "TandemRouting", "TandemPacket", "TandemDataplane",
                "TandemControl", "TandemJSON", "TandemKernelFake", "TandemDatasets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSwift),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CPcap", "CMnl"], swiftSettings: strictSwift),
    ]
)
