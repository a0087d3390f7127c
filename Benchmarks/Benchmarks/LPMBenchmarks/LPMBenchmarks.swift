// Speed and memory figures of TandemLPM on the full Internet table (issue 2, "Figures").
//
//   cd Benchmarks && swift package --disable-sandbox benchmark --target LPMBenchmarks
//
// Lookup benchmarks use `scalingFactor: .mega`: one iteration looks up 1 M addresses, so the
// scaled wall clock time (`*` in the output) is nanoseconds per lookup and throughput is lookups/s.
// Build and update benchmarks report their own figures through custom metrics (KiB, updates/s,
// ns per update, concurrent reader lookups/s), see BuildBenchmarks.swift and UpdateBenchmarks.swift.

import Benchmark

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 30
    ).forAllocationCheck

    registerLookupBenchmarks()
    registerGeometryBenchmarks()
    registerBuildBenchmarks()
    registerUpdateBenchmarks()
}

/// Custom metrics (values the benchmark reports itself, once per iteration). The text output
/// writes numbers of 8 digits or more as 1.23e+07, so sizes are in KiB and rates in thousands.
enum LPMMetric {
    /// KiB a table (or both tables) hold, as `memoryUsage.totalBytes` reports them.
    static var tableKiB: BenchmarkMetric { .custom("table KiB (total)", useScalingFactor: false) }
    /// KiB lookups touch (`memoryUsage.lookupBytes`).
    static var lookupKiB: BenchmarkMetric { .custom("table KiB (lookup)", useScalingFactor: false) }
    static var updatesPerSecond: BenchmarkMetric {
        .custom("updates/s", polarity: .prefersLarger, useScalingFactor: false)
    }
    static var nanosecondsPerUpdate: BenchmarkMetric { .custom("ns/update", useScalingFactor: false) }
    static var readerLookupsPerSecond: BenchmarkMetric {
        .custom("reader lookups/s", polarity: .prefersLarger, useScalingFactor: false)
    }
    /// Picoseconds, to keep a fraction of a nanosecond in an integer metric.
    static var readerPicosecondsPerLookup: BenchmarkMetric { .custom("reader ps/lookup", useScalingFactor: false) }

    static var units: [BenchmarkMetric: BenchmarkUnits] {
        [
            tableKiB: .count, lookupKiB: .count, updatesPerSecond: .kilo, nanosecondsPerUpdate: .count,
            readerLookupsPerSecond: .kilo, readerPicosecondsPerLookup: .count,
        ]
    }

    static func kibibytes(_ bytes: Int) -> Int { (bytes + 1023) / 1024 }
}
