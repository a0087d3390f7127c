// Lookup benchmarks: one iteration = 1 M lookups (scalingFactor .mega), so the scaled figures
// are ns per lookup and lookups per second.

import Benchmark
import TandemLPM
import TandemPacket

/// A full table, the addresses to look up, and a result buffer for the batch API.
final class LookupFixture<Table: LPMTable> {
    let table: Table
    let addresses: [Table.Address]
    let results: UnsafeMutableBufferPointer<UInt32>

    init(table: Table, addresses: [Table.Address]) {
        precondition(addresses.count == lookupSampleCount)
        self.table = table
        self.addresses = addresses
        results = .allocate(capacity: batchSize)
        results.initialize(repeating: 0)
    }

    deinit { results.deallocate() }
}

/// Looks the addresses up one by one through `lookup(_:)`.
@inline(never)
func lookupOneByOne<Table: LPMTable>(_ table: Table, _ addresses: UnsafeBufferPointer<Table.Address>) -> UInt32 {
    var sum: UInt32 = 0
    for address in addresses {
        sum &+= table.lookup(address) ?? 0
    }
    return sum
}

/// Looks the addresses up `results.count` at a time through the batch API.
@inline(never)
func lookupBatched<Table: LPMTable>(
    _ table: Table, _ addresses: UnsafeBufferPointer<Table.Address>, _ results: UnsafeMutableBufferPointer<UInt32>
) -> UInt32 {
    var sum: UInt32 = 0
    var start = 0
    while start < addresses.count {
        let end = min(start + results.count, addresses.count)
        let out = UnsafeMutableBufferPointer(rebasing: results[0..<(end - start)])
        table.lookup(UnsafeBufferPointer(rebasing: addresses[start..<end]), into: out)
        sum &+= out[out.count - 1]
        start = end
    }
    return sum
}

enum LookupAPI {
    case single
    case batch
}

/// Registers one lookup benchmark; the table and addresses are built in `setup`, outside the measurement.
func lookupBenchmark<Table: LPMTable>(
    _ name: String, api: LookupAPI, reportMemory: Bool = false, makeFixture: @escaping () -> LookupFixture<Table>
) {
    var metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
    if reportMemory { metrics += [LPMMetric.tableKiB, LPMMetric.lookupKiB] }
    // An iteration takes 5 to 100 ms: 100 of them keep the median steady on a shared 2-core VM.
    let configuration = Benchmark.Configuration(
        metrics: metrics, units: LPMMetric.units, scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 100)

    Benchmark(name, configuration: configuration.forAllocationCheck) { benchmark, fixture in
        precondition(fixture.addresses.count == benchmark.scaledIterations.count)
        let sum = fixture.addresses.withUnsafeBufferPointer { addresses in
            switch api {
            case .single: return lookupOneByOne(fixture.table, addresses)
            case .batch: return lookupBatched(fixture.table, addresses, fixture.results)
            }
        }
        blackHole(sum)
        if reportMemory {
            let memory = fixture.table.memoryUsage
            benchmark.measurement(LPMMetric.tableKiB, LPMMetric.kibibytes(memory.totalBytes))
            benchmark.measurement(LPMMetric.lookupKiB, LPMMetric.kibibytes(memory.lookupBytes))
        }
    } setup: {
        makeFixture()
    }
}

func ipv4Fixture(directBits: Int = 18, _ mix: AddressMix) -> () -> LookupFixture<IPv4Table> {
    { LookupFixture(table: fullIPv4Table(directBits: directBits), addresses: ipv4Addresses(mix)) }
}

func ipv6Fixture(directBits: Int = 20, _ mix: AddressMix) -> () -> LookupFixture<IPv6Table> {
    { LookupFixture(table: fullIPv6Table(directBits: directBits), addresses: ipv6Addresses(mix)) }
}

/// The figures of issue 2 with the default geometry.
func registerLookupBenchmarks() {
    lookupBenchmark("IPv4 lookup hit", api: .single, makeFixture: ipv4Fixture(.hit))
    lookupBenchmark("IPv4 lookup uniform", api: .single, makeFixture: ipv4Fixture(.uniform))
    lookupBenchmark("IPv4 lookup hit, batch \(batchSize)", api: .batch, makeFixture: ipv4Fixture(.hit))
    lookupBenchmark("IPv4 lookup uniform, batch \(batchSize)", api: .batch, makeFixture: ipv4Fixture(.uniform))

    lookupBenchmark("IPv6 lookup hit", api: .single, makeFixture: ipv6Fixture(.hit))
    lookupBenchmark("IPv6 lookup uniform 2000::/3", api: .single, makeFixture: ipv6Fixture(.uniform))
    lookupBenchmark("IPv6 lookup hit, batch \(batchSize)", api: .batch, makeFixture: ipv6Fixture(.hit))
    lookupBenchmark("IPv6 lookup uniform 2000::/3, batch \(batchSize)", api: .batch, makeFixture: ipv6Fixture(.uniform))
}

/// The choice of geometry: the same lookups with other numbers of directly indexed bits,
/// with the memory each geometry takes.
func registerGeometryBenchmarks() {
    for directBits in [16, 18, 20, 22] {
        lookupBenchmark(
            "IPv4 lookup hit (directBits \(directBits))", api: .single, reportMemory: true,
            makeFixture: ipv4Fixture(directBits: directBits, .hit))
        lookupBenchmark(
            "IPv4 lookup uniform (directBits \(directBits))", api: .single, reportMemory: true,
            makeFixture: ipv4Fixture(directBits: directBits, .uniform))
    }
    for directBits in [16, 18, 20, 22] {
        lookupBenchmark(
            "IPv6 lookup hit (directBits \(directBits))", api: .single, reportMemory: true,
            makeFixture: ipv6Fixture(directBits: directBits, .hit))
        lookupBenchmark(
            "IPv6 lookup uniform 2000::/3 (directBits \(directBits))", api: .single, reportMemory: true,
            makeFixture: ipv6Fixture(directBits: directBits, .uniform))
    }
}
