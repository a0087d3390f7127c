// The in-memory pipeline (issue 4): validate, route, TTL and checksum, to a tunnel; one iteration = 1 M packets
// (scalingFactor .mega), so the scaled figures are ns per packet and packets per second. The packets are
// generated once; each batch copies them into its slots first (the pipeline rewrites TTLs in place), which is
// what a TUN read or a capture read does too.

import Benchmark
import TandemDataplane
import TandemDatasets
import TandemPacket
import TandemRouting

/// Discards the output, counting it so that nothing is optimised away.
struct CountingOutput: PipelineOutput {
    var bytes = 0
    mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) { bytes &+= packet.count }
    mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) { bytes &+= packet.count }
    mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) { bytes &+= 1 }
}

final class PipelineFixture {
    let router: Router
    let pipeline: Pipeline
    let batch = PacketBatch(capacity: 256, slotSize: 2048)
    /// The packets back to back, with their offsets and lengths.
    let storage: UnsafeMutableRawBufferPointer
    var offsets: [Int] = []
    var lengths: [Int] = []

    init(profile: TrafficProfile, policyRoutes: [PolicyRoute] = []) {
        router = makeRouter(fullTable: true, policyRoutes: policyRoutes)
        pipeline = Pipeline(
            plane: router.plane,
            configuration: PipelineConfiguration(
                tunnelMTUs: Array(repeating: 1500, count: 2 * connectionCount),
                icmpSourceV4: IPv4Address(rawValue: 0xC612_00FE), icmpSourceV6: IPv6Address(rawValue: 0x2001_0db8 << 96 | 0xFE)))
        var generator = TrafficGenerator(profile: profile, destinations: routeTable)
        storage = .allocate(byteCount: 1_000_000 * TrafficGenerator.maximumPacketLength / 4 + (1 << 20), alignment: 64)
        var offset = 0
        for _ in 0..<1_000_000 {
            let slot = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<min(storage.count, offset + TrafficGenerator.maximumPacketLength)])
            let (length, _) = generator.writePacket(into: slot)
            offsets.append(offset)
            lengths.append(length)
            offset += (length + 15) & ~15
        }
    }

    deinit { storage.deallocate() }
}

@inline(never)
func runPipeline(_ fixture: PipelineFixture) -> Int {
    var output = CountingOutput()
    let batch = fixture.batch
    let pipeline = fixture.pipeline
    fixture.offsets.withUnsafeBufferPointer { offsets in
        fixture.lengths.withUnsafeBufferPointer { lengths in
            var index = 0
            while index < offsets.count {
                batch.removeAll()
                let end = min(index + batch.capacity, offsets.count)
                for i in index..<end {
                    batch.append(
                        UnsafeRawBufferPointer(rebasing: fixture.storage[offsets[i]..<(offsets[i] + lengths[i])]),
                        timestamp: UInt64(i))
                }
                pipeline.process(batch, into: &output)
                index = end
            }
        }
    }
    return output.bytes
}

func registerPipelineBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], timeUnits: .nanoseconds, warmupIterations: 1,
        scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 50)
    func profile(_ sizes: TrafficProfile.Sizes, ipv6: Double) -> TrafficProfile {
        var profile = TrafficProfile()
        profile.sizes = sizes
        profile.ipv6Share = ipv6
        profile.flows = 100_000
        return profile
    }
    // Policy routes are made in `setup` (they read the table), see registerDecisionBenchmarks.
    let cases: [(String, TrafficProfile, @Sendable () -> [PolicyRoute])] = [
        ("IPv4 64 B", profile(.fixed(64), ipv6: 0), { [] }),
        ("IPv6 64 B", profile(.fixed(64), ipv6: 1), { [] }),
        ("IMIX, 20% IPv6", profile(.imix, ipv6: 0.2), { [] }),
        ("IPv4 64 B, 100 policy routes", profile(.fixed(64), ipv6: 0), {
            typicalPolicyRoutes(count: 100, matchEverything: false)
        }),
    ]
    registerFamilyRatioBenchmark(configuration, makeProfile: profile)
    for (name, traffic, policy) in cases {
        Benchmark("Pipeline \(name), full table, ECMP over 4 tunnel pairs", configuration: configuration.forAllocationCheck) { benchmark, fixture in
            blackHole(runPipeline(fixture))
        } setup: {
            PipelineFixture(profile: traffic, policyRoutes: policy())
        }
    }
}

