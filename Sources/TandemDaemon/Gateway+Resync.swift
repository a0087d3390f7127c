// Learning without holding up the health checks. The control thread that reads route notifications also times the
// probes, so no step of learning may take long, whatever BIRD does: a read takes a bounded batch of notifications
// (the rest waits in the socket); after lost notifications (ENOBUFS) the watched table is dumped on a thread of
// its own (the daemon's `dumpWatchedTable`; without one, here and now), notifications read meanwhile are queued,
// and the dump, the withdrawals it implies and the queue are applied a bounded batch per tick.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Gateway {
    /// Notifications read, or routes of a dump applied, per turn of the control thread: about 15 ms of learning
    /// and kernel changes on a 2-core VM (2,048 took 40 to 60 ms, and probes due every 20 ms went out late).
    static let learningBatch = 512
    /// Learned prefixes checked against a dump per turn (a set lookup each).
    static let resyncChecksPerTurn = 65_536

    /// Reads a batch of what `source` has queued and applies it (or queues it during a resync); after an overflow
    /// (ENOBUFS), starts a resync.
    func readNotifications(from source: any RouteNotificationSource) {
        guard let learning = config.learning else { return }
        do {
            let notifications = try source.read(
                table: learning.table, protocols: Set(learning.protocols), atMost: Self.learningBatch)
            if state.learning.isResyncing {
                state.learning.enqueue(notifications)
            } else {
                apply(notifications[...], flood: notifications.count > Self.learningLinesPerRead)
                // The socket is drained: the end of a flood gets its summary even if one was written a moment ago.
                if notifications.count < Self.learningBatch { summarizeLearning(owedOnly: true) }
            }
        } catch where error.code == ENOBUFS {
            metrics.recordNetlinkErrors(1)
            notificationsLost()
        } catch {
            log.error("reading route notifications: \(error)")
        }
    }

    /// The notification socket overflowed: a dump, or another one after the one under way.
    func notificationsLost() {
        guard let learning = config.learning else { return }
        if case .live = state.learning.phase {
            log.warning("route notifications overflowed (ENOBUFS): dumping table \(learning.table) to resync")
            startDump()
        } else {
            state.learning.dumpAgain = true
        }
    }

    /// Asks for a dump of the watched table: the daemon's thread, or here and now without one.
    func startDump() {
        guard let learning = config.learning else { return }
        state.learning.phase = .dumping
        state.learning.dumpRetryAt = nil
        if let dumpWatchedTable {
            dumpWatchedTable(learning)
        } else {
            dumpFinished(Result { () throws(SystemError) in WatchedTableDump(routes: try watchedRoutes()) })
        }
    }

    /// A dump of the watched table arrived (or failed: then another in a second).
    func dumpFinished(_ result: Result<WatchedTableDump, SystemError>) {
        guard case .dumping = state.learning.phase else { return }
        switch result {
        case .success(let dump):
            // The dump says what the table holds: the routes that waited at the quota wait again if it has them
            // (in its order), and are gone if it has not.
            state.overQuota = PendingLearnedRoutes()
            state.learning.phase = .applying(DumpApplication(dump))
        case .failure(let error):
            log.error("resync of learned routes: \(error); dumping again in 1 s")
            state.learning.dumpRetryAt = now &+ 1_000_000_000
        }
    }

    /// When learning needs the next tick: at once while a batch waits, or when a failed dump is retried.
    var learningDeadline: UInt64? {
        state.learning.hasBatch ? 0 : state.learning.dumpRetryAt
    }

    /// One turn of a resync: a batch of the dump's routes, or of the withdrawals it implies, or of the queue;
    /// then the kernel's routes of the prefixes that changed, in one netlink batch.
    func continueResync() {
        if let retry = state.learning.dumpRetryAt, retry <= now, case .dumping = state.learning.phase { startDump() }
        guard state.learning.hasBatch else { return }
        var changed: Set<RoutePrefix> = []
        if case .applying(var application) = state.learning.phase {
            // Out of the enum while it changes, so that the dump is not copied.
            state.learning.phase = .dumping
            let finished = applyBatch(of: &application, changed: &changed)
            state.learning.phase = finished ? .live : .applying(application)
            if finished {
                metrics.recordLearningResync()
                log.info(
                    "resync: \(state.learned.count) learned route(s), \(state.learning.queuedCount) notification(s) "
                        + "queued meanwhile")
                if state.learning.dumpAgain {
                    state.learning.dumpAgain = false
                    log.warning("route notifications were lost again during the resync: dumping once more")
                    startDump()
                }
            }
        } else {
            let batch = state.learning.dequeue(upTo: Self.learningBatch)
            changed = apply(batch, flood: true, updatingKernel: false)
            if !state.learning.isResyncing {
                log.info("resync done: \(state.learned.count) route(s) learned now")
                learningSummaryOwed = false
            }
        }
        if !changed.isEmpty { updateRemoteRoutes(changed) }
        scheduleRetryIfPending()
    }

    /// Learns a batch of the dump's routes, or withdraws a batch of the learned prefixes it lacks; true when done.
    private func applyBatch(of application: inout DumpApplication, changed: inout Set<RoutePrefix>) -> Bool {
        learningFlood = true
        defer { learningFlood = false }
        let routes = application.dump.routes
        if application.nextRoute < routes.count {
            let end = min(routes.count, application.nextRoute + Self.learningBatch)
            router.batchingInserts {
                for route in routes[application.nextRoute..<end] where learn(route) { changed.insert(route.prefix) }
            }
            application.nextRoute = end
            return false
        }
        // Every route of the dump is learned: what else was learned is gone from the table.
        if application.candidates == nil {
            application.candidates = Array(state.learned.keys)
            return false
        }
        let candidates = application.candidates!
        var withdrawn = 0
        var index = application.nextCandidate
        let end = min(candidates.count, index + Self.resyncChecksPerTurn)
        while index < end && withdrawn < Self.learningBatch {
            let prefix = candidates[index]
            index += 1
            guard !application.dump.prefixes.contains(prefix), state.learned[prefix] != nil else { continue }
            forget(prefix)
            changed.insert(prefix)
            withdrawn += 1
        }
        application.nextCandidate = index
        if withdrawn > 0 { changed.formUnion(takeWaitingRoutes()) }
        return index == candidates.count
    }

    /// Applies notifications in order: learns and withdraws, then (unless told not to) updates the kernel in one
    /// batch. Returns the prefixes whose routes changed.
    @discardableResult
    func apply(
        _ notifications: ArraySlice<RouteNotification>, flood: Bool, updatingKernel: Bool = true
    ) -> Set<RoutePrefix> {
        learningFlood = flood
        defer { learningFlood = false }
        var changed: Set<RoutePrefix> = []
        // The pipeline threads see the batch's routes when it is applied (a withdrawal makes the inserts before it).
        router.batchingInserts {
            for notification in notifications {
                switch notification {
                case .added(let route): if learn(route) { changed.insert(route.prefix) }
                case .removed(let route): if withdraw(route) { changed.insert(route.prefix) }
                }
            }
        }
        if !state.overQuota.isEmpty { changed.formUnion(takeWaitingRoutes()) }
        if updatingKernel && !changed.isEmpty { updateRemoteRoutes(changed) }
        if flood && updatingKernel {
            learningSummaryOwed = true
            summarizeLearning(owedOnly: false)
        }
        return changed
    }

    /// The flood's summary line, at most one a second; `owedOnly`: now if one was held back, whatever the time.
    func summarizeLearning(owedOnly: Bool) {
        guard learningSummaryOwed else { return }
        let now = self.now
        guard owedOnly || learningSummaryTime.map({ now &- $0 >= 1_000_000_000 }) ?? true else { return }
        learningSummaryTime = now
        learningSummaryOwed = false
        log.info("learning: \(state.learned.count) route(s) learned now")
    }
}
