// swift-tools-version:6.1
// A package of someone else's that uses Tandem's lookup tables: route-lookup reads prefixes and looks up addresses.
// tools/lib/check-library-use copies it outside Tandem's tree and builds it twice: with Tandem as a path dependency
// (TANDEM_PATH), and by version from a git repository tagged with Tandem's version (TANDEM_URL), which SwiftPM allows
// only for a package whose library targets use no unsafeFlags. SwiftPM names a dependency after the last part of its
// path or URL: the check gives both as .../tandem.
import PackageDescription

let tandem: Package.Dependency =
    if let url = Context.environment["TANDEM_URL"] {
        .package(url: url, from: "0.1.0")
    } else {
        .package(path: Context.environment["TANDEM_PATH"] ?? "../..")
    }

let package = Package(
    name: "RouteLookup",
    dependencies: [tandem],
    targets: [
        .executableTarget(
            name: "route-lookup",
            dependencies: [
                .product(name: "TandemLPM", package: "tandem"),
                .product(name: "TandemPacket", package: "tandem"),
            ])
    ]
)
