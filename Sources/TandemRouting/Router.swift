// The control path of the gateway's routing: the RIB (destination routes by source and priority, policy
// routes), next-hop groups, tunnel selection, and their compilation into the lock-free ForwardingPlane.

import TandemLPM
import TandemPacket

/// What the router is built from: tunnels, connections, ECMP and limits, routes. Indices are positions in the
/// arrays (`ConnectionID(2)` is `connections[2]`); TandemConfig makes this from a YAML file.
public struct RouterConfiguration: Sendable {
    /// A tunnel, as the router needs to know it (the data plane knows its device).
    public struct Tunnel: Hashable, Sendable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    /// A connection: one tunnel, or an active and a standby tunnel.
    public struct Connection: Hashable, Sendable {
        public var name: String
        /// 1 or 2 tunnels: the active first, the standby second.
        public var tunnels: [TunnelID]
        public init(name: String, tunnels: [TunnelID]) {
            self.name = name
            self.tunnels = tunnels
        }
    }

    public var tunnels: [Tunnel]
    public var connections: [Connection]
    /// Buckets per next-hop group (a power of two, 64...65536).
    public var bucketsPerGroup: Int
    /// The most routes ``Router/learn(_:via:metric:)`` accepts.
    public var dynamicRouteQuota: Int
    /// Destination routes (any source; dynamic ones here are not counted against the quota).
    public var routes: [Route]
    public var policyRoutes: [PolicyRoute]
    /// Capacities of the read-side arenas.
    public var capacity: ForwardingPlane.Capacity

    public init(
        tunnels: [Tunnel], connections: [Connection], bucketsPerGroup: Int = 1024, dynamicRouteQuota: Int = 50,
        routes: [Route] = [], policyRoutes: [PolicyRoute] = [], capacity: ForwardingPlane.Capacity = .init()
    ) {
        self.tunnels = tunnels
        self.connections = connections
        self.bucketsPerGroup = bucketsPerGroup
        self.dynamicRouteQuota = dynamicRouteQuota
        self.routes = routes
        self.policyRoutes = policyRoutes
        self.capacity = capacity
        self.capacity.bucketsPerGroup = bucketsPerGroup
    }
}

/// Why the router refused a change. Nothing changed when it throws.
public enum RoutingError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownConnection(ConnectionID)
    case unknownTunnel(TunnelID)
    case tunnelNotInConnection(TunnelID, connection: String)
    case badConnection(String, reason: String)
    case capacityExhausted(String)
    case policyPriority(PolicyRoute)

    public var description: String {
        switch self {
        case .unknownConnection(let id): "no connection with index \(id.rawValue)"
        case .unknownTunnel(let id): "no tunnel with index \(id.rawValue)"
        case .tunnelNotInConnection(let tunnel, let connection):
            "tunnel index \(tunnel.rawValue) is not a tunnel of connection '\(connection)'"
        case .badConnection(let name, let reason): "connection '\(name)': \(reason)"
        case .capacityExhausted(let what):
            "the forwarding plane has no room for more \(what); raise its capacity"
        case .policyPriority(let route): "policy route \(route): priority must be 1...100"
        }
    }
}

/// What happened to a route offered by a routing daemon.
public enum LearnOutcome: Hashable, Sendable {
    /// Now in the RIB (new, or replacing the same prefix's dynamic route through the same connection).
    case installed
    /// A dynamic default route (0.0.0.0/0, ::/0) is never installed: it would pull all traffic to one peer.
    case refusedDefaultRoute
    /// The RIB holds the quota of dynamic routes already.
    case refusedOverQuota(quota: Int)
}

/// Counters of the control path.
public struct RouterCounters: Hashable, Sendable {
    public var refusedDynamicDefaults = 0
    public var refusedDynamicOverQuota = 0
    /// Changes of a connection's selected tunnel.
    public var tunnelSelections = 0
    /// Next-hop group bucket tables republished.
    public var groupRewrites = 0
    /// Prefixes installed or removed because their chain's resolution appeared or vanished.
    public var prefixResyncs = 0
}

