// The tunnels' next hops, kept resolved by the kernel (KernelPlan+Neighbours.swift): made managed at start, after a
// reload and when a tunnel's interface comes back (a device deleted and made again has none; asking again for an
// entry that is there changes nothing); deleted with the rest of Tandem's kernel state at stop.

import TandemLinux

extension Gateway {
    /// Makes each tunnel's next hops managed neighbour entries, and deletes Tandem's entries that no tunnel has any
    /// more. A refusal costs a failover's speed, not its traffic: it is logged, and asked again on the next
    /// occasion (a reload, the interface coming back, the next start).
    ///
    /// - Parameter interfaces: The index of each tunnel interface that exists (``tunnelInterfaces(of:)``), which
    ///   the caller has just read for the tunnel tables.
    func keepNextHopsResolved(interfaces: [String: UInt32]) {
        reconcileNeighbours(wanted: state.plan.nextHopNeighbours(interfaceIndex: interfaces))
    }

    /// Deletes Tandem's neighbour entries.
    func forgetNextHops() { reconcileNeighbours(wanted: []) }

    private func reconcileNeighbours(wanted: [NeighbourEntry.Key]) {
        do {
            let changes = state.plan.neighbourChanges(wanted: wanted, present: try kernel.neighbours())
            guard !changes.isEmpty else { return }
            let refusals = try kernel.refusals(applying: changes)
            for refusal in refusals {
                log.warning("\(refusal.error): a failover to this next hop may wait for neighbour discovery")
            }
            metrics.recordNetlinkErrors(refusals.count)
        } catch {
            log.error("keeping the tunnels' next hops resolved: \(error)")
        }
    }
}
