// Where learning stands when notifications were lost (ENOBUFS: a routing daemon loading a full table faster than
// Tandem reads). The table is dumped off the control thread; notifications read meanwhile wait in a queue; then
// the dump and the queue are applied a bounded batch per turn of the control thread, which also times the health
// checks. Part of GatewayState: a reload carries it over.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

/// Learning's progress through a resync.
struct LearningProgress {
    enum Phase {
        /// Notifications are applied as they are read.
        case live
        /// A dump of the watched table is being made (its result arrives with ``Gateway/dumpFinished(_:)``).
        case dumping
        /// A dump is being applied, a batch per turn; then the queue.
        case applying(DumpApplication)
    }

    var phase = Phase.live
    /// Notifications read since the dump began, in order; applied after it (from `queueStart` on).
    private(set) var queue: [RouteNotification] = []
    private var queueStart = 0
    /// More notifications were lost after the dump began: another dump once this one is applied.
    var dumpAgain = false
    /// When to try the dump again after it failed (monotonic nanoseconds).
    var dumpRetryAt: UInt64?

    /// Whether notifications must wait in the queue rather than be applied at once.
    var isResyncing: Bool {
        if case .live = phase { return queueStart < queue.count }
        return true
    }

    /// Whether a batch is waiting to be applied (a dump being applied, or queued notifications after one).
    var hasBatch: Bool {
        switch phase {
        case .live: queueStart < queue.count
        case .dumping: false
        case .applying: true
        }
    }

    var queuedCount: Int { queue.count - queueStart }

    mutating func enqueue(_ notifications: [RouteNotification]) { queue += notifications }

    /// Takes up to `count` queued notifications, oldest first.
    mutating func dequeue(upTo count: Int) -> ArraySlice<RouteNotification> {
        let end = min(queue.count, queueStart + count)
        defer {
            queueStart = end
            if queueStart == queue.count {
                queue = []
                queueStart = 0
            }
        }
        return queue[queueStart..<end]
    }
}

/// A dump of the watched table, made on a thread of its own: the routes and the set of their prefixes (a million
/// insertions that the control thread does not make).
struct WatchedTableDump: Sendable {
    let routes: [KernelRoute]
    let prefixes: Set<RoutePrefix>

    init(routes: [KernelRoute]) {
        self.routes = routes
        prefixes = Set(routes.map(\.prefix))
    }

    /// The routes of `learning`'s table with one of its protocols, from a dump through `kernel` (the core's port at
    /// start, a port of the dumping thread's own after an overflow).
    static func routes(of learning: GatewayConfig.Learning, from kernel: any KernelPort) throws(SystemError)
        -> [KernelRoute]
    {
        if let only = dumpProtocol(of: learning) { return try kernel.routes(table: learning.table, protocol: only) }
        return try kernel.routes(table: learning.table).filter { learning.protocols.contains($0.protocol) }
    }

    /// The protocol a dump of `learning`'s table asks the kernel for: the one learned, if there is one (BIRD or
    /// FRR, as a router runs one), so that the kernel leaves the others out and a million routes are not copied
    /// into a filtered array; nil for several (the dump is filtered after).
    static func dumpProtocol(of learning: GatewayConfig.Learning) -> UInt8? {
        Set(learning.protocols).count == 1 ? learning.protocols[0] : nil
    }
}

/// A dump being applied: its routes learned in order, then the learned prefixes it lacks withdrawn.
struct DumpApplication {
    let dump: WatchedTableDump
    /// The first route not learned yet.
    var nextRoute = 0
    /// Once every route is learned: the learned prefixes then, checked against the dump from `nextCandidate` on.
    var candidates: [RoutePrefix]?
    var nextCandidate = 0

    init(_ dump: WatchedTableDump) { self.dump = dump }
}
