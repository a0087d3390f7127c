import Testing
import TandemDatasets
import TandemPacket
@testable import TandemPcap

/// A paced replay's schedule: records out of order and far-future timestamps (issue 13: `--speed real` trapped on
/// a record earlier than the first, and slept without limit on one stamped far ahead).
@Suite struct ReplayPacingTests {
    @Test func recordsAreTimedByTheGapFromTheOneBefore() {
        var pacing = ReplayPacing()
        #expect(pacing.due(of: 5_000_000_000, factor: 1, maximumGap: 10_000_000_000) == 0)
        #expect(pacing.due(of: 5_001_000_000, factor: 1, maximumGap: 10_000_000_000) == 1_000_000)
        #expect(pacing.due(of: 5_003_000_000, factor: 2, maximumGap: 10_000_000_000) == 2_000_000, "twice as fast")
    }

    @Test func aRecordEarlierThanTheOneBeforeIsDueAtOnce() {
        var pacing = ReplayPacing()
        _ = pacing.due(of: 2_000_000_000, factor: 1, maximumGap: 10_000_000_000)
        #expect(pacing.due(of: 2_010_000_000, factor: 1, maximumGap: 10_000_000_000) == 10_000_000)
        // Earlier than the first record: the old code computed (earlier - first) in wrapping arithmetic and trapped
        // converting 1.8e19 ns to Int64.
        #expect(pacing.due(of: 1_000_000_000, factor: 1, maximumGap: 10_000_000_000) == 10_000_000)
        #expect(pacing.due(of: 2_020_000_000, factor: 1, maximumGap: 10_000_000_000) == 20_000_000)
    }

    @Test func aSilenceLongerThanTheMaximumGapIsShortened() {
        var pacing = ReplayPacing()
        _ = pacing.due(of: 0, factor: 1, maximumGap: 10_000_000_000)
        // A record stamped 2106 (the last second a pcap file holds) after one stamped 1970.
        let farFuture: UInt64 = 4_294_967_295 * 1_000_000_000
        #expect(pacing.due(of: farFuture, factor: 1, maximumGap: 10_000_000_000) == 10_000_000_000)
        #expect(pacing.due(of: farFuture + 1_000, factor: 1, maximumGap: 10_000_000_000) == 10_000_001_000)
        var slow = ReplayPacing()
        _ = slow.due(of: 0, factor: 1e-300, maximumGap: 5)
        #expect(slow.due(of: 1, factor: 1e-300, maximumGap: 5) == 5, "a tiny factor cannot overflow either")
    }

    /// End to end: a paced replay of a capture whose second record is earlier than its first and whose last is
    /// 136 years later finishes, and forwards all three.
    @Test func aPacedReplayOfADisorderedCaptureFinishes() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/disordered.pcap"
            var profile = TrafficProfile()
            profile.flows = 1
            profile.sizes = .fixed(100)
            profile.ipv6Share = 0
            let destinations = RouteTableData(
                ipv4: [try IPv4Prefix("198.19.0.0/16")], ipv6: [], origin: .file(path: "test"))
            var generator = TrafficGenerator(profile: profile, destinations: destinations)
            let writer = try PcapWriter(path: capture)
            let buffer = UnsafeMutableRawBufferPointer.allocate(
                byteCount: TrafficGenerator.maximumPacketLength, alignment: 8)
            defer { buffer.deallocate() }
            for timestamp: UInt64 in [5_000_000_000, 1_000_000_000, 4_294_967_295 * 1_000_000_000] {
                let (length, _) = generator.writePacket(into: buffer)
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), timestamp: timestamp)
            }
            try writer.close()
            let report = try Replayer(
                settings: ReplaySettings(capture: capture, speed: .paced(1), maximumPacingGap: 1_000_000),
                gateway: try ReplayTests.gateway()
            ).run()
            #expect(report.captureRecords == 3)
            #expect(report.counters.perTunnel.reduce(0) { $0 + $1.packets } == 3)
        }
    }
}
