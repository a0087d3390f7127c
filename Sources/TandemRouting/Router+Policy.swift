// Policy routes: compiled per family into a PolicyClassifier and published whole.

import TandemPacket

extension Router {
    /// Replaces every policy route. Routes with the same match and priority form one ECMP set over their
    /// connections; the rest keep their order within a priority. Nothing changes if it throws.
    public func replacePolicyRoutes(_ routes: [PolicyRoute]) throws(RoutingError) {
        for route in routes {
            try checkConnection(route.connection)
            guard (1...100).contains(route.priority) else { throw .policyPriority(route) }
        }
        // Merge routes with the same match and priority into sets, in first-seen order, then sort by priority
        // (stable, so configuration order breaks ties).
        var sets: [(match: PolicyRoute.Match, priority: UInt8, members: [ECMPMember])] = []
        var setIndex: [PolicyKey: Int] = [:]
        for route in routes {
            let key = PolicyKey(match: route.match, priority: route.priority)
            let member = ECMPMember(id: route.connection.rawValue, weight: route.weight)
            if let index = setIndex[key] {
                sets[index].members.removeAll { $0.id == member.id }
                sets[index].members.append(member)
            } else {
                setIndex[key] = sets.count
                sets.append((route.match, route.priority, [member]))
            }
        }
        let ordered = sets.enumerated().sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }
        var newGroups: [GroupID] = []
        do {
            for set in ordered { newGroups.append(try acquireGroup(set.element.members)) }
        } catch {
            for group in newGroups { groups.release(group) }
            throw error
        }
        var v4: [PolicyClassifier<UInt32>.Input] = []
        var v6: [PolicyClassifier<UInt128>.Input] = []
        for (set, group) in zip(ordered.map(\.element), newGroups) {
            switch (set.match.source, set.match.destination) {
            case (.v4(let source), .v4(let destination)):
                v4.append(
                    .init(
                        source: (source.address.rawValue, source.length),
                        destination: (destination.address.rawValue, destination.length),
                        protocol: set.match.protocol, ports: set.match.destinationPorts, group: group))
            case (.v6(let source), .v6(let destination)):
                v6.append(
                    .init(
                        source: (source.address.rawValue, source.length),
                        destination: (destination.address.rawValue, destination.length),
                        protocol: set.match.protocol, ports: set.match.destinationPorts, group: group))
            default:
                // Mixed families never match a packet; the configuration layer reports them as errors.
                continue
            }
        }
        let oldV4 = plane.exchangePolicyV4(v4.isEmpty ? nil : PolicyClassifier(v4))
        let oldV6 = plane.exchangePolicyV6(v6.isEmpty ? nil : PolicyClassifier(v6))
        // The old classifiers may still be in a reader's hands: free them once every reader has moved on.
        let epoch = plane.readers.retire()
        if let oldV4 { retired.add(oldV4, epoch: epoch) }
        if let oldV6 { retired.add(oldV6, epoch: epoch) }
        retired.reclaim(plane.readers)
        for group in policyGroups { groups.release(group) }
        policyGroups = newGroups
    }
}

/// A policy route's identity for merging into ECMP sets.
struct PolicyKey: Hashable {
    var match: PolicyRoute.Match
    var priority: UInt8
}
