// Learning: routes a routing daemon (BIRD, FRR) puts in the watched kernel table with a watched protocol become
// dynamic routes in the RIB, through the connection of the tunnel they lead to (its interface, or its peer or next
// hop as the gateway). The RIB's rules apply: no default route, a quota. A learned prefix is routed into Tandem
// like a configured one; when the daemon withdraws it, Tandem withdraws it too.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// Up to this many learned or withdrawn routes at once get a log line each.
    static let learningLinesPerRead = 16

    /// Subscribes first, then dumps, so that nothing installed in between is missed.
    func startLearning() throws(DaemonError) {
        guard let learning = config.learning else { return }
        do {
            monitor = try RouteMonitor()
            // Only what is learned reaches the socket: Tandem's own million routes never fill its queue.
            try monitor!.filter(table: learning.table, protocols: learning.protocols)
            let routes = try netlink.routes(table: learning.table).filter { learning.protocols.contains($0.protocol) }
            learningFlood = routes.count > Self.learningLinesPerRead
            defer { learningFlood = false }
            for route in routes { learn(route) }
            log.info(
                "learning: table \(learning.table), protocols "
                    + learning.protocols.map(GatewayConfig.Learning.protocolName).joined(separator: ", ")
                    + ": \(learned.count) route(s) learned at start")
        } catch {
            throw DaemonError("starting to learn routes: \(error)")
        }
    }

    /// Reads what the notification socket has; after an overflow, dumps the table and reconciles.
    func readRouteNotifications() {
        guard let monitor, let learning = config.learning else { return }
        do {
            let notifications = try monitor.read(table: learning.table, protocols: Set(learning.protocols))
            learningFlood = notifications.count > Self.learningLinesPerRead
            defer { learningFlood = false }
            var changed: Set<RoutePrefix> = []
            for notification in notifications {
                switch notification {
                case .added(let route): if learn(route) { changed.insert(route.prefix) }
                case .removed(let route): if withdraw(route) { changed.insert(route.prefix) }
                }
            }
            if !changed.isEmpty { updateRemoteRoutes(changed) }
            if learningFlood {
                log.info("learning: \(notifications.count) route notifications, \(learned.count) route(s) learned now")
            }
        } catch where error.code == ENOBUFS {
            log.warning("route notifications overflowed (ENOBUFS): dumping table \(learning.table) to resync")
            resyncLearnedRoutes()
        } catch {
            log.error("reading route notifications: \(error)")
        }
    }

    /// Dumps the watched table and makes the learned routes exactly what it holds.
    func resyncLearnedRoutes() {
        guard let learning = config.learning else { return }
        do {
            let routes = try netlink.routes(table: learning.table).filter { learning.protocols.contains($0.protocol) }
            let present = Set(routes.map(\.prefix))
            for (prefix, tunnel) in learned where !present.contains(prefix) {
                withdraw(prefix, tunnel: tunnel)
            }
            for route in routes { learn(route) }
            try syncAllRemoteRoutes()
            log.info("resync: \(learned.count) learned route(s)")
        } catch {
            log.error("resync of learned routes: \(error)")
        }
    }

    /// The tunnel a learned route leads to: by its output device, or by its gateway.
    func tunnel(of route: KernelRoute) -> GatewayConfig.Tunnel? {
        // Interface indices change only when devices are made again: looked up once a second at most.
        let now = Forwarder.now()
        if now &- interfaceIndicesTime > 1_000_000_000 {
            interfaceIndicesCache = Self.interfaceIndices(of: config)
            interfaceIndicesTime = now
        }
        let indices = interfaceIndicesCache
        func byDevice(_ index: UInt32) -> GatewayConfig.Tunnel? {
            config.tunnels.first { tunnel in tunnel.interface.map { indices[$0] == index } ?? false }
        }
        func byGateway(_ gateway: NextHopAddress) -> GatewayConfig.Tunnel? {
            config.tunnels.first { tunnel in
                switch gateway {
                case .ipv4(let address):
                    tunnel.nextHopIPv4 == address || tunnel.peer == .v4(address)
                case .ipv6(let address):
                    tunnel.nextHopIPv6 == address || tunnel.peer == .v6(address)
                }
            }
        }
        switch route.target {
        case .device(let index): return byDevice(index)
        case .gateway(let gateway, let device): return byDevice(device) ?? byGateway(gateway)
        case .multipath(let hops):
            // Tandem spreads over connections itself; a multipath route is learned through its first hop.
            guard let hop = hops.first else { return nil }
            return byDevice(hop.device) ?? hop.gateway.flatMap(byGateway)
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
        guard let index = config.connections.firstIndex(where: { $0.tunnels.contains(tunnel.name) }) else {
            log.warning("not learned: \(route): tunnel '\(tunnel.name)' is in no connection")
            return false
        }
        if let previous = learned[route.prefix], previous != tunnel.name {
            withdraw(route.prefix, tunnel: previous)
        }
        do {
            switch try router.learn(route.prefix, via: ConnectionID(index)) {
            case .installed:
                if learned.updateValue(tunnel.name, forKey: route.prefix) == nil {
                    logLearning("learned \(route.prefix) via tunnel \(tunnel.name) (connection \(config.connections[index].name))")
                }
                remotePrefixes.insert(route.prefix)
                return true
            case .refusedDefaultRoute:
                log.warning(
                    "refused learned default route \(route.prefix) via tunnel \(tunnel.name): default routes are not "
                        + "learned (refused so far: \(router.counters.refusedDynamicDefaults))")
            case .refusedOverQuota(let quota):
                log.warning(
                    "refused learned route \(route.prefix): the quota of \(quota) dynamic routes is full "
                        + "(limits.dynamic-routes; refused so far: \(router.counters.refusedDynamicOverQuota))")
            }
        } catch {
            log.error("learning \(route.prefix): \(error)")
        }
        return false
    }

    /// Withdraws a route the daemon removed; true if it was learned.
    @discardableResult
    func withdraw(_ route: KernelRoute) -> Bool {
        guard let tunnel = learned[route.prefix] else { return false }
        withdraw(route.prefix, tunnel: tunnel)
        return true
    }

    func withdraw(_ prefix: RoutePrefix, tunnel name: String) {
        learned[prefix] = nil
        if let index = config.connections.firstIndex(where: { $0.tunnels.contains(name) }) {
            router.withdraw(prefix, via: ConnectionID(index))
        }
        if router.routes(of: prefix).isEmpty { remotePrefixes.remove(prefix) }
        logLearning("withdrew \(prefix) (was learned via tunnel \(name))")
    }

    /// Brings the kernel routes of `prefixes` in line with the RIB: one netlink batch, whatever the table size.
    func updateRemoteRoutes(_ prefixes: Set<RoutePrefix>) {
        do {
            var failures: [SystemError] = []
            if config.gateway.mode == .kernel { failures += try updateChainGroups(for: prefixes) }
            var changes: [RouteChange] = []
            for prefix in prefixes.sorted() {
                let wanted = remotePrefixes.contains(prefix) ? remoteTarget(for: prefix) : nil
                let present = installedRemote[prefix]
                guard wanted != present else { continue }
                if let wanted {
                    changes.append(.add(plan.remoteRoute(prefix, to: wanted), replace: true))
                } else if let present {
                    changes.append(.delete(plan.remoteRoute(prefix, to: present)))
                }
                installedRemote[prefix] = wanted
            }
            for prefix in prefixes {
                if remotePrefixes.contains(prefix) && installedRemote[prefix] == nil {
                    unrouted.insert(prefix)
                } else {
                    unrouted.remove(prefix)
                }
            }
            failures += try netlink.apply(changes)
            if !changes.isEmpty { log.info("table \(config.linux.table): \(changes.count) route(s) changed") }
            for failure in failures { log.error("\(failure)") }
            metrics.recordNetlinkErrors(failures.count)
        } catch {
            metrics.recordNetlinkErrors(1)
            log.error("updating table \(config.linux.table): \(error)")
        }
    }

    /// Reconciles Tandem's whole table (and kernel mode's groups) with the RIB: at start, after a reload or an
    /// overflow.
    func syncAllRemoteRoutes() throws(SystemError) {
        var failures: [SystemError] = []
        if config.gateway.mode == .kernel { failures += try updateChainGroups(for: remotePrefixes, removeUnused: true) }
        let desired = desiredRemoteRoutes()
        let summary = try sync.reconcileRoutes(tables: [config.linux.table], desired: desired)
        installedRemote = Dictionary(desired.map { ($0.prefix, $0.target) }, uniquingKeysWith: { first, _ in first })
        unrouted = remotePrefixes.filter { installedRemote[$0] == nil }
        failures += summary.failures
        log.info("table \(config.linux.table): \(summary)")
        for failure in failures { log.error("\(failure)") }
        metrics.recordNetlinkErrors(failures.count)
    }
}
