// Learning: routes a routing daemon (BIRD, FRR) puts in the watched kernel table with a watched protocol become
// dynamic routes in the RIB, through the connection of the tunnel they lead to (a BGP tunnel's inside /30, its
// interface, or its peer or next hop as the gateway). A multipath route (BGP ECMP over several connections) becomes
// one dynamic route per connection, spread by the connections' weights. The RIB's rules apply: no default route, a
// quota. A learned prefix is routed into Tandem
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
    /// ``start(ingressIndex:)`` next), a chunk at a time from `chunks` (the daemon's dump thread, which reads the
    /// next chunks meanwhile), or without them from a dump through the kernel port here and now (tests).
    ///
    /// A dump the kernel flagged inconsistent (the table changed during the walk) is made up for by a resync: the
    /// dump again, and the learned prefixes it lacks withdrawn.
    func learnInitialRoutes(from chunks: (any RouteChunks)? = nil) throws(DaemonError) {
        guard let learning = config.learning else { return }
        let started = now
        var waited: UInt64 = 0
        var failure: SystemError?
        var dumped = false
        func nextChunk() throws(SystemError) -> [KernelRoute]? {
            if let chunks { return try chunks.next() }
            // The kernel port's dump is asked again while the kernel flags it inconsistent: one chunk, consistent.
            defer { dumped = true }
            return dumped ? nil : try watchedRoutes()
        }
        // The forwarding plane's tables are filled in one batch (nothing reads them yet), by the sync of Tandem's
        // table that comes next (``syncAllRemoteRoutes(chains:)``): the kernel takes the table meanwhile.
        router.startBatchingInserts()
        var count = 0
        do throws(SystemError) {
            while true {
                let asked = now
                guard let chunk = try nextChunk() else { break }
                waited += now &- asked
                keepAlive()
                if let chunks, chunks.isRead { startRulesAside() }
                count += chunk.count
                learningFlood = count > Self.learningLinesPerRead
                for (index, route) in chunk.enumerated() {
                    learn(route)
                    // A full table is a million routes: a clock read every few thousand is nothing beside them.
                    if index % 4096 == 4095 { keepAlive() }
                }
            }
        } catch {
            failure = error
        }
        learningFlood = false
        if let failure {
            router.finishBatchingInserts()
            throw DaemonError("starting to learn routes: \(failure)")
        }
        log.info(
            "learning: table \(learning.table), protocols "
                + learning.protocols.map(GatewayConfig.Learning.protocolName).joined(separator: ", ")
                + ": \(state.learned.count) route(s) learned at start in \(Self.seconds(since: started, now)) "
                + "(\(MonotonicInstant(nanoseconds: waited)) of it waiting for the dump)")
        if let chunks, !chunks.wasConsistent {
            log.warning("learning: the table changed during the dump at start: dumping it again to resync")
            // No rule goes in during the dump either.
            _ = rulesAside?()
            startDump()
        }
    }

    /// Starts the reconcile of the rules aside (``kernelAside``), once: with a full table in the kernel, each rule
    /// added costs the kernel a walk of its IPv6 table (the first one also splits the IPv4 main and local tables),
    /// 0.4 s that the learning hides. Not during the dump at start: a rule added then makes the kernel begin its
    /// IPv6 walk again, so not before the dump is read.
    func startRulesAside() {
        guard !rulesAsideTried, let kernelAside else { return }
        rulesAsideTried = true
        let rules = state.plan.rules
        rulesAside = kernelAside(state.plan) { sync throws(SystemError) in try sync.reconcileRules(desired: rules) }
    }

    func scheduleRetryIfPending() {
        if !state.pending.isEmpty && state.pending.retryAt == nil { scheduleRetry() }
    }

    /// The tunnels' interface indices, looked up once a second at most (they change only when devices are made
    /// again, and a full table's learning asks for them a million times).
    var interfaceIndices: [String: UInt32] {
        let now = self.now
        if interfaceIndicesTime.map({ now &- $0 > 1_000_000_000 }) ?? true {
            interfaceIndicesCache = tunnelInterfaces(of: config)
            interfaceIndicesTime = now
            lastHopTunnel = nil
        }
        return interfaceIndicesCache
    }

    /// The tunnel one hop of a learned route leads to (see ``findTunnel(ofHop:device:indices:)``).
    func tunnel(ofHop gateway: AnyIPAddress?, device: UInt32) -> GatewayConfig.Tunnel? {
        tunnelIndex(ofHop: gateway, device: device).map { config.tunnels[$0] }
    }

    /// Where in `config.tunnels` the tunnel of one hop is, the last answer remembered: a full table's million
    /// routes nearly all go through one hop. (An index, not the tunnel: copying a tunnel's configuration out of the
    /// memory for each of a million routes took a tenth of a second.)
    func tunnelIndex(ofHop gateway: AnyIPAddress?, device: UInt32) -> Int? {
        // First: a refresh of the indices (due once a second, and after a reload) forgets the last answer.
        let indices = interfaceIndices
        if let last = lastHopTunnel, last.gateway == gateway, last.device == device { return last.tunnel }
        let tunnel = findTunnel(ofHop: gateway, device: device, indices: indices)
        lastHopTunnel = (gateway, device, tunnel)
        return tunnel
    }

    /// The tunnel one hop of a learned route leads to: by its gateway inside a BGP tunnel's inside /30 (the address
    /// BGP puts as the next hop, whatever device the routing daemon wrote), else by its output device, else by its
    /// gateway as a tunnel's next hop or peer.
    func findTunnel(ofHop gateway: AnyIPAddress?, device: UInt32, indices: [String: UInt32]) -> Int? {
        let tunnels = config.tunnels
        if case .v4(let address)? = gateway,
            let index = tunnels.firstIndex(where: { $0.bgp?.insideCIDR.contains(address) ?? false })
        {
            return index
        }
        if let index = tunnels.firstIndex(where: { tunnel in tunnel.interface.map { indices[$0] == device } ?? false }) {
            return index
        }
        guard let gateway else { return nil }
        return tunnels.firstIndex { tunnel in
            switch gateway {
            case .v4(let address): tunnel.nextHopIPv4 == address || tunnel.peer == .v4(address)
            case .v6(let address): tunnel.nextHopIPv6 == address || tunnel.peer == .v6(address)
            }
        }
    }

    /// The tunnel each hop of a learned route leads to, in hop order (nil for a hop that leads to none).
    func hopTunnels(of route: KernelRoute) -> [GatewayConfig.Tunnel?] {
        switch route.target {
        case .device(let index): [tunnel(ofHop: nil, device: index)]
        case .gateway(let gateway, let device): [tunnel(ofHop: gateway, device: device)]
        case .multipath(let hops): hops.map { tunnel(ofHop: $0.gateway, device: $0.device) }
        case .nexthopObject, .blackhole: [nil]
        }
    }

    /// The paths of a learned route: each connection its hops lead into, with the tunnel of the first hop into it,
    /// in hop order. Hops that lead to no tunnel, or to a tunnel in no connection, are left out with a warning.
    func paths(of route: KernelRoute) -> [(tunnel: String, connection: ConnectionID)] {
        var paths: [(tunnel: String, connection: ConnectionID)] = []
        for tunnel in hopTunnels(of: route) {
            guard let tunnel else { continue }
            guard let connection = state.connection(ofTunnel: tunnel.name) else {
                log.warning("not learned via tunnel '\(tunnel.name)': \(route.prefix): the tunnel is in no connection")
                continue
            }
            if !paths.contains(where: { $0.connection == connection }) { paths.append((tunnel.name, connection)) }
        }
        return paths
    }

    /// A line per learned or withdrawn route while they come a few at a time; in a flood (a full table at start
    /// or from a new BGP session) they go to the debug level, and a summary says how many.
    func logLearning(_ line: @autoclosure () -> String) {
        if !learningFlood {
            log.info(line())
        } else if learningFloodIsLogged {
            log.debug(line())
        }
    }

    /// "via tunnel a1 (connection c1)".
    func pathText(_ tunnel: String, _ connection: ConnectionID) -> String {
        "via tunnel \(tunnel) (connection \(config.connections[connection.index].name))"
    }

    /// Learns one route, as the routing daemon announced or replaced it: one dynamic route per connection its hops
    /// lead into. Connections the prefix was learned through before and that the route no longer reaches are
    /// withdrawn first (so the room they free under the quota is there for the new ones). True if the prefix's
    /// routes changed.
    @discardableResult
    func learn(_ route: KernelRoute) -> Bool {
        let prefix = route.prefix
        // The common case, a full table at start: one hop, a prefix not learned yet, nothing waiting. No arrays on
        // the way (a million routes would make four million allocations).
        if state.overQuota.isEmpty, let (gateway, device) = route.target.singleHop,
            let index = tunnelIndex(ofHop: gateway, device: device), case let tunnel = config.tunnels[index].name,
            let connection = state.connection(ofTunnel: tunnel)
        {
            // In first, so that the prefix is hashed once; out again if the RIB refuses it. A prefix learned before
            // keeps what it had and takes the general way below.
            if let before = state.learned.updateValue(LearnedPaths(tunnel), forKey: prefix) {
                state.learned[prefix] = before
            } else {
                guard offer(prefix, tunnel: tunnel, connection: connection) else {
                    state.learned[prefix] = nil
                    return false
                }
                logLearning("learned \(prefix) \(pathText(tunnel, connection))")
                noteOverlaps(of: prefix)
                return true
            }
        }
        let paths = paths(of: route)
        guard !paths.isEmpty else {
            log.warning("not learned: \(route): it leads to no tunnel's interface or next hop")
            // The route replaced one that was learned: that one is gone from the routing daemon's table.
            return forget(prefix)
        }
        var changed = false
        for tunnel in state.learned[prefix]?.tunnels ?? [] {
            guard let connection = state.connection(ofTunnel: tunnel),
                !paths.contains(where: { $0.connection == connection })
            else { continue }
            changed = withdrawPath(prefix, tunnel: tunnel) || changed
        }
        if !state.overQuota.isEmpty {
            for (index, connection) in config.connections.enumerated()
            where !paths.contains(where: { $0.connection.index == index }) {
                state.overQuota.remove(prefix, connection: connection.name)
            }
        }
        var learned: [String] = []
        var added: [(tunnel: String, connection: ConnectionID)] = []
        let before = state.learned[prefix]
        for (tunnel, connection) in paths where offer(prefix, tunnel: tunnel, connection: connection) {
            learned.append(tunnel)
            if !(before?.contains(tunnel) ?? false) { added.append((tunnel, connection)) }
        }
        state.learned[prefix] = learned.isEmpty ? nil : LearnedPaths(learned)
        guard !learned.isEmpty else { return changed }
        if !added.isEmpty {
            logLearning(
                "learned \(prefix) " + added.map { pathText($0.tunnel, $0.connection) }.joined(separator: ", ")
                    + (learned.count > 1 ? " (ECMP over \(learned.count) connections)" : ""))
            noteOverlaps(of: prefix)
        }
        return changed || state.learned[prefix] != before
    }

    /// Offers one path of a prefix to the RIB, with its connection's weight; true if the RIB has it now. A refusal
    /// is logged, and a path over the quota waits for room.
    func offer(_ prefix: RoutePrefix, tunnel: String, connection: ConnectionID) -> Bool {
        let name = config.connections[connection.index].name
        let weight = UInt8(clamping: config.connections[connection.index].learnedWeight)
        do {
            switch try router.learn(prefix, via: connection, weight: weight) {
            case .installed:
                if !state.overQuota.isEmpty { state.overQuota.remove(prefix, connection: name) }
                return true
            case .refusedDefaultRoute:
                log.warning(
                    "refused learned default route \(prefix) \(pathText(tunnel, connection)): default routes are "
                        + "not learned (refused so far: \(router.counters.refusedDynamicDefaults))")
            case .refusedOverQuota(let quota):
                if state.overQuota.add(prefix, connection: name, tunnel: tunnel) {
                    log.warning(
                        "learned route \(prefix) \(pathText(tunnel, connection)) waits: the quota of \(quota) "
                            + "dynamic routes is full (limits.dynamic-routes); it is taken when room frees "
                            + "(\(state.overQuota.count) waiting, refused so far: "
                            + "\(router.counters.refusedDynamicOverQuota))")
                }
            }
        } catch {
            log.error("learning \(prefix): \(error)")
        }
        return false
    }

    /// Withdraws a route the daemon removed; true if the prefix's routes changed. The paths through the connections
    /// the removed route's hops lead into go (a daemon that removes one hop of a multipath route names that hop);
    /// if its hops lead nowhere known (a device deleted), every path of the prefix goes. Routes waiting at the quota
    /// stop waiting.
    @discardableResult
    func withdraw(_ route: KernelRoute) -> Bool {
        let prefix = route.prefix
        let connections = paths(of: route).map(\.connection)
        guard !connections.isEmpty else { return forget(prefix) }
        var changed = false
        for connection in connections {
            let name = config.connections[connection.index].name
            if state.overQuota.remove(prefix, connection: name) {
                logLearning("withdrew \(prefix) via connection \(name) (it was waiting for room under the quota)")
            }
            guard let tunnel = state.learned[prefix]?.tunnels.first(where: { state.connection(ofTunnel: $0) == connection })
            else { continue }
            changed = withdrawPath(prefix, tunnel: tunnel) || changed
        }
        return changed
    }

    /// Withdraws every path of a prefix, learned or waiting; true if one was learned.
    @discardableResult
    func forget(_ prefix: RoutePrefix) -> Bool {
        for connection in config.connections where state.overQuota.remove(prefix, connection: connection.name) {
            logLearning("withdrew \(prefix) via connection \(connection.name) (it was waiting for room under the quota)")
        }
        var changed = false
        for tunnel in state.learned[prefix]?.tunnels ?? [] { changed = withdrawPath(prefix, tunnel: tunnel) || changed }
        return changed
    }

    /// Learns the routes waiting at the quota, longest-waiting first, while there is room; returns the prefixes
    /// learned. Called after withdrawals (not between a withdrawal and the learning that moves a prefix to
    /// another tunnel, which must get the room it freed).
    func takeWaitingRoutes() -> Set<RoutePrefix> {
        var taken: Set<RoutePrefix> = []
        while router.dynamicRouteCount < router.configuration.dynamicRouteQuota,
            let (prefix, tunnel) = state.overQuota.removeFirst()
        {
            guard let connection = state.connection(ofTunnel: tunnel) else { continue }
            let weight = UInt8(clamping: config.connections[connection.index].learnedWeight)
            guard (try? router.learn(prefix, via: connection, weight: weight)) == .installed else { continue }
            let others = (state.learned[prefix]?.tunnels ?? []).filter { state.connection(ofTunnel: $0) != connection }
            state.learned[prefix] = LearnedPaths(others + [tunnel])
            taken.insert(prefix)
            logLearning(
                "learned \(prefix) \(pathText(tunnel, connection)) after waiting for room under the quota "
                    + "(\(state.overQuota.count) still waiting)")
            noteOverlaps(of: prefix)
        }
        return taken
    }

    /// Withdraws the path of a prefix through one tunnel's connection; true if it was learned.
    @discardableResult
    func withdrawPath(_ prefix: RoutePrefix, tunnel name: String) -> Bool {
        guard let paths = state.learned[prefix], paths.contains(name) else { return false }
        let remaining = paths.tunnels.filter { $0 != name }
        state.learned[prefix] = remaining.isEmpty ? nil : LearnedPaths(remaining)
        if let connection = state.connection(ofTunnel: name) { router.withdraw(prefix, via: connection) }
        if remaining.isEmpty { state.overlaps[prefix] = nil }
        logLearning("withdrew \(prefix) (was learned via tunnel \(name))")
        return true
    }
}

extension KernelRoute.Target {
    /// The gateway and device of a route with one hop; nil for a multipath route and one without a device.
    var singleHop: (gateway: AnyIPAddress?, device: UInt32)? {
        switch self {
        case .device(let index): (nil, index)
        case .gateway(let gateway, let device): (gateway, device)
        case .multipath, .nexthopObject, .blackhole: nil
        }
    }
}
