// From a validated configuration to the routing layer: the router's configuration, the flow hash, and the
// health settings of each connection's tunnels. Names become indices: a tunnel's index is its position in
// `tunnels`, a connection's its position in `connections`.

import TandemPacket
import TandemRouting

extension GatewayConfig {
    /// The flow hash the configuration asks for.
    public var flowHashPolicy: FlowHashPolicy {
        FlowHashPolicy(fields: ecmp.hash == .l3 ? .l3 : .l3l4, symmetric: ecmp.symmetric, seed: ecmp.seed)
    }

    /// The router's configuration. The file has been validated, so every name resolves.
    ///
    /// - Parameter capacity: The forwarding plane's arenas (the bucket count comes from `ecmp.buckets`).
    public func routerConfiguration(capacity: ForwardingPlane.Capacity = .init()) -> RouterConfiguration {
        var tunnelIndex: [String: TunnelID] = [:]
        for (index, tunnel) in tunnels.enumerated() { tunnelIndex[tunnel.name] = TunnelID(index) }
        var connectionIndex: [String: ConnectionID] = [:]
        for (index, connection) in connections.enumerated() { connectionIndex[connection.name] = ConnectionID(index) }
        func connection(_ name: String) -> ConnectionID {
            guard let id = connectionIndex[name] else { preconditionFailure("unvalidated configuration: \(name)") }
            return id
        }
        return RouterConfiguration(
            tunnels: tunnels.map { .init(name: $0.name) },
            connections: connections.map { spec in
                .init(name: spec.name, tunnels: spec.tunnels.map { tunnelIndex[$0]! })
            },
            bucketsPerGroup: ecmp.buckets,
            dynamicRouteQuota: limits.dynamicRoutes,
            routes: routes.map { route in
                TandemRouting.Route(
                    prefix: route.prefix, source: route.source, connection: connection(route.connection),
                    weight: UInt8(route.weight), metric: route.metric)
            }
                + derivedSystemRoutes.map { route in
                    TandemRouting.Route(prefix: route.prefix, source: .system, connection: connection(route.connection))
                },
            policyRoutes: policyRoutes.map { route in
                TandemRouting.PolicyRoute(
                    match: .init(
                        source: route.source, destination: route.destination,
                        protocol: route.ipProtocol.map { $0.rawValue }, destinationPorts: route.destinationPorts),
                    priority: UInt8(route.priority), weight: UInt8(route.weight),
                    connection: connection(route.connection))
            },
            capacity: capacity)
    }

    /// A route the gateway derives from its tunnels rather than reads from `routes`: a system route (P1).
    public struct DerivedSystemRoute: Hashable, Sendable {
        /// A BGP tunnel's inside /30.
        public var prefix: RoutePrefix
        /// The tunnel it leads through, whatever its connection selects: the kernel route goes out of this tunnel's
        /// interface.
        public var tunnel: String
        /// The tunnel's connection, which carries the route in the RIB.
        public var connection: String
    }

    /// The system routes derived from the tunnels: each BGP tunnel's inside /30 through that tunnel, so that the BGP
    /// session and the probes to the peer's inside address use their own tunnel whatever is learned (a learned
    /// 169.254.0.0/16, or the other tunnel's selection). Tunnels in no connection have none.
    public var derivedSystemRoutes: [DerivedSystemRoute] {
        tunnels.compactMap { tunnel in
            guard let bgp = tunnel.bgp, let connection = connections.first(where: { $0.tunnels.contains(tunnel.name) })
            else { return nil }
            return DerivedSystemRoute(prefix: .v4(bgp.insideCIDR), tunnel: tunnel.name, connection: connection.name)
        }
    }

    /// The health settings of a connection's tunnels. A tunnel without a health check counts as up (nothing
    /// will ever say otherwise); one with a health check also starts up, and its probes take it down.
    public func tunnelHealth(of connection: Connection) -> ConnectionTunnels {
        let damping = connection.damping.map {
            DampingPolicy(maxFlaps: $0.flaps, window: $0.window, penalty: $0.penalty)
        }
        func settings(_ name: String) -> TunnelHealthSettings {
            let check = tunnel(named: name)?.healthCheck
            return TunnelHealthSettings(
                health: HealthCheckPolicy(downCount: check?.downCount ?? 3, upCount: check?.upCount ?? 3),
                damping: damping, probed: check != nil)
        }
        if let standby = connection.standby {
            return .dual(active: settings(connection.active), standby: settings(standby))
        }
        return .single(settings(connection.active))
    }

    /// Builds the router and the failover controller that drives its tunnel selection.
    ///
    /// - Throws: ``RoutingError`` if the plane's capacity is too small for the configuration.
    public func makeRouter(
        capacity: ForwardingPlane.Capacity = .init(), at instant: MonotonicInstant
    ) throws(RoutingError) -> (Router, FailoverController) {
        let router = try Router(routerConfiguration(capacity: capacity))
        let controller = try FailoverController(
            router: router, preemptDelay: { connections[$0.index].failbackDelay },
            tunnels: { tunnelHealth(of: connections[$0.index]) }, at: instant)
        return (router, controller)
    }
}
