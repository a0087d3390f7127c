// Destination routes: adding, removing, learning from a routing daemon, bulk loading.

import TandemLPM
import TandemPacket

extension Router {
    /// Adds a route, or replaces the route with the same prefix, source and connection.
    /// Routes added here are not counted against the dynamic quota (that is ``learn(_:via:metric:)``'s rule).
    public func add(_ route: Route) throws(RoutingError) {
        try checkConnection(route.connection)
        let entry = RouteEntry(
            source: route.source, metric: route.metric, connection: route.connection, weight: route.weight)
        try change(route.prefix) { routes in
            if let index = routes.firstIndex(where: { $0.isSameRoute(as: entry) }) {
                if routes[index] == entry { return false }
                routes[index] = entry
            } else {
                routes.append(entry)
            }
            return true
        }
    }

    /// Removes the route with this prefix, source and connection; false if there was none.
    @discardableResult
    public func remove(_ prefix: RoutePrefix, source: RouteSource, connection: ConnectionID) -> Bool {
        var removed = false
        // Removing never needs a new group or chain, so it cannot fail.
        try? change(prefix) { routes in
            guard let index = routes.firstIndex(where: { $0.source == source && $0.connection == connection }) else {
                return false
            }
            routes.remove(at: index)
            removed = true
            return true
        }
        return removed
    }

    /// Offers a route learned from a routing daemon (BGP through BIRD or FRR). Dynamic default routes and
    /// routes past the quota are refused and counted (the caller logs the outcome); the RIB is unchanged then.
    /// A prefix learned through several connections is one route per connection, each counted against the quota,
    /// spread by `weight` like static ECMP.
    public func learn(
        _ prefix: RoutePrefix, via connection: ConnectionID, metric: UInt32 = 0, weight: UInt8 = 100
    ) throws(RoutingError) -> LearnOutcome {
        try checkConnection(connection)
        if prefix.isDefault {
            countRefusal(.refusedDefaultRoute)
            return .refusedDefaultRoute
        }
        // The entries as they are, not routes(of:): no array made per route of a million learned at start.
        let known = entries(of: prefix)?.contains { $0.source == .dynamic && $0.connection == connection } ?? false
        let quota = configuration.dynamicRouteQuota
        if !known && dynamicRouteCount >= quota {
            countRefusal(.refusedOverQuota(quota: quota))
            return .refusedOverQuota(quota: quota)
        }
        try add(Route(prefix: prefix, source: .dynamic, connection: connection, weight: weight, metric: metric))
        return .installed
    }

    /// Runs `body` with the LPM inserts its route changes cause gathered, and made at its end in one batch per
    /// family, each top slot of the trie rebuilt once (learning a full table at start: a million inserts). The RIB
    /// changes at once as always; the forwarding plane has the new prefixes when `body` returns (a removal in
    /// between makes the inserts before it first).
    public func batchingInserts(_ body: () -> Void) {
        startBatchingInserts()
        body()
        finishBatchingInserts()
    }

    /// ``batchingInserts(_:)`` in two calls, for a batch that spans more than one function: at start, the learning's
    /// inserts are made while Tandem's table goes into the kernel on another thread. Batching already: it goes on.
    public func startBatchingInserts() {
        if ipv4.batchedInserts == nil { ipv4.batchedInserts = [] }
        if ipv6.batchedInserts == nil { ipv6.batchedInserts = [] }
    }

    /// Makes the batched inserts and stops batching (nothing to do if not batching).
    public func finishBatchingInserts() {
        ipv4.flushBatchedInserts()
        ipv6.flushBatchedInserts()
        ipv4.batchedInserts = nil
        ipv6.batchedInserts = nil
    }

    /// Makes room in the RIB for this many prefixes per family, so that adding them never rehashes a large table
    /// in one go (a pause of a hundred milliseconds or more at half a million prefixes).
    public func reserveCapacity(ipv4Prefixes: Int, ipv6Prefixes: Int) {
        ipv4.prefixes.reserveCapacity(ipv4Prefixes)
        ipv6.prefixes.reserveCapacity(ipv6Prefixes)
    }

    /// Withdraws a learned route; false if it was not in the RIB.
    @discardableResult
    public func withdraw(_ prefix: RoutePrefix, via connection: ConnectionID) -> Bool {
        remove(prefix, source: .dynamic, connection: connection)
    }

    /// The routes of exactly `prefix`, best first (the first one's set is the winner if its group is live).
    public func routes(of prefix: RoutePrefix) -> [Route] {
        (entries(of: prefix) ?? []).map {
            Route(prefix: prefix, source: $0.source, connection: $0.connection, weight: $0.weight, metric: $0.metric)
        }
    }

    /// How many routes of `source` the RIB holds, both families.
    public func routeCount(_ source: RouteSource) -> Int {
        ipv4.routesBySource[Int(source.rawValue)] + ipv6.routesBySource[Int(source.rawValue)]
    }

    /// How many prefixes each family holds in the RIB, and how many of them are in the FIB (resolved).
    public var prefixCounts: (ipv4: Int, ipv6: Int, installed: Int) {
        (ipv4.prefixes.count, ipv6.prefixes.count, plane.ipv4.count + plane.ipv6.count)
    }

    // MARK: Internals

    /// The RIB's entries of exactly `prefix`, ranked.
    func entries(of prefix: RoutePrefix) -> [RouteEntry]? {
        switch prefix {
        case .v4(let p): ipv4.prefixes[p]?.routes
        case .v6(let p): ipv6.prefixes[p]?.routes
        }
    }

    func checkConnection(_ connection: ConnectionID) throws(RoutingError) {
        guard connection.index < configuration.connections.count else { throw .unknownConnection(connection) }
    }

