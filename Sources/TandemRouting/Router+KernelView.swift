// The router as kernel mode programs it: each prefix's chain, and the connections (with weights) that carry a
// chain's traffic now. Kernel mode makes one kernel nexthop group per chain, so a failover rewrites a few groups,
// never the routes.

import TandemPacket

extension Router {
    /// The chain of a prefix in the RIB, or nil if the RIB has no route for exactly this prefix.
    package func chain(of prefix: RoutePrefix) -> ChainID? {
        switch prefix {
        case .v4(let p): ipv4.prefixes[p]?.chain
        case .v6(let p): ipv6.prefixes[p]?.chain
        }
    }

    /// The connections that carry a chain's traffic now, with their ECMP weights (1...100; a standby path that is
    /// in use counts as weight 1), from the first candidate group with a live member. Nil while no candidate has
    /// one (the chain's prefixes are out of the FIB).
    package func carriers(of chain: ChainID) -> [(connection: ConnectionID, weight: UInt8)]? {
        guard let resolution = chains[chain].resolution else { return nil }
        let eligible = ResilientBucketTable.eligible(groups[resolution.group].members, up: upConnections)
        guard !eligible.isEmpty else { return nil }
        return eligible.map { (ConnectionID(rawValue: $0.id), max($0.weight, 1)) }
    }

    /// Whether a chain's candidate groups have more than one member anywhere (ECMP is configured for it).
    package func isMultipath(_ chain: ChainID) -> Bool {
        chains[chain].candidates.contains { groups[$0.group].members.count > 1 }
    }
}

extension Router {
    /// The connections that carry policy route set number `index` now (the sets in order of priority, then of their
    /// first route), with their weights as ``carriers(of:)`` gives them; nil while none is up, when traffic falls
    /// through to the next policy route set and then to the destination routes.
    package func policyCarriers(ofSet index: Int) -> [(connection: ConnectionID, weight: UInt8)]? {
        guard policyGroups.indices.contains(index) else { return nil }
        let eligible = ResilientBucketTable.eligible(groups[policyGroups[index]].members, up: upConnections)
        guard !eligible.isEmpty else { return nil }
        return eligible.map { (ConnectionID(rawValue: $0.id), max($0.weight, 1)) }
    }

    /// Whether policy route set number `index` spreads over more than one connection (ECMP is configured for it).
    package func isPolicyMultipath(ofSet index: Int) -> Bool {
        policyGroups.indices.contains(index) && groups[policyGroups[index]].members.count > 1
    }
}
