// Build benchmarks: one iteration = filling fresh tables with the whole table through `load`.
// Freeing the tables happens after the measurement stops.

import Benchmark
import TandemLPM
import TandemPacket

func registerBuildBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident, LPMMetric.tableKiB, LPMMetric.lookupKiB],
        timeUnits: .milliseconds,
        units: LPMMetric.units.merging([.peakMemoryResident: .mega]) { $1 },
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(30),
        maxIterations: 10
    )

    Benchmark("Build IPv4 and IPv6 full tables", configuration: configuration) { benchmark in
        benchmark.startMeasurement()
        let ipv4 = IPv4Table()
        ipv4.load(ipv4Routes)
        let ipv6 = IPv6Table()
        ipv6.load(ipv6Routes)
        benchmark.stopMeasurement()
        report(benchmark, ipv4, ipv6)
    } setup: {
        _ = ipv4Routes
        _ = ipv6Routes
    }

    Benchmark("Build IPv4 full table", configuration: configuration) { benchmark in
        benchmark.startMeasurement()
        let ipv4 = IPv4Table()
        ipv4.load(ipv4Routes)
        benchmark.stopMeasurement()
        report(benchmark, ipv4, nil)
    } setup: {
        _ = ipv4Routes
    }

    Benchmark("Build IPv6 full table", configuration: configuration) { benchmark in
        benchmark.startMeasurement()
        let ipv6 = IPv6Table()
        ipv6.load(ipv6Routes)
        benchmark.stopMeasurement()
        report(benchmark, nil, ipv6)
    } setup: {
        _ = ipv6Routes
    }
}

/// Records the tables' own memory figures and prints their breakdown once.
private func report(_ benchmark: Benchmark, _ ipv4: IPv4Table?, _ ipv6: IPv6Table?) {
    let memories = [ipv4?.memoryUsage, ipv6?.memoryUsage].compactMap { $0 }
    let total = memories.reduce(0) { $0 + $1.totalBytes }
    let lookup = memories.reduce(0) { $0 + $1.lookupBytes }
    benchmark.measurement(LPMMetric.tableKiB, LPMMetric.kibibytes(total))
    benchmark.measurement(LPMMetric.lookupKiB, LPMMetric.kibibytes(lookup))

    var lines: [String] = []
    func describe(_ family: String, _ count: Int, _ memory: LPMMemoryUsage) {
        lines.append(
            "  \(family): \(count) prefixes, total \(mebibytes(memory.totalBytes)) (\(memory.totalBytes) B):"
                + " top \(mebibytes(memory.topBytes)), nodes \(mebibytes(memory.nodeBytes)),"
                + " leaves \(mebibytes(memory.leafBytes)), writer \(mebibytes(memory.writerBytes));"
                + " lookups touch \(mebibytes(memory.lookupBytes))")
    }
    if let ipv4 { describe("IPv4", ipv4.count, ipv4.memoryUsage) }
    if let ipv6 { describe("IPv6", ipv6.count, ipv6.memoryUsage) }
    reportOnce(
        "memory-\(benchmark.name.filter { $0.isLetter || $0.isNumber })",
        "\(benchmark.name): \(mebibytes(total)) in all\n" + lines.joined(separator: "\n"))
}
