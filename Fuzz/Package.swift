// swift-tools-version:6.1
// Tandem's libFuzzer targets. A package of its own (like Benchmarks/), so that a plain `swift build` or
// `swift test` of the main package never meets an executable without `main` (libFuzzer brings it); it uses the
// main package by path. Run them with tools/fuzz; docs/fuzzing.md says what each covers.
//
// A target is its directory under Targets/ (one file, not main.swift, defining `LLVMFuzzerTestOneInput`) and one
// line in `targets` below; its seed corpus is Corpus/<name>/ (written by make-corpus) and its dictionary, if it
// has one, Dictionaries/<name>.dict. tools/fuzz finds them all by those names.
//
// Built by tools/fuzz in debug mode: `swift build --package-path Fuzz --sanitize=fuzzer -Xswiftc
// -sanitize=fuzzer,address -Xcc -fsanitize=address -Xswiftc -parse-as-library` (tools/fuzz says why not
// `--sanitize=fuzzer --sanitize=address`). Debug keeps the bounds checks of unsafe buffer pointers (`_debugPrecondition`, compiled out
// at -O), which is what catches a view reading past its packet inside a larger buffer, where ASan sees nothing
// wrong; it also makes `@testable import` work (debug builds enable testing), which two targets use for internal
// functions. docs/fuzzing.md has the figures this choice was made on.
import PackageDescription

/// A fuzz target: an executable over `FuzzSupport` and the main package's libraries it exercises.
func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: "Tandem") },
        path: "Targets/\(name)",
        swiftSettings: [.swiftLanguageMode(.v6)])
}

let package = Package(
    name: "TandemFuzz",
    dependencies: [.package(name: "Tandem", path: "..")],
    targets: [
        // What every target shares: reading the input, failing a check, scratch files, packet checks.
        .target(
            name: "FuzzSupport", dependencies: [.product(name: "TandemPacket", package: "Tandem")],
            path: "Support", swiftSettings: [.swiftLanguageMode(.v6)]),
        fuzzTarget("PacketViews", ["TandemPacket"]),
        fuzzTarget("Pipeline", ["TandemDataplane", "TandemRouting", "TandemPacket"]),
        fuzzTarget("Fragmenter", ["TandemDataplane", "TandemPacket"]),
        fuzzTarget("ICMPErrors", ["TandemDataplane", "TandemPacket"]),
        fuzzTarget("PcapFiles", ["TandemPcap", "TandemPacket"]),
        fuzzTarget("ControlRequests", ["TandemControl", "TandemDaemon", "TandemConfig", "TandemLinux", "TandemRouting"]),
        fuzzTarget("MetricsHTTP", ["TandemDaemon"]),
        fuzzTarget("ConfigYAML", ["TandemConfig", "TandemRouting"]),
        fuzzTarget("TextLines", ["TandemPcap", "TandemDatasets"]),
    ]
)