/// The gateway's routing brain: one writer thread changes it; the packet pipeline reads ``plane``.
///
/// Destination routes rank by longest prefix, then source priority (specific > system > static > dynamic), then
/// metric; routes that tie form an ECMP next-hop group. A group's members are connections; a connection carries
/// traffic on its selected tunnel. When both tunnels of a connection are down it leaves its groups; a group
/// with no live member makes its prefixes fall back to their next candidate (another source), and a prefix with
/// no live candidate leaves the FIB so that a less specific prefix answers.
public final class Router {
    /// The lock-free read side, for the pipeline.
    public let plane: ForwardingPlane
    public let configuration: RouterConfiguration
    public private(set) var counters = RouterCounters()

    var groups: NextHopGroups
    var chains: RouteChains
    /// The last ranked routes a chain was acquired for, and that chain: a full table learned from one peer is a
    /// million prefixes with the same one route, and their chain is found again without building its candidate
    /// groups (four arrays and two hashes of them each). Valid while no chain was freed since (`freed`), for the
    /// chain holds its groups and equal routes make the same groups.
    var lastAcquired: (routes: [RouteEntry], chain: ChainID, freed: Int)?
    var ipv4: FamilyRIB<IPv4Table>
    var ipv6: FamilyRIB<IPv6Table>
    /// Connections with a selected tunnel (members of their groups), by raw id.
    private(set) var upConnections: Set<UInt32> = []
    private var selected: [TunnelID?]
    /// Dynamic routes in the RIB (the quota counts these).
    public private(set) var dynamicRouteCount = 0
    var policyGroups: [GroupID] = []
    let retired = RetiredObjects()

    /// Builds the router: every connection starts on its active (first) tunnel; the routes are compiled.
    public init(_ configuration: RouterConfiguration) throws(RoutingError) {
        for connection in configuration.connections {
            guard (1...2).contains(connection.tunnels.count) else {
                throw .badConnection(connection.name, reason: "needs one or two tunnels, has \(connection.tunnels.count)")
            }
            for tunnel in connection.tunnels where tunnel.index >= configuration.tunnels.count {
                throw .unknownTunnel(tunnel)
            }
        }
        guard configuration.connections.count <= configuration.capacity.connections else {
            throw .capacityExhausted("connections")
        }
        self.configuration = configuration
        plane = ForwardingPlane(capacity: configuration.capacity)
        groups = NextHopGroups(capacity: configuration.capacity.groups, bucketsPerGroup: configuration.bucketsPerGroup)
        chains = RouteChains(capacity: configuration.capacity.chains)
        ipv4 = FamilyRIB(table: plane.ipv4)
        ipv6 = FamilyRIB(table: plane.ipv6)
        selected = configuration.connections.map { $0.tunnels.first }
        for (index, connection) in configuration.connections.enumerated() {
            plane.setTunnel(connection.tunnels[0], of: ConnectionID(index))
            upConnections.insert(UInt32(index))
        }
        try load(configuration.routes)
        try replacePolicyRoutes(configuration.policyRoutes)
    }

    // MARK: Connections and tunnels

    /// The tunnel that carries a connection's traffic, or nil while both are down.
    public func selectedTunnel(of connection: ConnectionID) -> TunnelID? { selected[connection.index] }

    /// Whether a connection is a member of its groups (has a selected tunnel).
    public func isUp(_ connection: ConnectionID) -> Bool { upConnections.contains(connection.rawValue) }

