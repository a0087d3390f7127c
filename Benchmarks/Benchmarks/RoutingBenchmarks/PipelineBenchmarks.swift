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
    for (name, traffic, policy) in cases {
        Benchmark("Pipeline \(name), full table, ECMP over 4 tunnel pairs", configuration: configuration.forAllocationCheck) { benchmark, fixture in
            blackHole(runPipeline(fixture))
        } setup: {
            PipelineFixture(profile: traffic, policyRoutes: policy())
        }
    }
}
