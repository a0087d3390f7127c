// The next-hop sets a configuration needs: routes that share a prefix, source and metric are one ECMP group
// over their connections, and every group with the same (connection, weight) pairs can share one next-hop
// group in the FIB. The routing layer compiles the same thing; this is the configuration's view of it, for
// `check-config` and for comparing the two.

import TandemPacket
import TandemRouting

/// One path of a next-hop set: a connection and its ECMP weight.
public struct NextHop: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The connection's name.
    public var connection: String
    /// 0...100; 0 is a standby path.
    public var weight: Int

    /// Makes a next hop.
    public init(connection: String, weight: Int) {
        self.connection = connection
        self.weight = weight
    }

    /// By connection, then weight.
    public static func < (lhs: NextHop, rhs: NextHop) -> Bool {
        (lhs.connection, lhs.weight) < (rhs.connection, rhs.weight)
    }

    /// `to-cloud:100`.
    public var description: String { "\(connection):\(weight)" }
}

/// The distinct sets of (connection, weight) pairs that the routes of a configuration lead to.
public struct NextHopSets: Hashable, Sendable {
    /// The destination routes of one prefix, source and metric.
    public struct DestinationGroup: Hashable, Sendable {
        /// The prefix.
        public var prefix: RoutePrefix
        /// The route source.
        public var source: RouteSource
        /// The metric.
        public var metric: UInt32
        /// The index of the group's set in ``NextHopSets/sets``.
        public var set: Int
        /// The indices of the group's routes in ``GatewayConfig/routes``.
        public var routes: [Int]
    }

    /// The policy routes of one match and priority.
    public struct PolicyGroup: Hashable, Sendable {
        /// What the routes match.
        public var match: GatewayConfig.PolicyRoute.Match
        /// The priority.
        public var priority: Int
        /// The index of the group's set in ``NextHopSets/sets``.
        public var set: Int
        /// The indices of the group's routes in ``GatewayConfig/policyRoutes``.
        public var routes: [Int]
    }

    /// The distinct sets, in the order first used (destination routes first, then policy routes); each set is
    /// sorted by connection.
    public var sets: [[NextHop]]
    /// The destination route groups, in the order of their first route.
    public var destinationGroups: [DestinationGroup]
    /// The policy route groups, in the order of their first route.
    public var policyGroups: [PolicyGroup]

    /// The number of distinct sets.
    public var count: Int { sets.count }
}

extension GatewayConfig {
    /// Groups the routes as the RIB will and lists the distinct next-hop sets.
    ///
    /// Destination routes are grouped by (prefix, source, metric) and policy routes by (match, priority); each
    /// group's (connection, weight) pairs form its set, and equal sets are counted once over both kinds.
    ///
    /// - Returns: The sets and the groups that use them.
    public func nextHopSets() -> NextHopSets {
        var sets: [[NextHop]] = []
        var setIndex: [[NextHop]: Int] = [:]
        func index(of set: [NextHop]) -> Int {
            if let known = setIndex[set] { return known }
            sets.append(set)
            setIndex[set] = sets.count - 1
            return sets.count - 1
        }

        struct DestinationKey: Hashable {
            let prefix: RoutePrefix
            let source: RouteSource
            let metric: UInt32
        }
        var destinationOrder: [DestinationKey] = []
        var destinationRoutes: [DestinationKey: [Int]] = [:]
        for (offset, route) in routes.enumerated() {
            let key = DestinationKey(prefix: route.prefix, source: route.source, metric: route.metric)
            if destinationRoutes[key] == nil { destinationOrder.append(key) }
            destinationRoutes[key, default: []].append(offset)
        }
        let destinationGroups = destinationOrder.map { key in
            let members = destinationRoutes[key]!
            let set = Set(members.map { NextHop(connection: routes[$0].connection, weight: routes[$0].weight) })
            return NextHopSets.DestinationGroup(
                prefix: key.prefix, source: key.source, metric: key.metric, set: index(of: set.sorted()),
                routes: members)
        }

        struct PolicyKey: Hashable {
            let match: PolicyRoute.Match
            let priority: Int
        }
        var policyOrder: [PolicyKey] = []
        var policyMembers: [PolicyKey: [Int]] = [:]
        for (offset, route) in policyRoutes.enumerated() {
            let key = PolicyKey(match: route.match, priority: route.priority)
            if policyMembers[key] == nil { policyOrder.append(key) }
            policyMembers[key, default: []].append(offset)
        }
        let policyGroups = policyOrder.map { key in
            let members = policyMembers[key]!
            let set = Set(
                members.map { NextHop(connection: policyRoutes[$0].connection, weight: policyRoutes[$0].weight) })
            return NextHopSets.PolicyGroup(
                match: key.match, priority: key.priority, set: index(of: set.sorted()), routes: members)
        }
        return NextHopSets(sets: sets, destinationGroups: destinationGroups, policyGroups: policyGroups)
    }
}
