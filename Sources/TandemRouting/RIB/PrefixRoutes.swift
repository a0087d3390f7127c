import TandemLPM
import TandemPacket

/// One route as the RIB keeps it under its prefix.
struct RouteEntry: Hashable {
    var source: RouteSource
    var metric: UInt32
    var connection: ConnectionID
    var weight: UInt8

    /// Routes are identified by prefix, source and connection; a second route with the same three replaces it.
    func isSameRoute(as other: RouteEntry) -> Bool { source == other.source && connection == other.connection }

    /// Ranking: source, then metric; connection only to make the order total (and reproducible).
    static func ranks(_ a: RouteEntry, before b: RouteEntry) -> Bool {
        (a.source, a.metric, a.connection.rawValue) < (b.source, b.metric, b.connection.rawValue)
    }
}

/// The routes of one prefix, kept ranked, and the chain they compile to.
struct PrefixRoutes {
    /// Ranked, best first. Most prefixes have one route.
    var routes: [RouteEntry]
    var chain: ChainID
    /// In the LPM table: the chain resolves to a live group.
    var installed: Bool

    /// The candidate member lists in rank order: routes tying on source and metric form one ECMP set.
    static func candidateSets(_ routes: [RouteEntry]) -> [(source: RouteSource, members: [ECMPMember])] {
        var sets: [(source: RouteSource, members: [ECMPMember])] = []
        var index = 0
        while index < routes.count {
            let first = routes[index]
            var members: [ECMPMember] = []
            while index < routes.count && routes[index].source == first.source && routes[index].metric == first.metric {
                members.append(ECMPMember(id: routes[index].connection.rawValue, weight: routes[index].weight))
                index += 1
            }
            sets.append((first.source, members))
        }
        return sets
    }
}

/// The destination routes of one family: prefix -> ranked routes, compiled into an LPM table of chain ids.
struct FamilyRIB<Table: LPMTable> {
    let table: Table
    var prefixes: [Table.Prefix: PrefixRoutes] = [:]
    /// Routes per source (index = source's raw value).
    var routesBySource = [Int](repeating: 0, count: RouteSource.allCases.count)

    /// Inside ``Router/batchingInserts(_:)``: the LPM inserts not made yet, made together at its end.
    var batchedInserts: [(prefix: Table.Prefix, value: UInt32)]?

    init(table: Table) { self.table = table }

    /// Puts the prefix in the LPM table or takes it out, as its chain's resolution says.
    mutating func sync(_ prefix: Table.Prefix, resolved: Bool) {
        guard var entry = prefixes[prefix] else { return }
        sync(prefix, &entry, resolved: resolved)
        prefixes[prefix] = entry
    }

    /// ``sync(_:resolved:)`` for an entry on its way into `prefixes` (its `installed` is set here): a new prefix is
    /// hashed twice, not four times (a million of them at start).
    mutating func sync(_ prefix: Table.Prefix, _ entry: inout PrefixRoutes, resolved: Bool) {
        if resolved {
            if batchedInserts != nil {
                batchedInserts!.append((prefix, entry.chain.rawValue))
            } else if !entry.installed || table.value(for: prefix) != entry.chain.rawValue {
                table.insert(prefix, value: entry.chain.rawValue)
            }
            entry.installed = true
        } else if entry.installed {
            removeFromTable(prefix)
            entry.installed = false
        }
    }

    /// Takes a prefix out of the LPM table, after the inserts batched before it (which may include it).
    mutating func removeFromTable(_ prefix: Table.Prefix) {
        flushBatchedInserts()
        table.remove(prefix)
    }

    /// Makes the batched inserts, if any; batching goes on if it was on.
    mutating func flushBatchedInserts() {
        guard let inserts = batchedInserts, !inserts.isEmpty else { return }
        table.insert(contentsOf: inserts)
        batchedInserts = []
    }

    /// Installs or removes every prefix whose chain is in `chains`, as `isResolved` says.
    mutating func sync(chains: Set<ChainID>, isResolved: (ChainID) -> Bool) -> Int {
        // Collect first: changing the dictionary while iterating it would copy it.
        var changes: [(Table.Prefix, Bool)] = []
        for (prefix, entry) in prefixes where chains.contains(entry.chain) {
            let resolved = isResolved(entry.chain)
            if resolved != entry.installed { changes.append((prefix, resolved)) }
        }
        for (prefix, resolved) in changes { sync(prefix, resolved: resolved) }
        return changes.count
    }
}
