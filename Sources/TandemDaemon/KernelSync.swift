// Making the kernel hold exactly what Tandem means it to: compare a dump of everything marked with Tandem's
// protocol with the plan, then delete what is stale, add what is missing and replace what differs. Run at start
// (after a crash the kernel still holds the last run's routes: reconcile leaves one copy of each), on reload, and
// after the notification socket overflowed.

import TandemLinux
import TandemPacket
import TandemRouting

/// What a reconcile did.
struct SyncSummary: CustomStringConvertible {
    var added = 0
    var replaced = 0
    var deleted = 0
    var unchanged = 0
    /// The changes the kernel refused, each naming its route or rule and the errno.
    var failures: [SystemError] = []

    var description: String {
        "\(added) added, \(replaced) replaced, \(deleted) deleted, \(unchanged) unchanged"
            + (failures.isEmpty ? "" : ", \(failures.count) refused")
    }

    static func + (lhs: SyncSummary, rhs: SyncSummary) -> SyncSummary {
        SyncSummary(
            added: lhs.added + rhs.added, replaced: lhs.replaced + rhs.replaced, deleted: lhs.deleted + rhs.deleted,
            unchanged: lhs.unchanged + rhs.unchanged, failures: lhs.failures + rhs.failures)
    }
}

/// Reconciles Tandem's routes and rules over one rtnetlink socket.
struct KernelSync {
    let netlink: RouteNetlink
    /// Tandem's `rtm_protocol`.
    let marker: UInt8

    /// Makes the routes marked with Tandem's protocol in `tables` exactly `desired`.
    ///
    /// - Parameter keepStale: Leave routes that are not desired (a reload adds first and deletes later).
    func reconcileRoutes(tables: [UInt32], desired: [KernelRoute], keepStale: Bool = false) throws(SystemError)
        -> SyncSummary
    {
        struct Key: Hashable {
            var table: UInt32
            var prefix: RoutePrefix
        }
        var present: [Key: KernelRoute] = [:]
        var stale: [KernelRoute] = []
        for route in try netlink.routes(tables: Set(tables), protocol: marker) {
            let key = Key(table: route.table, prefix: route.prefix)
            // Two copies of one prefix (an append by some other tool): keep one, delete the other.
            if present[key] != nil { stale.append(route) } else { present[key] = route }
        }
        var summary = SyncSummary()
        var changes: [RouteChange] = []
        var wanted: Set<Key> = []
        for route in desired {
            let key = Key(table: route.table, prefix: route.prefix)
            wanted.insert(key)
            if let existing = present[key] {
                if existing.target == route.target {
                    summary.unchanged += 1
                } else {
                    changes.append(.add(route, replace: true))
                    summary.replaced += 1
                }
            } else {
                changes.append(.add(route, replace: true))
                summary.added += 1
            }
        }
        if !keepStale {
            for (key, route) in present where !wanted.contains(key) { stale.append(route) }
            for route in stale { changes.append(.delete(route)) }
            summary.deleted = stale.count
        }
        summary.failures = try netlink.apply(changes)
        return summary
    }

    /// Makes the rules marked with Tandem's protocol exactly `desired`, both families.
    func reconcileRules(desired: [RoutingRule], keepStale: Bool = false) throws(SystemError) -> SyncSummary {
        var present: [RoutingRule] = []
        for family in IPFamily.allCases {
            present += try netlink.rules(family: family).filter { $0.protocol == marker }
        }
        var summary = SyncSummary()
        var seen: Set<RoutingRule> = []
        var stale: [RoutingRule] = []
        for rule in present {
            // A duplicate (two runs that both added it) is stale too: one copy stays.
            if desired.contains(rule) && seen.insert(rule).inserted { continue }
            stale.append(rule)
        }
        let missing = desired.filter { !seen.contains($0) }
        summary.unchanged = seen.count
        summary.added = missing.count
        summary.failures = try netlink.apply(rules: missing)
        if !keepStale {
            summary.deleted = stale.count
            summary.failures += try netlink.apply(rules: stale, remove: true)
        }
        return summary
    }

    /// Removes every route of `tables` and every rule marked with Tandem's protocol.
    func removeEverything(tables: [UInt32]) throws(SystemError) -> SyncSummary {
        try reconcileRoutes(tables: tables, desired: []) + reconcileRules(desired: [])
    }
}