    /// Moves a connection's traffic to `tunnel` (one of its own), or takes it out of its groups (nil).
    ///
    /// A switch between the two tunnels of a connection is one store in the plane, whatever the table size. A
    /// connection going down or coming back rewrites the buckets of the groups it belongs to (a few thousand
    /// words each); only if that empties a group, or revives an empty one, do prefixes move (see ``Router``).
    public func selectTunnel(_ tunnel: TunnelID?, for connection: ConnectionID) throws(RoutingError) {
        guard connection.index < configuration.connections.count else { throw .unknownConnection(connection) }
        let spec = configuration.connections[connection.index]
        if let tunnel, !spec.tunnels.contains(tunnel) { throw .tunnelNotInConnection(tunnel, connection: spec.name) }
        guard selected[connection.index] != tunnel else { return }
        selected[connection.index] = tunnel
        counters.tunnelSelections += 1
        let wasUp = upConnections.contains(connection.rawValue)
        if let tunnel {
            // Up (or a switch): the tunnel word first, so a connection rejoining its groups has somewhere to go.
            plane.setTunnel(tunnel, of: connection)
            if !wasUp { setMembership(connection, up: true) }
        } else {
            // Down: out of the groups. The plane keeps the connection's last tunnel, so that a reader that picked
            // the connection from the old buckets still finds the tunnel it had (see ForwardingPlane.tunnel(of:)).
            setMembership(connection, up: false)
        }
    }

    /// Adds or removes a connection from its groups and follows the consequences down to the FIB.
    private func setMembership(_ connection: ConnectionID, up: Bool) {
        if up { upConnections.insert(connection.rawValue) } else { upConnections.remove(connection.rawValue) }
        var changedChains: Set<ChainID> = []
        for group in groups.groupsOfConnection[connection] ?? [] {
            let (livenessChanged, _) = groups.refresh(group, up: upConnections)
            publishBuckets(of: group)
            guard livenessChanged else { continue }
            for chain in chains.chainsOfGroup[group] ?? [] {
                let before = chains[chain].resolution != nil
                let (changed, resolution) = chains.resolve(chain, isLive: { groups[$0].isLive })
                guard changed else { continue }
                plane.setResolution(resolution.map { ($0.group, $0.source) }, of: chain)
                if before != (resolution != nil) { changedChains.insert(chain) }
            }
        }
        guard !changedChains.isEmpty else { return }
        // Chains that gained or lost their last live candidate: their prefixes enter or leave the FIB.
        let isResolved: (ChainID) -> Bool = { self.chains[$0].resolution != nil }
        let moved =
            ipv4.sync(chains: changedChains, isResolved: isResolved)
            + ipv6.sync(chains: changedChains, isResolved: isResolved)
        counters.prefixResyncs += moved
    }

    /// Copies a group's bucket table into the plane, or marks it empty (keeping its last buckets).
    func publishBuckets(of group: GroupID) {
        let state = groups[group]
        if state.isLive {
            state.table.buckets.withUnsafeBufferPointer { plane.setBuckets(of: group, $0) }
        } else {
            plane.setEmpty(group)
        }
        counters.groupRewrites += 1
    }

    /// Acquires the group of `members`, publishing it if new.
    func acquireGroup(_ members: [ECMPMember]) throws(RoutingError) -> GroupID {
        guard let (id, isNew) = groups.acquire(members.sorted { $0.id < $1.id }, up: upConnections) else {
            throw .capacityExhausted("next-hop groups")
        }
        if isNew { publishBuckets(of: id) }
        return id
    }

    /// The name of a connection.
    public func name(of connection: ConnectionID) -> String { configuration.connections[connection.index].name }

    /// The name of a tunnel.
    public func name(of tunnel: TunnelID) -> String { configuration.tunnels[tunnel.index].name }

    /// How many next-hop groups and chains are in use.
    public var groupCount: Int { groups.count }
    /// How many route chains (distinct candidate lists) are in use.
    public var chainCount: Int { chains.count }

    /// Counts a refusal.
    func countRefusal(_ outcome: LearnOutcome) {
        switch outcome {
        case .refusedDefaultRoute: counters.refusedDynamicDefaults += 1
        case .refusedOverQuota: counters.refusedDynamicOverQuota += 1
        case .installed: break
        }
    }

    func adjustDynamicCount(by delta: Int) { dynamicRouteCount += delta }
}
