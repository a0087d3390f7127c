// Learning: routes a routing daemon (BIRD, FRR) puts in the watched kernel table with a watched protocol become
// dynamic routes in the RIB, through the connection of the tunnel they lead to (its interface, or its peer or next
// hop as the gateway). The RIB's rules apply: no default route, a quota. A learned prefix is routed into Tandem
// like a configured one; when the daemon withdraws it, Tandem withdraws it too. The notifications come from the
// daemon's RouteMonitor (or a test's list), a bounded batch per read; a lost one (ENOBUFS) makes a dump and a
// resync (Gateway+Resync).

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Gateway {
    /// Up to this many learned or withdrawn routes at once get a log line each.
    static let learningLinesPerRead = 16

    /// The routes of the watched table and protocols, from a dump.
    func watchedRoutes() throws(SystemError) -> [KernelRoute] {
        guard let learning = config.learning else { return [] }
        return try WatchedTableDump.routes(of: learning, from: kernel)
    }

    /// At start, after the daemon subscribed to notifications: learns what the table holds (installed by
    /// ``start(ingressIndex:)`` next).
    func learnInitialRoutes() throws(DaemonError) {
        guard let learning = config.learning else { return }
        do {
            let routes = try watchedRoutes()
            keepAlive()
            learningFlood = routes.count > Self.learningLinesPerRead
            defer { learningFlood = false }
            for (index, route) in routes.enumerated() {
                learn(route)
                // A full table is a million routes: a clock read every few thousand is nothing beside them.
                if index % 4096 == 4095 { keepAlive() }
            }
            log.info(
                "learning: table \(learning.table), protocols "
                    + learning.protocols.map(GatewayConfig.Learning.protocolName).joined(separator: ", ")
                    + ": \(state.learned.count) route(s) learned at start")
        } catch {
            throw DaemonError("starting to learn routes: \(error)")
        }
    }

    func scheduleRetryIfPending() {
        if !state.pending.isEmpty && state.pending.retryAt == nil { scheduleRetry() }
    }

    /// The tunnel a learned route leads to: by its gateway inside a BGP tunnel's inside /30 (the address BGP puts
    /// as the next hop, whatever device the routing daemon wrote), else by its output device, else by its gateway
    /// as a tunnel's next hop or peer.
    func tunnel(of route: KernelRoute) -> GatewayConfig.Tunnel? {
        // Interface indices change only when devices are made again: looked up once a second at most.
        let now = self.now
        if interfaceIndicesTime.map({ now &- $0 > 1_000_000_000 }) ?? true {
            interfaceIndicesCache = tunnelInterfaces(of: config)
            interfaceIndicesTime = now
        }
        let indices = interfaceIndicesCache
        func byDevice(_ index: UInt32) -> GatewayConfig.Tunnel? {
            config.tunnels.first { tunnel in tunnel.interface.map { indices[$0] == index } ?? false }
        }
        func byGateway(_ gateway: AnyIPAddress) -> GatewayConfig.Tunnel? {
            config.tunnels.first { tunnel in
                switch gateway {
                case .v4(let address):
                    tunnel.nextHopIPv4 == address || tunnel.peer == .v4(address)
                case .v6(let address):
                    tunnel.nextHopIPv6 == address || tunnel.peer == .v6(address)
                }
            }
        }
        func byInsideCIDR(_ gateway: AnyIPAddress) -> GatewayConfig.Tunnel? {
            guard case .v4(let address) = gateway else { return nil }
            return config.tunnels.first { $0.bgp?.insideCIDR.contains(address) ?? false }
        }
        switch route.target {
        case .device(let index): return byDevice(index)
        case .gateway(let gateway, let device): return byInsideCIDR(gateway) ?? byDevice(device) ?? byGateway(gateway)
        case .multipath(let hops):
            // Tandem spreads over connections itself; a multipath route is learned through its first hop.
            guard let hop = hops.first else { return nil }
            return hop.gateway.flatMap(byInsideCIDR) ?? byDevice(hop.device) ?? hop.gateway.flatMap(byGateway)
        case .nexthopObject, .blackhole: return nil
        }
    }

    /// A line per learned or withdrawn route while they come a few at a time; in a flood (a full table at start
    /// or from a new BGP session) they go to the debug level, and a summary says how many.
    func logLearning(_ line: @autoclosure () -> String) {
        if learningFlood { log.debug(line()) } else { log.info(line()) }
    }

    /// Learns one route; true if the prefix's routes changed.
    @discardableResult
    func learn(_ route: KernelRoute) -> Bool {
        guard let tunnel = tunnel(of: route) else {
            log.warning("not learned: \(route): it leads to no tunnel's interface or next hop")
            return false
        }
        guard let connection = state.connection(ofTunnel: tunnel.name) else {
            log.warning("not learned: \(route): tunnel '\(tunnel.name)' is in no connection")
            return false
        }
        if let previous = state.learned[route.prefix], previous != tunnel.name {
            withdraw(route.prefix, tunnel: previous)
        }
        do {
            switch try router.learn(route.prefix, via: connection) {
            case .installed:
                state.overQuota.remove(route.prefix)
                if state.learned.updateValue(tunnel.name, forKey: route.prefix) == nil {
                    logLearning(
                        "learned \(route.prefix) via tunnel \(tunnel.name) "
                            + "(connection \(config.connections[connection.index].name))")
                }
                state.remotePrefixes.insert(route.prefix)
                return true
            case .refusedDefaultRoute:
                log.warning(
                    "refused learned default route \(route.prefix) via tunnel \(tunnel.name): default routes are not "
                        + "learned (refused so far: \(router.counters.refusedDynamicDefaults))")
            case .refusedOverQuota(let quota):
                if state.overQuota.add(route.prefix, tunnel: tunnel.name) {
                    log.warning(
                        "learned route \(route.prefix) via tunnel \(tunnel.name) waits: the quota of \(quota) dynamic "
                            + "routes is full (limits.dynamic-routes); it is taken when room frees "
                            + "(\(state.overQuota.count) waiting, refused so far: \(router.counters.refusedDynamicOverQuota))")
                }
            }
        } catch {
            log.error("learning \(route.prefix): \(error)")
        }
        return false
    }

    /// Withdraws a route the daemon removed; true if it was learned. A route waiting at the quota stops waiting.
    @discardableResult
    func withdraw(_ route: KernelRoute) -> Bool {
        if state.overQuota.remove(route.prefix) {
            logLearning("withdrew \(route.prefix) (it was waiting for room under the quota)")
            return false
        }
        guard let tunnel = state.learned[route.prefix] else { return false }
        withdraw(route.prefix, tunnel: tunnel)
        return true
    }

    /// Learns the routes waiting at the quota, longest-waiting first, while there is room; returns the prefixes
    /// learned. Called after withdrawals (not between a withdrawal and the learning that moves a prefix to
    /// another tunnel, which must get the room it freed).
    func takeWaitingRoutes() -> Set<RoutePrefix> {
        var taken: Set<RoutePrefix> = []
        while router.dynamicRouteCount < router.configuration.dynamicRouteQuota,
            let (prefix, tunnel) = state.overQuota.removeFirst()
        {
            guard let connection = state.connection(ofTunnel: tunnel),
                (try? router.learn(prefix, via: connection)) == .installed
            else { continue }
            state.learned[prefix] = tunnel
            state.remotePrefixes.insert(prefix)
            taken.insert(prefix)
            logLearning(
                "learned \(prefix) via tunnel \(tunnel) after waiting for room under the quota "
                    + "(\(state.overQuota.count) still waiting)")
        }
        return taken
    }

    func withdraw(_ prefix: RoutePrefix, tunnel name: String) {
        state.learned[prefix] = nil
        if let connection = state.connection(ofTunnel: name) { router.withdraw(prefix, via: connection) }
        if router.routes(of: prefix).isEmpty { state.remotePrefixes.remove(prefix) }
        logLearning("withdrew \(prefix) (was learned via tunnel \(name))")
    }
}
