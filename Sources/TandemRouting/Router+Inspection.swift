// Read-only views of the RIB and the next-hop groups for `tandem show` and `tandem lookup`: the prefixes of the
// RIB (a full table holds a million; callers page through them), the groups with their members, and the longest
// RIB prefix covering an address. Control thread only, like every other router call.

import TandemLPM
import TandemPacket

extension Router {
    /// A next-hop group as `show groups` prints it.
    package struct GroupView: Sendable {
        package var id: GroupID
        /// (connection, weight), sorted by connection.
        package var members: [(connection: ConnectionID, weight: UInt8)]
        /// At least one member is up.
        package var isLive: Bool
        /// Route chains and policy route sets that use the group.
        package var chains: Int
        package var policySets: Int
    }

    /// The prefixes of the RIB, per family, in no particular order (the caller sorts or pages).
    package func ribPrefixes() -> (ipv4: [IPv4Prefix], ipv6: [IPv6Prefix]) {
        (Array(ipv4.prefixes.keys), Array(ipv6.prefixes.keys))
    }

    /// Whether a prefix is in the FIB (its chain resolves to a live group); nil if the RIB has no route for it.
    package func isInstalled(_ prefix: RoutePrefix) -> Bool? {
        switch prefix {
        case .v4(let p): ipv4.prefixes[p]?.installed
        case .v6(let p): ipv6.prefixes[p]?.installed
        }
    }

    /// The most specific prefix of the RIB that contains `prefix` (itself included), or nil.
    package func coveringPrefix(of prefix: RoutePrefix) -> RoutePrefix? {
        switch prefix {
        case .v4(let p):
            for length in stride(from: p.length, through: 0, by: -1) {
                let candidate = IPv4Prefix(normalizing: p.address, length: length)
                if ipv4.prefixes[candidate] != nil { return .v4(candidate) }
            }
        case .v6(let p):
            for length in stride(from: p.length, through: 0, by: -1) {
                let candidate = IPv6Prefix(normalizing: p.address, length: length)
                if ipv6.prefixes[candidate] != nil { return .v6(candidate) }
            }
        }
        return nil
    }

    /// Every next-hop group in use, by id.
    package func groupViews() -> [GroupView] {
        var chainCount: [GroupID: Int] = [:]
        for (id, _) in groups.groups {
            let group = GroupID(rawValue: UInt32(id))
            chainCount[group] = chains.chainsOfGroup[group]?.count ?? 0
        }
        var policyCount: [GroupID: Int] = [:]
        for group in policyGroups { policyCount[group, default: 0] += 1 }
        return groups.groups.keys.sorted().map { slot in
            let id = GroupID(rawValue: UInt32(slot))
            let group = groups[id]
            return GroupView(
                id: id, members: group.members.map { (ConnectionID(rawValue: $0.id), $0.weight) },
                isLive: group.isLive, chains: chainCount[id] ?? 0, policySets: policyCount[id] ?? 0)
        }
    }
}
