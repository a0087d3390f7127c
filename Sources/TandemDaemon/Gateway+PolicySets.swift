// Kernel mode's policy routes. Each policy route set (the policy routes with the same match and priority) is a FIB
// rule with the set's selectors (KernelPlan.policyRules) into a table of its own, and that table holds one default
// route through the set's nexthop group: the selected tunnels of the set's connections that are up, with their
// weights (resilient when the set spreads over several connections), as a chain's group is made. A failover
// replaces the group, one RTM_NEWNEXTHOP. While no connection of the set is up the table has no route, and the
// kernel, finding nothing in a rule's table, goes on with the next rule: the next policy route set, then Tandem's
// table of destination routes. That is userspace mode's order (PolicyRoute: "when no connection of a matching
// policy route is up, the next matching policy route is tried, then the destination routes").

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

extension Gateway {
    /// The sysctl of the kernel's multipath hash seed (Linux 6.11 on; it covers IPv6 too).
    static let multipathHashSeed = KernelSetting("net", "ipv4", "fib_multipath_hash_seed")

    /// What a policy route set's group should be now.
    enum PolicyGroupWanted {
        /// No connection of the set is up: no route in its table.
        case none
        /// A selected tunnel's nexthop is not back in the kernel yet: leave the set as it is until the retry.
        case unchanged
        case group(NexthopObject)
    }

    /// The group policy route set number `index` (of `family`) needs now.
    func policyGroup(set index: Int, family: IPFamily) -> PolicyGroupWanted {
        guard let carriers = router.policyCarriers(ofSet: index) else { return .none }
        guard let members = groupMembers(carriers, family) else { return .unchanged }
        let buckets: UInt16? = router.isPolicyMultipath(ofSet: index) ? UInt16(clamping: config.ecmp.buckets) : nil
        return .group(
            NexthopObject(
                id: KernelModeState.policyGroupID(set: index, family), protocol: config.linux.protocol,
                kind: .group(members, resilientBuckets: buckets)))
    }

    /// At start and reload: the policy route sets' groups, and their tables exactly as wanted (a previous run's or
    /// the old file's routes there go).
    func installPolicySets() throws(SystemError) -> [SystemError] {
        guard state.kernelMode != nil else { return [] }
        state.kernelMode!.policyGroups = [:]
        state.kernelMode!.policyRoutes = []
        let plan = state.plan
        let families = plan.policySets.map(\.match.source.family)
        var failures = try applyPolicyGroups(families)
        let desired = families.indices.compactMap { index -> KernelRoute? in
            let family = families[index]
            let id = KernelModeState.policyGroupID(set: index, family)
            guard state.kernelMode!.policyGroups[id] != nil, router.policyCarriers(ofSet: index) != nil else {
                return nil
            }
            return plan.policyRoute(set: index, family: family, group: id)
        }
        let summary = try sync.reconcileRoutes(tables: plan.policyTables, desired: desired)
        let refused = Set(summary.refusedRoutes.map(\.table))
        for (index, table) in plan.policyTables.enumerated() {
            if desired.contains(where: { $0.table == table }) && !refused.contains(table) {
                state.kernelMode!.policyRoutes.insert(index)
            }
        }
        if !summary.failures.isEmpty { state.kernelMode!.retryAt = now &+ 1_000_000_000 }
        failures += summary.failures
        if !families.isEmpty { log.info("kernel mode: policy route set tables: \(summary)") }
        return failures
    }

    /// After a selection change or a refusal: each policy route set's group brought to the selection (one
    /// RTM_NEWNEXTHOP per changed set), and its table's default route added while a connection of the set is up,
    /// deleted while none is.
    func refreshPolicySets() throws(SystemError) -> [SystemError] {
        let plan = state.plan
        let families = plan.policySets.map(\.match.source.family)
        guard state.kernelMode != nil, !families.isEmpty else { return [] }
        var failures = try applyPolicyGroups(families)
        var changes: [RouteChange] = []
        var indices: [Int] = []
        for (index, family) in families.enumerated() {
            let id = KernelModeState.policyGroupID(set: index, family)
            let route = plan.policyRoute(set: index, family: family, group: id)
            let installed = state.kernelMode!.policyRoutes.contains(index)
            switch policyGroup(set: index, family: family) {
            case .unchanged:
                continue
            case .none:
                guard installed else { continue }
                changes.append(.delete(route))
                state.kernelMode!.policyRoutes.remove(index)
            case .group:
                guard !installed, state.kernelMode!.policyGroups[id] != nil else { continue }
                changes.append(.add(route, replace: true))
                state.kernelMode!.policyRoutes.insert(index)
            }
            indices.append(index)
        }
        for refusal in try kernel.refusals(applying: changes) {
            failures.append(refusal.error)
            state.pending.lastError = refusal.error
            // Refused: the kernel holds what it held; the repair retries it in a second.
            let index = indices[refusal.index]
            if case .add = changes[refusal.index] {
                state.kernelMode!.policyRoutes.remove(index)
            } else {
                state.kernelMode!.policyRoutes.insert(index)
            }
            state.kernelMode!.retryAt = now &+ 1_000_000_000
        }
        if !changes.isEmpty { log.info("kernel mode: \(changes.count) policy route set route(s) changed") }
        return failures
    }

    /// Makes each policy route set's group current where a connection of the set is up (a set with none keeps its
    /// last group, unused: the kernel has no empty group). The groups go before the routes that use them.
    ///
    /// - Parameter families: Each set's family, in set order.
    private func applyPolicyGroups(_ families: [IPFamily]) throws(SystemError) -> [SystemError] {
        var changes: [NexthopChange] = []
        var before: [UInt32: [NexthopObject.GroupMember]] = [:]
        for (index, family) in families.enumerated() {
            guard case .group(let group) = policyGroup(set: index, family: family), case .group(let members, _) = group.kind,
                state.kernelMode!.policyGroups[group.id] != members
            else { continue }
            changes.append(.add(group, replace: true))
            before[group.id] = state.kernelMode!.policyGroups[group.id]
            state.kernelMode!.policyGroups[group.id] = members
        }
        var failures: [SystemError] = []
        for refusal in try kernel.refusals(applying: changes) {
            failures.append(refusal.error)
            state.pending.lastError = refusal.error
            guard case .add(let group, _) = changes[refusal.index] else { continue }
            state.kernelMode!.policyGroups[group.id] = before[group.id] ?? nil
            state.pending.nexthops.insert(group.id)
        }
        return failures
    }

    /// The policy groups the kernel removed (their last member's device lost its carrier) went with their routes.
    func forgetVanishedPolicyGroups(present: Set<UInt32>) {
        guard let kernelState = state.kernelMode else { return }
        let vanished = Set(kernelState.policyGroups.keys).subtracting(present)
        guard !vanished.isEmpty else { return }
        for id in vanished { state.kernelMode!.policyGroups[id] = nil }
        let families = state.plan.policySets.map(\.match.source.family)
        for index in kernelState.policyRoutes where families.indices.contains(index) {
            let family = families[index]
            if vanished.contains(KernelModeState.policyGroupID(set: index, family)) {
                state.kernelMode!.policyRoutes.remove(index)
            }
        }
    }
}
