import TandemPcap
import Testing

/// The report page's timeline: which bin a packet counts in, series of equal length, marks relative to the first
/// packet, and a bounded number of bins.
@Suite struct EgressTimelineTests {
    static let ms: UInt64 = 1_000_000

    @Test func packetsCountInTheBinOfTheirCaptureTimeFromTheFirstPacket() {
        var timeline = EgressTimeline(egressNames: ["a1", "a2"])
        let start: UInt64 = 1_700_000_000_000_000_000
        timeline.begin(at: start)
        timeline.countForwarded(egress: 0, at: start)  // first instant of bin 0
        timeline.countForwarded(egress: 0, at: start + 10 * Self.ms - 1)  // last nanosecond of bin 0
        timeline.countForwarded(egress: 0, at: start + 10 * Self.ms)  // first of bin 1
        timeline.countForwarded(egress: 0, at: start + 25 * Self.ms)  // bin 2
        timeline.countDrop(at: start + 19 * Self.ms)  // bin 1
        timeline.countForwarded(egress: 0, at: start - 5)  // out of order, before the first: bin 0
        #expect(timeline.packets[0] == [3, 1, 1])
        #expect(timeline.drops == [0, 1, 0])
        #expect(timeline.binCount == 3 && timeline.span == 30 * Self.ms)
    }

    @Test func anEgressWithoutPacketsHasZeroesInEveryBin() {
        var timeline = EgressTimeline(egressNames: ["a1", "a2", "b1"])
        timeline.countForwarded(egress: 1, at: 100)  // no begin: the first count is the start
        timeline.countForwarded(egress: 1, at: 100 + 42 * Self.ms)
        #expect(timeline.start == 100)
        #expect(timeline.packets[0] == [0, 0, 0, 0, 0])
        #expect(timeline.packets[2] == timeline.packets[0])
        #expect(timeline.packets[1] == [1, 0, 0, 0, 1])
        #expect(timeline.drops.count == 5)
        timeline.extend(through: 100 + 69 * Self.ms)
        #expect(timeline.binCount == 7 && timeline.packets.allSatisfy { $0.count == 7 })
        #expect(EgressTimeline(egressNames: ["a1"]).binCount == 0)
    }

    @Test func marksAreTimedFromTheFirstPacketInTheOrderTheyCame() {
        var timeline = EgressTimeline(egressNames: ["a1", "a2"])
        timeline.begin(at: 5_000)
        timeline.mark(.whatIf, "tunnel a1 down", at: 5_000 + 2_500 * Self.ms)
        timeline.mark(.selection, "to-cloud: a1 -> a2 (active tunnel down)", at: 5_000 + 2_500 * Self.ms)
        timeline.mark(.health, "early", at: 1_000)
        #expect(timeline.marks.map(\.offset) == [2_500 * Self.ms, 2_500 * Self.ms, 0])
        #expect(timeline.marks.map(\.kind) == [.whatIf, .selection, .health])
        #expect(timeline.marks[1].text == "to-cloud: a1 -> a2 (active tunnel down)")
    }

    @Test func aLongCaptureDoublesTheBinWidthInsteadOfGrowingPastTheLimit() {
        var timeline = EgressTimeline(egressNames: ["a1"], binNanoseconds: 10 * Self.ms, maximumBins: 4)
        timeline.begin(at: 0)
        for time in stride(from: UInt64(0), to: 40 * Self.ms, by: 1_000_000) {
            timeline.countForwarded(egress: 0, at: time)
        }
        #expect(timeline.packets[0] == [10, 10, 10, 10])
        timeline.countForwarded(egress: 0, at: 45 * Self.ms)  // bin 4 of 10 ms: past the limit
        #expect(timeline.binNanoseconds == 20 * Self.ms)
        #expect(timeline.packets[0] == [20, 20, 1])
        timeline.countForwarded(egress: 0, at: 39 * Self.ms)  // back in time: bin 1 of 20 ms, not a stale bin
        #expect(timeline.packets[0] == [20, 21, 1])
        timeline.countForwarded(egress: 0, at: 40 * Self.ms)
        #expect(timeline.packets[0] == [20, 21, 2])
        timeline.countDrop(at: 1_000 * Self.ms)  // bin 50 of 20 ms: doubled until it fits (bin 3 of 320 ms)
        #expect(timeline.binNanoseconds == 320 * Self.ms)
        #expect(timeline.packets[0] == [43, 0, 0, 0])
        #expect(timeline.drops == [0, 0, 0, 1])
    }
}
