import Testing

@testable import TandemDaemon

/// The ingress queue's length under overload, decided from what the pipeline threads report and the device's drop
/// counter, on a clock the test moves: cut when a queue stands and overflows, back when the queues drain without
/// overflowing, alone otherwise.
@Suite final class IngressQueueGovernorTests {
    typealias Reading = IngressQueueGovernor.QueueReading
    static let ms: UInt64 = 1_000_000
    /// 2048 packets (the default), 5 ms.
    var governor = IngressQueueGovernor(configuredLength: 2048, targetDelay: 5 * ms)
    /// The device's drop counter, as ``run(rate:busy:from:looks:read:dropping:)`` moves it.
    var dropped: UInt64 = 0

    /// One queue whose thread reads `rate` packets per second, looked at every 100 ms from `start` for `looks` looks
    /// (the first look of a new governor only takes its bearings); `busy` says whether the queue stands (never
    /// drained since `start`) or drains at every wake-up; the device drops `dropping` packets per second (by default
    /// as many as are read while the queue stands: a flood of twice the thread's rate; none while it drains).
    func run(
        rate: UInt64, busy: Bool, from start: UInt64, looks: Int, read: inout UInt64, dropping: UInt64? = nil
    ) -> [IngressQueueGovernor.Decision] {
        var decisions: [IngressQueueGovernor.Decision] = []
        for look in 0..<looks {
            let now = start + UInt64(look) * 100 * Self.ms
            read += rate / 10
            dropped += (dropping ?? (busy ? rate : 0)) / 10
            let reading = Reading(busySince: busy ? start : 0, packetsRead: read)
            if let decision = governor.observe([reading], dropped: dropped, at: now) {
                governor.applied(decision)
                decisions.append(decision)
            }
        }
        return decisions
    }