/// What the interleaved benchmark reports: each family's time per packet and the IPv6 rate as a share of the IPv4 rate
/// (issue 15, target 3: at least 80 %).
enum PipelineMetric {
    static var ipv4PicosecondsPerPacket: BenchmarkMetric { .custom("IPv4 ps/packet", useScalingFactor: false) }
    static var ipv6PicosecondsPerPacket: BenchmarkMetric { .custom("IPv6 ps/packet", useScalingFactor: false) }
    static var ipv6RatePercent: BenchmarkMetric {
        .custom("IPv6 rate, % of IPv4", polarity: .prefersLarger, useScalingFactor: false)
    }
}

/// The IPv6 pipeline against the IPv4 one in the same iterations: 1 M packets of each family, one after the other
/// (the order alternates), so that the ratio is taken within about 0.2 s and the VM's drift (up to 1.6x within
/// minutes) falls out of it. Two separate benchmarks, minutes apart, give ratios that drift with the machine.
func registerFamilyRatioBenchmark(
    _ configuration: Benchmark.Configuration, makeProfile: (TrafficProfile.Sizes, Double) -> TrafficProfile
) {
    let ipv4 = makeProfile(.fixed(64), 0)
    let ipv6 = makeProfile(.fixed(64), 1)
    var ratioConfiguration = configuration
    ratioConfiguration.metrics = [
        .mallocCountTotal, PipelineMetric.ipv4PicosecondsPerPacket, PipelineMetric.ipv6PicosecondsPerPacket,
        PipelineMetric.ipv6RatePercent,
    ]
    ratioConfiguration.units = [
        PipelineMetric.ipv4PicosecondsPerPacket: .count, PipelineMetric.ipv6PicosecondsPerPacket: .count,
        PipelineMetric.ipv6RatePercent: .count,
    ]
    ratioConfiguration.scalingFactor = .one
    let iterations = IterationCount()
    Benchmark(
        "Pipeline IPv6 against IPv4, 64 B, interleaved, full table, ECMP over 4 tunnel pairs",
        configuration: ratioConfiguration.forAllocationCheck
    ) { benchmark, fixtures in
        iterations.value += 1
        var elapsed = (ipv4: Duration.zero, ipv6: Duration.zero)
        for family in iterations.value % 2 == 0 ? [4, 6] : [6, 4] {
            let start = ContinuousClock.now
            blackHole(runPipeline(family == 4 ? fixtures.ipv4 : fixtures.ipv6))
            if family == 4 { elapsed.ipv4 = ContinuousClock.now - start } else { elapsed.ipv6 = ContinuousClock.now - start }
        }
        let ipv4Picoseconds = picosecondsPerPacket(elapsed.ipv4, fixtures.ipv4.offsets.count)
        let ipv6Picoseconds = picosecondsPerPacket(elapsed.ipv6, fixtures.ipv6.offsets.count)
        benchmark.measurement(PipelineMetric.ipv4PicosecondsPerPacket, ipv4Picoseconds)
        benchmark.measurement(PipelineMetric.ipv6PicosecondsPerPacket, ipv6Picoseconds)
        benchmark.measurement(PipelineMetric.ipv6RatePercent, 100 * ipv4Picoseconds / max(ipv6Picoseconds, 1))
    } setup: {
        (ipv4: PipelineFixture(profile: ipv4), ipv6: PipelineFixture(profile: ipv6))
    }
}

/// The iterations run so far (one benchmark thread at a time).
final class IterationCount: @unchecked Sendable {
    var value = 0
}

func picosecondsPerPacket(_ duration: Duration, _ packets: Int) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int((seconds * 1_000_000_000_000 + attoseconds / 1_000_000) / Int64(packets))
}
