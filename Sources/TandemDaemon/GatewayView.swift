// What `tandem show` and `tandem lookup` look at: the router, the failover controller, the configuration, the
// probe figures and the pipeline counters of a running gateway, read on the control thread. And the one piece of
// logic of its own: why each candidate route of a prefix carries traffic or not.

import TandemConfig
import TandemDataplane
import TandemPacket
import TandemRouting

/// The state of a gateway as the control socket answers about it.
struct GatewayView {
    var config: GatewayConfig
    var router: Router
    var controller: FailoverController?
    /// The probe figures of a tunnel, by tunnel index.
    var probes: (Int) -> ProbeStatistics
    /// The pipeline counters (userspace mode), nil when nothing forwards in userspace.
    var counters: ForwarderTotals?
    /// Ready or not, and what the kernel refused (`show status`); nil when unknown.
    var kernel: KernelStatus?
    /// The learned prefixes with the tunnel of each path, the overlaps reported, and the derived system routes'
    /// tunnels (the gateway's state; empty where nothing is learned).
    var learned: [RoutePrefix: LearnedPaths] = [:]
    var overlaps: [RoutePrefix: String] = [:]
    var systemRouteTunnels: [RoutePrefix: String] = [:]
}

/// Why a route of a prefix does or does not carry its traffic.
struct RouteStatus: Hashable, Sendable {
    enum State: String, Hashable, Sendable {
        /// Carries traffic (alone or in an ECMP set).
        case selected
        /// In the winning set with weight 0 while a weighted member is up.
        case standby
        /// Its connection is up, but a better route wins.
        case lost
        /// Its connection has no tunnel up.
        case down
    }

    var state: State
    /// Why, for every state but selected ("static beats dynamic", "metric 10 > 0", "weight 0",
    /// "connection to-cloud has no tunnel up").
    var reason: String?

    /// "selected", "lost: static beats dynamic", ...
    var text: String { reason.map { "\(state.rawValue): \($0)" } ?? state.rawValue }
}

extension Gateway {
    /// The gateway as `show` sees it now.
    func view(probes: @escaping (Int) -> ProbeStatistics, counters: ForwarderTotals?) -> GatewayView {
        GatewayView(
            config: config, router: router, controller: state.controller, probes: probes, counters: counters,
            kernel: kernelStatus, learned: state.learned, overlaps: state.overlaps,
            systemRouteTunnels: state.systemRouteTunnels)
    }
}

extension GatewayView {
    /// The status of each of a prefix's routes, ranked best first (as ``Router/routes(of:)`` gives them).
    ///
    /// Routes that tie on source and metric form a set; the first set with a connection up wins. In it, members
    /// with weight 0 stand by while a weighted member is up. Later sets lose to it: on source if theirs differs,
    /// else on metric.
    static func explain(_ routes: [Route], isUp: (ConnectionID) -> Bool, name: (ConnectionID) -> String)
        -> [RouteStatus]
    {
        // The sets, as index ranges into `routes`.
        var sets: [Range<Int>] = []
        var start = 0
        for index in routes.indices.dropFirst()
        where routes[index].source != routes[start].source || routes[index].metric != routes[start].metric {
            sets.append(start..<index)
            start = index
        }
        if !routes.isEmpty { sets.append(start..<routes.count) }
        let winner = sets.firstIndex { set in set.contains { isUp(routes[$0].connection) } }
        var statuses: [RouteStatus] = []
        for (setIndex, set) in sets.enumerated() {
            let weightedUp = set.contains { routes[$0].weight > 0 && isUp(routes[$0].connection) }
            for index in set {
                let route = routes[index]
                if !isUp(route.connection) {
                    statuses.append(
                        RouteStatus(state: .down, reason: "connection \(name(route.connection)) has no tunnel up"))
                } else if setIndex == winner {
                    statuses.append(
                        route.weight == 0 && weightedUp
                            ? RouteStatus(state: .standby, reason: "weight 0") : RouteStatus(state: .selected))
                } else {
                    let best = routes[sets[winner!].lowerBound]
                    let reason =
                        best.source != route.source
                        ? "\(best.source) beats \(route.source)" : "metric \(route.metric) > \(best.metric)"
                    statuses.append(RouteStatus(state: .lost, reason: reason))
                }
            }
        }
        return statuses
    }

    /// The routes of one prefix with their status.
    func explainedRoutes(of prefix: RoutePrefix) -> [(route: Route, status: RouteStatus)] {
        let routes = router.routes(of: prefix)
        let statuses = Self.explain(routes, isUp: { router.isUp($0) }, name: { router.name(of: $0) })
        return Array(zip(routes, statuses))
    }

    /// Where a route came from beyond its source: the tunnel a learned path came through, the tunnel a derived
    /// system route is pinned to; and an overlap reported for a learned prefix.
    func origin(of route: Route) -> (learnedVia: String?, pinnedTo: String?, overlaps: String?) {
        switch route.source {
        case .dynamic:
            let tunnels = router.configuration.connections[route.connection.index].tunnels.map { router.name(of: $0) }
            let via = learned[route.prefix]?.tunnels.first { tunnels.contains($0) }
            return (via, nil, overlaps[route.prefix])
        case .system:
            guard let tunnel = systemRouteTunnels[route.prefix],
                router.configuration.connections[route.connection.index].tunnels.contains(where: {
                    router.name(of: $0) == tunnel
                })
            else { return (nil, nil, nil) }
            return (nil, tunnel, nil)
        case .specific, .static:
            return (nil, nil, nil)
        }
    }

    /// The tunnel that carries a connection's traffic, by name.
    func carryingTunnel(of connection: ConnectionID) -> String? {
        guard router.isUp(connection), let tunnel = router.selectedTunnel(of: connection) else { return nil }
        return router.name(of: tunnel)
    }

    /// The health of a tunnel as the controller sees it: its role, effective state, and whether it is held down.
    func health(of tunnel: TunnelID) -> (connection: ConnectionID, role: TunnelRole, state: HealthState, heldDown: Bool)? {
        if let controller, let (connection, role) = controller.placement(of: tunnel) {
            let monitor = controller.monitor(of: connection)
            return (connection, role, monitor.effectiveState(of: role), monitor.heldUntil(of: role) != nil)
        }
        // No controller: the router's selection is all there is.
        for (index, connection) in router.configuration.connections.enumerated() {
            guard let position = connection.tunnels.firstIndex(of: tunnel) else { continue }
            let id = ConnectionID(index)
            let up = router.selectedTunnel(of: id) == tunnel && router.isUp(id)
            return (id, position == 0 ? .active : .standby, up ? .up : .down, false)
        }
        return nil
    }
}
