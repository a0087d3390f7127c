// How long the ingress TUN device's queues are, from moment to moment. A long queue (`linux.tun-queue-length`, 2048
// packets by default) absorbs the bursts that come while a pipeline thread waits for a core. But when more comes than
// the threads forward, it stands full, and every packet waits the queue's length over the thread's rate in it: 2048
// packets at 45 kpps is 45 ms, which a failover then loses into the failed path as well (docs/benchmarks.md, failover
// under load). CoDel's idea, applied to the queue's length instead of to each packet: a queue that has not drained for
// an interval is a standing queue; when it also overflows (the device drops more than a hundredth of what the threads
// read), the device's queues are cut to what the threads forward in the target delay (`linux.tun-queue-delay`). They
// get their configured length back after a while in which no queue stood and the drops stayed under a hundredth:
// draining alone is not enough, a cut queue may drain while the flood goes on (a sender that shares the thread's core
// fills it and stops in turns), but then it overflows; and no drops at all is too much to ask of a cut queue under
// bursts just below the threads' rate.
//
// This is the state and the decisions only; the daemon feeds it what the pipeline threads report and makes the
// change in the kernel (Daemon+IngressQueue.swift).

/// Decides the ingress device's queue length from what the pipeline threads report.
struct IngressQueueGovernor {
    /// What a pipeline thread reports of its queue (``Forwarder/queueReadings``).
    struct QueueReading: Equatable {
        /// When the thread last woke to a queue it has not found drained since (monotonic ns); 0 while the queue is
        /// drained (the thread waits for packets, or its last read took less than a batch).
        var busySince: UInt64
        /// Packets the thread has read from the queue so far.
        var packetsRead: UInt64
    }

    /// A change of the queues' length to make.
    enum Decision: Equatable {
        /// A queue stood for an interval and the device overflowed: cut every queue to `length`, what the slowest
        /// standing queue's thread forwarded (`packetsPerSecond`) in the target delay (at least ``minimumLength``).
        case shorten(to: Int, packetsPerSecond: UInt64)
        /// No queue stood, and the device dropped at most a hundredth of what was read, for
        /// ``calmBeforeRestoring``: back to the configured length.
        case restore(to: Int)

        var length: Int {
            switch self {
            case .shorten(let length, _), .restore(let length): length
            }
        }
    }

    /// A queue that has not drained for this long is a standing one (CoDel's interval); also how often the daemon
    /// asks (``observe(_:dropped:at:)``).
    static let interval: UInt64 = 100_000_000
    /// How long no queue may have stood, and the device dropped at most a hundredth of what was read, before the
    /// configured length comes back.
    static let calmBeforeRestoring: UInt64 = 1_000_000_000
    /// The shortest queue: two of a thread's batches (``Forwarder/batchCapacity``), one waiting in the queue while the
    /// thread works through the one it read.
    static let minimumLength = 2 * Forwarder.batchCapacity

    /// `linux.tun-queue-length`.
    let configuredLength: Int
    /// `linux.tun-queue-delay` in ns; 0 leaves the length alone.
    let targetDelay: UInt64
    /// The queues' length now, as last made in the kernel (``applied(_:)``).
    private(set) var length: Int

    private var lastReadings: [QueueReading] = []
    private var lastDropped: UInt64?
    private var lastObserved: UInt64 = 0
    /// Since when no queue has stood and the device has not overflowed (while the length is cut).
    private var calmSince: UInt64?

    init(configuredLength: Int, targetDelay: UInt64) {
        self.configuredLength = configuredLength
        self.targetDelay = targetDelay
        length = configuredLength
    }

    /// Looks at the queues; returns the change to make, if any. The caller makes it, then calls ``applied(_:)``.
    ///
    /// - Parameter dropped: The packets the device has dropped so far for want of room (its tx_dropped), or nil if
    ///   it could not be read (the queues' draining decides alone then).
    mutating func observe(_ readings: [QueueReading], dropped: UInt64?, at now: UInt64) -> Decision? {
        defer {
            lastReadings = readings
            lastDropped = dropped
            lastObserved = now
        }
        guard targetDelay > 0, readings.count == lastReadings.count, now > lastObserved else { return nil }
        let elapsed = now - lastObserved
        // Whether the device dropped more than a hundredth of what the threads read since the last look: its queues
        // were full, not just busy (nil: unknown, without the counter; no, until there is a count to compare with).
        let read = zip(lastReadings, readings).reduce(UInt64(0)) { $0 &+ ($1.1.packetsRead &- $1.0.packetsRead) }
        let overflowing = dropped.map { dropped in lastDropped.map { (dropped &- $0) &* 100 > read } ?? false }
        // The slowest standing queue: its thread's rate with the queue full (read since the last look, over the time
        // since), and the length that holds what it forwards in the target delay.
        var slowest: (length: Int, packetsPerSecond: UInt64)?
        // (A thread that woke after `now` was taken has a busySince later than it: not standing.)
        for (before, reading) in zip(lastReadings, readings)
        where reading.busySince != 0 && now > reading.busySince && now - reading.busySince >= Self.interval {
            let read = reading.packetsRead &- before.packetsRead
            let inTarget = Self.packets(read, in: elapsed, arrivingIn: targetDelay)
            let fit = min(max(inTarget, Self.minimumLength), configuredLength)
            if fit < slowest?.length ?? .max {
                slowest = (fit, UInt64(Self.packets(read, in: elapsed, arrivingIn: 1_000_000_000)))
            }
        }
        guard slowest == nil && overflowing != true else {
            calmSince = nil
            // Cut a queue that stands and overflows. Only shorter, and by a quarter or more: each change resizes the
            // kernel's queues (and drops what is over the new length). A thread that got faster meanwhile has a
            // queue shorter than its target delay: the length comes back with the restore.
            guard let slowest, overflowing ?? true, slowest.length < length - length / 4 else { return nil }
            return .shorten(to: slowest.length, packetsPerSecond: slowest.packetsPerSecond)
        }
        guard length != configuredLength else { return nil }
        let since = calmSince ?? now
        calmSince = since
        return now &- since >= Self.calmBeforeRestoring ? .restore(to: configuredLength) : nil
    }

    /// Of `read` packets per `elapsed` ns, how many arrive in `delay` ns.
    static func packets(_ read: UInt64, in elapsed: UInt64, arrivingIn delay: UInt64) -> Int {
        let (high, low) = read.multipliedFullWidth(by: delay)
        guard high < elapsed else { return .max }
        return Int(clamping: elapsed.dividingFullWidth((high, low)).quotient)
    }

    /// The change was made in the kernel.
    mutating func applied(_ decision: Decision) {
        length = decision.length
        if case .restore = decision { calmSince = nil }
    }

    /// The device was made again with its configured length (and its counters start over).
    mutating func deviceRemade() {
        length = configuredLength
        calmSince = nil
        lastDropped = nil
    }
}
