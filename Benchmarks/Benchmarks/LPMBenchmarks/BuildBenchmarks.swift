// Build benchmarks: one iteration = filling fresh tables with the whole table through `load`.
// Freeing the tables happens after the measurement stops.

import Benchmark
import TandemLPM
import TandemPacket

/// What the last iteration built, printed by the teardown hook: the runner silences a benchmark's
/// output while it runs (with `--no-progress`), but not in setup and teardown.
final class MemoryReport {
    var text = ""
}

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

    buildBenchmark("Build IPv4 and IPv6 full tables", configuration) { benchmark in
        benchmark.startMeasurement()
        let ipv4 = IPv4Table()
        ipv4.load(ipv4Routes)
        let ipv6 = IPv6Table()
        ipv6.load(ipv6Routes)
        benchmark.stopMeasurement()
        return (ipv4, ipv6)
    }

    buildBenchmark("Build IPv4 full table", configuration) { benchmark in
        benchmark.startMeasurement()
        let ipv4 = IPv4Table()
        ipv4.load(ipv4Routes)
        benchmark.stopMeasurement()
        return (ipv4, nil)
    }

    buildBenchmark("Build IPv6 full table", configuration) { benchmark in
        benchmark.startMeasurement()
        let ipv6 = IPv6Table()
        ipv6.load(ipv6Routes)
        benchmark.stopMeasurement()
        return (nil, ipv6)
    }
}

/// Registers a build benchmark: `build` measures itself and returns the tables it built, whose
/// own memory figures become the iteration's custom metrics.
private func buildBenchmark(
    _ name: String, _ configuration: Benchmark.Configuration,
    build: @escaping (Benchmark) -> (IPv4Table?, IPv6Table?)
) {
    let report = MemoryReport()
    Benchmark(name, configuration: configuration.forAllocationCheck) { benchmark in
        let (ipv4, ipv6) = build(benchmark)
        let memories = [ipv4?.memoryUsage, ipv6?.memoryUsage].compactMap { $0 }
        let total = memories.reduce(0) { $0 + $1.totalBytes }
        benchmark.measurement(LPMMetric.tableKiB, LPMMetric.kibibytes(total))
        benchmark.measurement(LPMMetric.lookupKiB, LPMMetric.kibibytes(memories.reduce(0) { $0 + $1.lookupBytes }))
        var lines = ["\(name): \(mebibytes(total)) (\(total) bytes) in all"]
        if let ipv4 { lines.append(describe("IPv4", ipv4.count, ipv4.memoryUsage)) }
        if let ipv6 { lines.append(describe("IPv6", ipv6.count, ipv6.memoryUsage)) }
        report.text = lines.joined(separator: "\n")
    } setup: {
        _ = ipv4Routes
        _ = ipv6Routes
    } teardown: {
        reportOnce("memory-\(name.filter { $0.isLetter || $0.isNumber })", report.text)
    }
}

private func describe(_ family: String, _ count: Int, _ memory: LPMMemoryUsage) -> String {
    "  \(family): \(count) prefixes, \(mebibytes(memory.totalBytes)) (\(memory.totalBytes) bytes):"
        + " DIR-24 front \(mebibytes(memory.directBytes)), top \(mebibytes(memory.topBytes)), nodes \(mebibytes(memory.nodeBytes)),"
        + " leaves \(mebibytes(memory.leafBytes)), writer \(mebibytes(memory.writerBytes));"
        + " lookups touch \(mebibytes(memory.lookupBytes))"
}
