// The routes of a kernel table in which many prefixes share a few targets, aggregated: Tandem's table sends a full
// Internet table (1.06 M prefixes) into the ingress device, or to a handful of nexthop groups, and the kernel takes
// 5 to 8 µs of CPU per route it is given on the VMs measured. The kernel's lookup only needs the same answer for
// every address, so the prefixes of one target that cover a range together are one route, and a prefix under a
// route of its own target is none: the 2024 table becomes 212,089 routes (5x fewer) with one target.
//
// What every address resolves to is kept exactly: for every address, the longest aggregated route that holds it has
// the target of the longest prefix set that holds it, and an address no prefix holds is held by no route (it falls
// through to the next rule). So a more specific prefix of another target between a route and the prefixes it
// aggregates stops the aggregation there. Changes are incremental: a prefix set or cleared recomputes its block
// (AggregatedFamily), and ``commit()`` returns the routes that came, went or changed.

import TandemPacket

/// A kernel table's routes, aggregated (see the file's comment).
public struct AggregatedTable<Target: Hashable> {
    private var v4 = AggregatedFamily<IPv4Prefix>(blockLength: 16)
    private var v6 = AggregatedFamily<IPv6Prefix>(blockLength: 32)
    private var targets: [Target] = []
    private var numbers: [Target: TargetNumber] = [:]
    /// The last target numbered: nearly every prefix of a table goes where the one before it went.
    private var lastNumbered: (target: Target, number: TargetNumber)?

    public init() {}

    /// An aggregated route that came (`target` set), changed target, or went (`target` nil).
    public struct Change: Equatable {
        public var prefix: RoutePrefix
        public var target: Target?
    }

    /// Sets where `prefix` goes (`nil`: nowhere, as if it were not set). Takes effect at the next ``commit()``.
    public mutating func set(_ target: Target?, for prefix: RoutePrefix) {
        var number = TargetNumber.none
        if let target { number = self.number(of: target) }
        switch prefix {
        case .v4(let p): v4.set(number, for: p.address.rawValue, length: p.length)
        case .v6(let p): v6.set(number, for: p.address.rawValue, length: p.length)
        }
    }

    /// Sets where each prefix goes, as ``set(_:for:)`` one after another would. Into an empty table (a full sync of a
    /// million prefixes) this is several times faster: each block is made at once from the sorted prefixes.
    ///
    /// Inlinable, so that it is specialized for the caller's sequence: unspecialized, each element of a lazy
    /// sequence cost a lookup of generic metadata, 0.3 s of a full table's sync.
    @inlinable
    public mutating func set(_ targets: some Sequence<(prefix: RoutePrefix, target: Target?)>) {
        var v4Entries: [AggregatedFamily<IPv4Prefix>.Entry] = []
        var v6Entries: [AggregatedFamily<IPv6Prefix>.Entry] = []
        v4Entries.reserveCapacity(targets.underestimatedCount)
        for (prefix, target) in targets {
            var number = TargetNumber.none
            if let target { number = self.number(of: target) }
            switch prefix {
            case .v4(let p): v4Entries.append(.init(key: p.address.rawValue, length: p.length, target: number))
            case .v6(let p): v6Entries.append(.init(key: p.address.rawValue, length: p.length, target: number))
            }
        }
        set(v4Entries, v6Entries)
    }

    /// The families' part of ``set(_:)``: not inlinable, so that the families' code is the copy this module
    /// specializes for their address types (called from another module, it would run generic).
    @usableFromInline
    mutating func set(
        _ v4Entries: [AggregatedFamily<IPv4Prefix>.Entry], _ v6Entries: [AggregatedFamily<IPv6Prefix>.Entry]
    ) {
        v4.set(v4Entries)
        v6.set(v6Entries)
    }

    /// Where `prefix` was set to go.
    public func target(of prefix: RoutePrefix) -> Target? {
        let number =
            switch prefix {
            case .v4(let p): v4.target(of: p.address.rawValue, length: p.length)
            case .v6(let p): v6.target(of: p.address.rawValue, length: p.length)
            }
        return target(number)
    }

    /// Recomputes the aggregation where prefixes changed since the last commit: the routes that changed.
    public mutating func commit() -> [Change] {
        var changes: [Change] = []
        let targets = self.targets
        func target(_ number: TargetNumber) -> Target? { number == .none ? nil : targets[Int(number)] }
        v4.commit { key, length, number in
            let prefix = IPv4Prefix(normalizing: IPv4Address(rawValue: key), length: length)
            changes.append(Change(prefix: .v4(prefix), target: target(number)))
        }
        v6.commit { key, length, number in
            let prefix = IPv6Prefix(normalizing: IPv6Address(rawValue: key), length: length)
            changes.append(Change(prefix: .v6(prefix), target: target(number)))
        }
        return changes
    }

    /// The aggregated route for exactly `prefix`, as of the last commit.
    public func route(for prefix: RoutePrefix) -> Target? {
        let number =
            switch prefix {
            case .v4(let p): v4.route(p.address.rawValue, length: p.length)
            case .v6(let p): v6.route(p.address.rawValue, length: p.length)
            }
        return target(number)
    }

    /// Every aggregated route, as of the last commit (in no particular order).
    public var routes: [(prefix: RoutePrefix, target: Target)] {
        var routes: [(prefix: RoutePrefix, target: Target)] = []
        routes.reserveCapacity(routeCount)
        v4.forEachRoute { key, length, number in
            routes.append((.v4(IPv4Prefix(normalizing: IPv4Address(rawValue: key), length: length)), targets[Int(number)]))
        }
        v6.forEachRoute { key, length, number in
            routes.append((.v6(IPv6Prefix(normalizing: IPv6Address(rawValue: key), length: length)), targets[Int(number)]))
        }
        return routes
    }

    /// How many aggregated routes there are, as of the last commit.
    public var routeCount: Int { v4.routeCount + v6.routeCount }

    /// How many prefixes are set.
    public var prefixCount: Int { v4.prefixCount + v6.prefixCount }

    /// The prefixes set to go to one of `targets` (a walk over all of them).
    public func prefixes(goingTo targets: Set<Target>) -> [RoutePrefix] {
        let wanted = Set(targets.compactMap { numbers[$0] })
        guard !wanted.isEmpty else { return [] }
        var prefixes: [RoutePrefix] = []
        v4.prefixes(withTargetIn: wanted) { prefixes.append(.v4(IPv4Prefix(normalizing: IPv4Address(rawValue: $0), length: $1))) }
        v6.prefixes(withTargetIn: wanted) { prefixes.append(.v6(IPv6Prefix(normalizing: IPv6Address(rawValue: $0), length: $1))) }
        return prefixes
    }

    /// A target's number. Targets are few (a device, a group per route chain) and are numbered for good.
    @usableFromInline
    mutating func number(of target: Target) -> TargetNumber {
        if let last = lastNumbered, last.target == target { return last.number }
        if let number = numbers[target] {
            lastNumbered = (target, number)
            return number
        }
        let number = TargetNumber(targets.count)
        precondition(number < .mixed, "AggregatedTable: more targets than numbers")
        targets.append(target)
        numbers[target] = number
        return number
    }

    private func target(_ number: TargetNumber) -> Target? { number == .none ? nil : targets[Int(number)] }
}