    @Test func aStandingQueueThatOverflowsIsCutToWhatTheThreadForwardsInTheTargetDelay() {
        var read: UInt64 = 0
        // 40 kpps with the queue full: 5 ms is 200 packets.
        let decisions = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 5, read: &read)
        #expect(decisions == [.shorten(to: 200, packetsPerSecond: 40_000)])
        #expect(governor.length == 200)
    }

    @Test func aStandingQueueThatDoesNotOverflowKeepsItsLength() {
        var read: UInt64 = 0
        // Busy for seconds, but the device drops at most a hundredth of what is read: the queue is not full.
        #expect(run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 30, read: &read, dropping: 0).isEmpty)
        #expect(run(rate: 40_000, busy: true, from: 4000 * Self.ms, looks: 30, read: &read, dropping: 400).isEmpty)
        #expect(governor.length == 2048)
    }

    @Test func aQueueThatDrainsKeepsItsLength() {
        var read: UInt64 = 0
        // As many packets as above, and drops, but the thread finds its queue drained at each look.
        #expect(run(rate: 40_000, busy: false, from: 1000 * Self.ms, looks: 50, read: &read, dropping: 40_000).isEmpty)
        #expect(governor.length == 2048)
    }

    @Test func aQueueBusyForLessThanAnIntervalIsNotStanding() {
        _ = governor.observe([Reading(busySince: 0, packetsRead: 0)], dropped: 0, at: 1000 * Self.ms)
        // Busy since 20 ms before the look: a burst, not a standing queue.
        let burst = Reading(busySince: 1080 * Self.ms, packetsRead: 4000)
        #expect(governor.observe([burst], dropped: 4000, at: 1100 * Self.ms) == nil)
        #expect(governor.length == 2048)
    }

    @Test func aThreadThatWokeAfterTheLookIsNotStanding() {
        _ = governor.observe([Reading(busySince: 0, packetsRead: 0)], dropped: 0, at: 1000 * Self.ms)
        // The control thread took its time, then the pipeline thread woke (a few µs later) before it was read: its
        // wake-up time is later than the look's, and is no age at all.
        let now = 1100 * Self.ms
        let woke = Reading(busySince: now + 40_000, packetsRead: 2500)
        #expect(governor.observe([woke], dropped: 2500, at: now) == nil)
        #expect(governor.length == 2048)
    }

    @Test func theLengthComesBackAfterASecondWithoutAStandingQueue() {
        var read: UInt64 = 0
        _ = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
        #expect(governor.length == 200)
        // The flood ends: drained at every look. Nothing for 1 s, then the configured length.
        let calm = run(rate: 10_000, busy: false, from: 1300 * Self.ms, looks: 12, read: &read)
        #expect(calm == [.restore(to: 2048)])
        #expect(governor.length == 2048)
    }

    @Test func aCutQueueThatDrainsButOverflowsStaysCut() {
        var read: UInt64 = 0
        _ = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
        // The flood goes on, but its sender shares the thread's core: they take turns, and the thread drains the
        // cut queue at every turn. The device still drops most of the flood: no restore, however long.
        let turns = run(rate: 40_000, busy: false, from: 1300 * Self.ms, looks: 30, read: &read, dropping: 100_000)
        #expect(turns.isEmpty)
        #expect(governor.length == 200)
        // The flood ends: a second of drained queues and no drops brings the length back.
        #expect(run(rate: 1000, busy: false, from: 4300 * Self.ms, looks: 12, read: &read) == [.restore(to: 2048)])
    }

    @Test func aFewDropsDoNotKeepTheQueueCut() {
        var read: UInt64 = 0
        _ = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
        // Traffic just below the thread's rate, in bursts the cut queue cannot all hold: 0.5 % dropped.
        let bursts = run(rate: 39_000, busy: false, from: 1300 * Self.ms, looks: 12, read: &read, dropping: 195)
        #expect(bursts == [.restore(to: 2048)])
    }

    @Test func withoutTheDropCounterTheDrainingDecidesAlone() {
        let start = 1000 * Self.ms
        _ = governor.observe([Reading(busySince: start, packetsRead: 0)], dropped: nil, at: start)
        let cut = governor.observe(
            [Reading(busySince: start, packetsRead: 4000)], dropped: nil, at: start + 100 * Self.ms)
        #expect(cut == .shorten(to: 200, packetsPerSecond: 40_000))
        governor.applied(try! #require(cut))
        var decisions: [IngressQueueGovernor.Decision] = []
        for look in 2...13 {
            let now = start + UInt64(look) * 100 * Self.ms
            if let decision = governor.observe([Reading(busySince: 0, packetsRead: 4000)], dropped: nil, at: now) {
                governor.applied(decision)
                decisions.append(decision)
            }
        }
        #expect(decisions == [.restore(to: 2048)])
    }

    @Test func aStandingQueueBetweenCalmLooksStartsTheSecondOver() {
        var read: UInt64 = 0
        _ = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
        #expect(run(rate: 10_000, busy: false, from: 1300 * Self.ms, looks: 8, read: &read).isEmpty)
        // Standing again at the same rate: no change (still 200), and the calm starts over.
        #expect(run(rate: 40_000, busy: true, from: 2100 * Self.ms, looks: 3, read: &read).isEmpty)
        #expect(run(rate: 10_000, busy: false, from: 2400 * Self.ms, looks: 10, read: &read).isEmpty)
        #expect(governor.length == 200)
        #expect(run(rate: 10_000, busy: false, from: 3400 * Self.ms, looks: 2, read: &read) == [.restore(to: 2048)])
    }

    @Test func aStandingQueueIsCutFurtherOnlyByAQuarterOrMore() {
        var read: UInt64 = 0
        _ = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
        // 10 % slower: 180 packets, within a quarter of 200, is left alone; so is a faster thread (its cut queue
        // holds less than the target delay); half as fast is 100, below the floor of two batches: 128.
        #expect(run(rate: 36_000, busy: true, from: 1300 * Self.ms, looks: 3, read: &read).isEmpty)
        #expect(run(rate: 80_000, busy: true, from: 1600 * Self.ms, looks: 3, read: &read).isEmpty)
        #expect(
            run(rate: 20_000, busy: true, from: 1900 * Self.ms, looks: 3, read: &read)
                == [.shorten(to: IngressQueueGovernor.minimumLength, packetsPerSecond: 20_000)])
    }

    @Test func theCutStaysBetweenTwoBatchesAndTheConfiguredLength() {
        var read: UInt64 = 0
        // A thread that hardly reads (it waits for a core): two batches, not less.
        #expect(
            run(rate: 1000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
                == [.shorten(to: IngressQueueGovernor.minimumLength, packetsPerSecond: 1000)])
        // A fast thread whose queue stands and overflows: 1 Mpps is 5000 packets in 5 ms, more than configured.
        var fast = IngressQueueGovernor(configuredLength: 2048, targetDelay: 5 * Self.ms)
        _ = fast.observe([Reading(busySince: 0, packetsRead: 0)], dropped: 0, at: 0)
        #expect(fast.observe([Reading(busySince: 1, packetsRead: 100_000)], dropped: 100_000, at: 100 * Self.ms) == nil)
    }

    @Test func theSlowestStandingQueueSetsTheLength() {
        let start = 1000 * Self.ms
        _ = governor.observe(Array(repeating: Reading(busySince: 0, packetsRead: 0), count: 3), dropped: 0, at: start)
        // Queue 0 stands at 60 kpps, queue 1 at 30 kpps, queue 2 drains (and reads little); the device overflows.
        let decision = governor.observe(
            [
                Reading(busySince: start - 50 * Self.ms, packetsRead: 6000),
                Reading(busySince: start - 50 * Self.ms, packetsRead: 3000),
                Reading(busySince: 0, packetsRead: 100),
            ], dropped: 9000, at: start + 100 * Self.ms)
        #expect(decision == .shorten(to: 150, packetsPerSecond: 30_000))
    }

    @Test func aZeroDelayLeavesTheLengthAlone() {
        var off = IngressQueueGovernor(configuredLength: 2048, targetDelay: 0)
        _ = off.observe([Reading(busySince: 1, packetsRead: 0)], dropped: 0, at: 100 * Self.ms)
        #expect(off.observe([Reading(busySince: 1, packetsRead: 4000)], dropped: 4000, at: 200 * Self.ms) == nil)
        #expect(off.length == 2048)
    }

    @Test func aChangeNotMadeInTheKernelIsAskedForAgain() {
        let start = 1000 * Self.ms
        _ = governor.observe([Reading(busySince: start, packetsRead: 0)], dropped: 0, at: start)
        let first = governor.observe(
            [Reading(busySince: start, packetsRead: 4000)], dropped: 4000, at: start + 100 * Self.ms)
        #expect(first == .shorten(to: 200, packetsPerSecond: 40_000))
        // Not applied (the netlink request failed): the length is still the old one, and the next look asks again.
        #expect(governor.length == 2048)
        let again = governor.observe(
            [Reading(busySince: start, packetsRead: 8000)], dropped: 8000, at: start + 200 * Self.ms)
        #expect(again == first)
    }

    @Test func aRemadeDeviceHasItsConfiguredLengthAndItsCountersStartOver() {
        var read: UInt64 = 0
        _ = run(rate: 40_000, busy: true, from: 1000 * Self.ms, looks: 3, read: &read)
        governor.deviceRemade()
        #expect(governor.length == 2048)
        // The new device's drop counter starts at 0: below the old one's, which is no overflow (nor a wrap to one).
        dropped = 0
        let standing = Reading(busySince: 1250 * Self.ms, packetsRead: read + 4000)
        #expect(governor.observe([standing], dropped: 0, at: 1400 * Self.ms) == nil)
    }

    @Test func packetsInADelayDoNotOverflow() {
        #expect(IngressQueueGovernor.packets(4000, in: 100 * Self.ms, arrivingIn: 5 * Self.ms) == 200)
        #expect(IngressQueueGovernor.packets(.max, in: 1, arrivingIn: .max) == .max)
        #expect(IngressQueueGovernor.packets(.max, in: .max, arrivingIn: 1) == 1)
    }
}
