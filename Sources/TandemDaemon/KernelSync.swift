// Making the kernel hold exactly what Tandem means it to: compare a dump of everything marked with Tandem's
// protocol with the plan, then delete what is stale, add what is missing and replace what differs. Run at start
// (after a crash the kernel still holds the last run's routes: reconcile leaves one copy of each), on reload, and
// after the notification socket overflowed. What the kernel refuses comes back by name, so that the gateway can
// record it as missing and retry it.

import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// What a reconcile did.
struct SyncSummary: CustomStringConvertible, Sendable {
    var added = 0
    var replaced = 0
    var deleted = 0
    var unchanged = 0
    /// The changes the kernel refused, each naming its route or rule and the errno.
    var failures: [SystemError] = []
    /// The routes and rules it refused to add: not in the kernel as wanted.
    var refusedRoutes: [KernelRoute] = []
    var refusedRules: [RoutingRule] = []

    var description: String {
        "\(added) added, \(replaced) replaced, \(deleted) deleted, \(unchanged) unchanged"
            + (failures.isEmpty ? "" : ", \(failures.count) refused")
    }

    static func + (lhs: SyncSummary, rhs: SyncSummary) -> SyncSummary {
        SyncSummary(
            added: lhs.added + rhs.added, replaced: lhs.replaced + rhs.replaced, deleted: lhs.deleted + rhs.deleted,
            unchanged: lhs.unchanged + rhs.unchanged, failures: lhs.failures + rhs.failures,
            refusedRoutes: lhs.refusedRoutes + rhs.refusedRoutes, refusedRules: lhs.refusedRules + rhs.refusedRules)
    }
}

/// Reconciles Tandem's routes and rules through the kernel seam.
struct KernelSync {
    let kernel: any KernelPort
    let plan: KernelPlan

    /// Tandem's `rtm_protocol`.
    var marker: UInt8 { plan.marker }

    /// Makes the routes marked with Tandem's protocol in `tables` exactly `desired`.
    ///
    /// - Parameters:
    ///   - keepStale: Leave routes that are not desired (a reload adds first and deletes later).
    ///   - family: Only this family's routes: those of the other are left as they are.
    func reconcileRoutes(
        tables: [UInt32], desired: [KernelRoute], keepStale: Bool = false, family: IPFamily? = nil
    ) throws(SystemError) -> SyncSummary {
        struct Key: Hashable {
            var table: UInt32
            var prefix: RoutePrefix
        }
        var present: [Key: KernelRoute] = [:]
        var stale: [KernelRoute] = []
        for route in try kernel.routes(tables: Set(tables), protocol: marker)
        where family == nil || route.prefix.family == family {
            let key = Key(table: route.table, prefix: route.prefix)
            // Two copies of one prefix (an append by some other tool): keep one, delete the other.
            if present[key] != nil { stale.append(route) } else { present[key] = route }
        }
        var summary = SyncSummary()
        var changes: [RouteChange] = []
        changes.reserveCapacity(desired.count)
        // What is left in `present` once every desired route has taken its own is stale.
        for route in desired {
            let key = Key(table: route.table, prefix: route.prefix)
            if let existing = present.removeValue(forKey: key) {
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
            stale += present.values
            for route in stale { changes.append(.delete(route)) }
            summary.deleted = stale.count
        }
        // A bulk change (a full table at start) goes longest prefix first, which the kernel takes faster; a small one
        // keeps the plan's order, so that a tunnel's routes go in, and are refused, as the plan lists them.
        if changes.count > RouteNetlink.changesPerRound { changes = RouteChange.inInstallationOrder(changes) }
        for refusal in try kernel.refusals(applying: changes) {
            summary.failures.append(refusal.error)
            if case .add(let route, _) = changes[refusal.index] { summary.refusedRoutes.append(route) }
        }
        return summary
    }

    /// Makes this gateway's rules (``KernelPlan/owns(_:)``) exactly `desired`, both families.
    func reconcileRules(desired: [RoutingRule], keepStale: Bool = false) throws(SystemError) -> SyncSummary {
        var present: [RoutingRule] = []
        for family in IPFamily.allCases {
            present += try kernel.rules(family: family).filter(plan.owns)
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
        for refusal in try kernel.refusals(applying: missing, remove: false) {
            // Already there (a race with a previous run's cleanup): in place, not refused.
            if refusal.error.code == EEXIST { continue }
            summary.failures.append(refusal.error)
            summary.refusedRules.append(missing[refusal.index])
        }
        if !keepStale {
            summary.deleted = stale.count
            summary.failures += try kernel.refusals(applying: stale, remove: true).map(\.error)
        }
        return summary
    }

    /// Removes every route of `tables` and every rule of this gateway's.
    func removeEverything(tables: [UInt32]) throws(SystemError) -> SyncSummary {
        try reconcileRoutes(tables: tables, desired: []) + reconcileRules(desired: [])
    }
}
