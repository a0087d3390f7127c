// swift-tools-version:6.1
// Tandem's speed figures (package-benchmark). A package of its own, so that the main package
// does not depend on the benchmark framework; it uses the main package by path.
//
//   cd Benchmarks && swift package --disable-sandbox benchmark --target LPMBenchmarks
//   cd Benchmarks && swift package --disable-sandbox benchmark --target RoutingBenchmarks
import PackageDescription

let package = Package(
    name: "TandemBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Tandem", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LPMBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TandemLPM", package: "Tandem"),
                .product(name: "TandemPacket", package: "Tandem"),
                .product(name: "TandemDatasets", package: "Tandem"),
            ],
            path: "Benchmarks/LPMBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RoutingBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TandemRouting", package: "Tandem"),
                .product(name: "TandemDataplane", package: "Tandem"),
                .product(name: "TandemPacket", package: "Tandem"),
                .product(name: "TandemDatasets", package: "Tandem"),
            ],
            path: "Benchmarks/RoutingBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