    /// Applies `edit` to the routes of `prefix` (which returns false if it changed nothing) and recompiles it.
    private func change(_ prefix: RoutePrefix, _ edit: (inout [RouteEntry]) -> Bool) throws(RoutingError) {
        switch prefix {
        case .v4(let p): try change(&ipv4, p, edit)
        case .v6(let p): try change(&ipv6, p, edit)
        }
    }

    private func change<Table: LPMTable>(
        _ rib: inout FamilyRIB<Table>, _ prefix: Table.Prefix, _ edit: (inout [RouteEntry]) -> Bool
    ) throws(RoutingError) {
        let old = rib.prefixes[prefix]
        var routes = old?.routes ?? []
        guard edit(&routes) else { return }
        routes.sort(by: RouteEntry.ranks)
        var newEntry: PrefixRoutes? = nil
        if !routes.isEmpty {
            let chain = try acquireChain(for: routes)
            newEntry = PrefixRoutes(routes: routes, chain: chain, installed: old?.installed ?? false)
        }
        // From here on nothing can fail.
        count(old?.routes ?? [], in: &rib, sign: -1)
        count(routes, in: &rib, sign: 1)
        if var newEntry {
            rib.sync(prefix, &newEntry, resolved: chains[newEntry.chain].resolution != nil)
            rib.prefixes[prefix] = newEntry
        } else if let old {
            if old.installed { rib.removeFromTable(prefix) }
            rib.prefixes[prefix] = nil
        }
        if let old { releaseChain(old.chain) }
    }

    private func count<Table>(_ routes: [RouteEntry], in rib: inout FamilyRIB<Table>, sign: Int) {
        for route in routes {
            rib.routesBySource[Int(route.source.rawValue)] += sign
            if route.source == .dynamic { adjustDynamicCount(by: sign) }
        }
    }

    /// The chain of ranked `routes` (one reference taken), made and published if new.
    func acquireChain(for routes: [RouteEntry]) throws(RoutingError) -> ChainID {
        if let last = lastAcquired, last.freed == chains.freedCount, last.routes == routes {
            chains.retain(last.chain)
            return last.chain
        }
        let chain = try acquireChain(forNew: routes)
        lastAcquired = (routes, chain, chains.freedCount)
        return chain
    }

    private func acquireChain(forNew routes: [RouteEntry]) throws(RoutingError) -> ChainID {
        var candidates: [Candidate] = []
        do {
            for set in PrefixRoutes.candidateSets(routes) {
                candidates.append(Candidate(group: try acquireGroup(set.members), source: set.source))
            }
        } catch {
            for candidate in candidates { groups.release(candidate.group) }
            throw error
        }
        guard let (chain, isNew) = chains.acquire(candidates, isLive: { groups[$0].isLive }) else {
            for candidate in candidates { groups.release(candidate.group) }
            throw .capacityExhausted("route chains")
        }
        if isNew {
            let resolution = chains[chain].resolution
            plane.setResolution(resolution.map { ($0.group, $0.source) }, of: chain)
        } else {
            // The existing chain holds its own references to these groups.
            for candidate in candidates { groups.release(candidate.group) }
        }
        return chain
    }

    /// Drops a prefix's reference to its chain, and the chain's references to its groups if it was the last.
    func releaseChain(_ chain: ChainID) {
        guard let candidates = chains.release(chain) else { return }
        for candidate in candidates { groups.release(candidate.group) }
    }

    /// Compiles the configuration's routes into the empty RIB and fills the LPM tables in bulk.
    func load(_ routes: [Route]) throws(RoutingError) {
        var v4: [IPv4Prefix: [RouteEntry]] = [:]
        var v6: [IPv6Prefix: [RouteEntry]] = [:]
        for route in routes {
            try checkConnection(route.connection)
            let entry = RouteEntry(
                source: route.source, metric: route.metric, connection: route.connection, weight: route.weight)
            switch route.prefix {
            case .v4(let p): Self.merge(entry, into: &v4[p, default: []])
            case .v6(let p): Self.merge(entry, into: &v6[p, default: []])
            }
        }
        try load(v4, into: &ipv4)
        try load(v6, into: &ipv6)
    }

    private static func merge(_ entry: RouteEntry, into routes: inout [RouteEntry]) {
        if let index = routes.firstIndex(where: { $0.isSameRoute(as: entry) }) {
            routes[index] = entry
        } else {
            routes.append(entry)
        }
    }

    private func load<Table: LPMTable>(
        _ byPrefix: [Table.Prefix: [RouteEntry]], into rib: inout FamilyRIB<Table>
    ) throws(RoutingError) {
        precondition(rib.prefixes.isEmpty, "bulk load needs an empty RIB")
        // Most prefixes share their route list (a full table through one connection): compile each list once.
        var chainOf: [[RouteEntry]: ChainID] = [:]
        var installed: [(prefix: Table.Prefix, value: UInt32)] = []
        installed.reserveCapacity(byPrefix.count)
        rib.prefixes.reserveCapacity(byPrefix.count)
        for (prefix, unranked) in byPrefix {
            let routes = unranked.sorted(by: RouteEntry.ranks)
            let chain: ChainID
            if let known = chainOf[routes] {
                chain = known
                chains.retain(known)
            } else {
                chain = try acquireChain(for: routes)
                chainOf[routes] = chain
            }
            let resolved = chains[chain].resolution != nil
            rib.prefixes[prefix] = PrefixRoutes(routes: routes, chain: chain, installed: resolved)
            count(routes, in: &rib, sign: 1)
            if resolved { installed.append((prefix, chain.rawValue)) }
        }
        rib.table.load(installed)
    }
}
