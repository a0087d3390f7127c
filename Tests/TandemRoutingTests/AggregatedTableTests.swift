import Testing
import TandemPacket
import TandemDatasets
@testable import TandemRouting

/// The aggregation keeps every address's answer: checked on hand-made cases, then against a brute-force longest
/// match over random prefixes of three targets, after every batch of random changes, and against an aggregation
/// built afresh from the same prefixes (the incremental one must not drift).
@Suite struct AggregatedTableTests {
    static func prefix(_ text: String) -> RoutePrefix { try! RoutePrefix(text) }

    static func routes(_ table: AggregatedTable<String>) -> [String: String] {
        Dictionary(uniqueKeysWithValues: table.routes.map { ("\($0.prefix)", $0.target) })
    }

    static func table(_ entries: [(String, String)]) -> AggregatedTable<String> {
        var table = AggregatedTable<String>()
        for (text, target) in entries { table.set(target, for: prefix(text)) }
        _ = table.commit()
        return table
    }

    @Test func twoHalvesOfOneTargetAreTheirParent() {
        let table = Self.table([("10.0.0.0/24", "a"), ("10.0.1.0/24", "a"), ("10.0.2.0/24", "a"), ("10.0.3.0/24", "a")])
        #expect(Self.routes(table) == ["10.0.0.0/22": "a"])
        #expect(table.prefixCount == 4)
    }

    @Test func halvesOfTwoTargetsStayApart() {
        let table = Self.table([("10.0.0.0/24", "a"), ("10.0.1.0/24", "b")])
        #expect(Self.routes(table) == ["10.0.0.0/24": "a", "10.0.1.0/24": "b"])
    }

    @Test func aPrefixUnderARouteOfItsOwnTargetAddsNothing() {
        // In a block, across the short prefixes, and from a short prefix into a block.
        #expect(Self.routes(Self.table([("10.1.0.0/16", "a"), ("10.1.7.0/24", "a")])) == ["10.1.0.0/16": "a"])
        #expect(Self.routes(Self.table([("10.0.0.0/8", "a"), ("10.16.0.0/12", "a")])) == ["10.0.0.0/8": "a"])
        #expect(Self.routes(Self.table([("10.0.0.0/8", "a"), ("10.1.7.0/24", "a")])) == ["10.0.0.0/8": "a"])
        #expect(
            Self.routes(Self.table([("2001:db8::/29", "a"), ("2001:db8:1::/48", "a")])) == ["2001:db8::/29": "a"])
    }

    @Test func aRouteOfAnotherTargetInBetweenStopsTheAggregation() {
        // 10.1.7.0/24 goes to a, but the /12 of b is nearer: the /24 must stay.
        let table = Self.table([("10.0.0.0/8", "a"), ("10.0.0.0/12", "b"), ("10.1.7.0/24", "a")])
        #expect(Self.routes(table) == ["10.0.0.0/8": "a", "10.0.0.0/12": "b", "10.1.7.0/24": "a"])
        // In a block: a /30 of another target inside a /24 stays, more specific; the /24 with it is not merged with
        // its sibling (the walk merges only halves that resolve to one target throughout).
        let inside = Self.table([("198.18.0.0/24", "a"), ("198.18.1.0/24", "a"), ("198.18.1.4/30", "b")])
        #expect(Self.routes(inside) == ["198.18.0.0/24": "a", "198.18.1.0/24": "a", "198.18.1.4/30": "b"])
    }

    @Test func aPrefixFullyCoveredByMoreSpecificsOfAnotherTargetGoes() {
        let table = Self.table([("10.1.0.0/23", "a"), ("10.1.0.0/24", "b"), ("10.1.1.0/24", "b")])
        #expect(Self.routes(table) == ["10.1.0.0/23": "b"])
    }

    @Test func commitReportsWhatCameWentAndChanged() {
        var table = Self.table([("10.0.0.0/24", "a")])
        table.set("a", for: Self.prefix("10.0.1.0/24"))
        var changes = table.commit()
        #expect(Set(changes.map { "\($0.prefix) \($0.target ?? "-")" }) == ["10.0.0.0/23 a", "10.0.0.0/24 -"])
        table.set(nil, for: Self.prefix("10.0.0.0/24"))
        changes = table.commit()
        #expect(Set(changes.map { "\($0.prefix) \($0.target ?? "-")" }) == ["10.0.0.0/23 -", "10.0.1.0/24 a"])
        // A short prefix's change reaches the blocks below it.
        table.set("a", for: Self.prefix("10.0.0.0/8"))
        changes = table.commit()
        #expect(Set(changes.map { "\($0.prefix) \($0.target ?? "-")" }) == ["10.0.0.0/8 a", "10.0.1.0/24 -"])
        #expect(table.route(for: Self.prefix("10.0.0.0/8")) == "a")
        #expect(table.target(of: Self.prefix("10.0.1.0/24")) == "a")
        #expect(table.route(for: Self.prefix("10.0.1.0/24")) == nil)
        #expect(Set(table.prefixes(goingTo: ["a"])) == [Self.prefix("10.0.0.0/8"), Self.prefix("10.0.1.0/24")])
    }

    // MARK: Against a brute-force longest match

    /// A random prefix near 10.0.0.0/8 or 2001:db8::/29, short and long, so that they nest and touch often.
    static func randomPrefix(_ random: inout SplitMix64) -> RoutePrefix {
        if random.next() % 3 != 0 {
            let length = Int(random.next() % 23) + 8  // 8 ... 30, around the /16 blocks
            let address = UInt32(10) << 24 | UInt32(random.next() % 4) << 16 | UInt32(random.next() % 8) << 8
                | UInt32(random.next() % 256)
            return .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: address), length: length))
        }
        let length = Int(random.next() % 37) + 24  // 24 ... 60, around the /32 blocks
        let high = UInt128(0x2001_0db8) << 96 | UInt128(random.next() % 8) << 93 | UInt128(random.next() % 16) << 80
            | UInt128(random.next() % 4) << 68
        return .v6(IPv6Prefix(normalizing: IPv6Address(rawValue: high), length: length))
    }

    /// The target of the longest prefix of `entries` that holds `address` (a host prefix).
    static func longestMatch(_ address: RoutePrefix, in entries: [RoutePrefix: String]) -> String? {
        var best: (length: Int, target: String)?
        for (prefix, target) in entries where prefix.contains(address) && prefix.length >= (best?.length ?? -1) {
            best = (prefix.length, target)
        }
        return best?.target
    }

    /// The first and last address of a prefix and the addresses just outside it.
    static func probes(around prefix: RoutePrefix) -> [RoutePrefix] { AddressSamples.edges(of: prefix) }

    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func randomChangesKeepEveryAddressAnswer(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var wanted: [RoutePrefix: String] = [:]
        var table = AggregatedTable<String>()
        var mirror: [RoutePrefix: String] = [:]  // the routes as the changes describe them
        for _ in 0..<30 {
            for _ in 0..<(1 + random.next() % 40) {
                let prefix = Self.randomPrefix(&random)
                let target: String? = random.next() % 4 == 0 ? nil : ["a", "b", "c"][Int(random.next() % 3)]
                wanted[prefix] = target
                table.set(target, for: prefix)
            }
            for change in table.commit() { mirror[change.prefix] = change.target }
            let routes = Dictionary(uniqueKeysWithValues: table.routes.map { ($0.prefix, $0.target) })
            #expect(routes == mirror)
            #expect(table.prefixCount == wanted.count)
            #expect(routes.count <= wanted.count)
            // Every address at an edge of a prefix or a route answers as the longest prefix set does.
            for prefix in Set(wanted.keys).union(routes.keys) {
                for address in Self.probes(around: prefix) {
                    #expect(
                        Self.longestMatch(address, in: routes) == Self.longestMatch(address, in: wanted),
                        "\(address): routes \(routes.sorted { $0.key < $1.key }), wanted \(wanted.sorted { $0.key < $1.key })")
                }
            }
            // The same prefixes aggregated in one go give the same routes.
            var fresh = AggregatedTable<String>()
            for (prefix, target) in wanted { fresh.set(target, for: prefix) }
            _ = fresh.commit()
            #expect(Dictionary(uniqueKeysWithValues: fresh.routes.map { ($0.prefix, $0.target) }) == routes)
        }
    }

    /// Setting many prefixes at once (into an empty table it sorts them and makes each block whole) ends where
    /// setting them one by one does: the same targets, the same routes, the same changes at commit. Prefixes come
    /// more than once (the last target counts) and some are set to nothing.
    @Test(arguments: [7, 8, 9] as [UInt64])
    func settingManyAtOnceEqualsOneByOne(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var targets: [(prefix: RoutePrefix, target: String?)] = []
        for _ in 0..<3000 {
            let prefix = random.next() % 5 == 0 && !targets.isEmpty
                ? targets[Int(random.next() % UInt64(targets.count))].prefix : Self.randomPrefix(&random)
            targets.append((prefix, random.next() % 6 == 0 ? nil : ["a", "b", "c"][Int(random.next() % 3)]))
        }
        var oneByOne = AggregatedTable<String>()
        for (prefix, target) in targets { oneByOne.set(target, for: prefix) }
        var atOnce = AggregatedTable<String>()
        atOnce.set(targets)
        func changes(_ table: inout AggregatedTable<String>) -> [RoutePrefix: String?] {
            Dictionary(table.commit().map { ($0.prefix, $0.target) }, uniquingKeysWith: { _, last in last })
        }
        #expect(changes(&atOnce) == changes(&oneByOne))
        #expect(atOnce.prefixCount == oneByOne.prefixCount)
        for (prefix, _) in targets { #expect(atOnce.target(of: prefix) == oneByOne.target(of: prefix), "\(prefix)") }
        #expect(Self.routes(atOnce) == Self.routes(oneByOne))
        // Into a table that holds prefixes already, the changes go one by one.
        let more = targets.prefix(500).map { (prefix: $0.prefix, target: Optional("d")) }
        atOnce.set(more)
        for (prefix, target) in more { oneByOne.set(target, for: prefix) }
        #expect(changes(&atOnce) == changes(&oneByOne))
        #expect(Self.routes(atOnce) == Self.routes(oneByOne))
    }

    /// The Internet table into one target (userspace mode's table): a fifth of its prefixes (the real table; a
    /// synthetic one has random addresses that rarely touch), and addresses inside and outside the prefixes answer
    /// as before.
    @Test func theInternetTableIntoOneTarget() throws {
        let data = try RouteTableData.loadOrSynthesize()
        let prefixes = data.ipv4.map(RoutePrefix.v4) + data.ipv6.map(RoutePrefix.v6)
        var aggregated = AggregatedTable<Int>()
        for prefix in prefixes { aggregated.set(1, for: prefix) }
        _ = aggregated.commit()
        #expect(aggregated.prefixCount == Set(prefixes).count)
        if case .file = data.origin { #expect(aggregated.routeCount * 4 < prefixes.count) }
        let set = Set(prefixes)
        let routes = Set(aggregated.routes.map(\.prefix))
        func covered(_ address: RoutePrefix, by prefixes: Set<RoutePrefix>) -> Bool {
            (0...address.length).contains { length in
                switch address {
                case .v4(let a): prefixes.contains(.v4(IPv4Prefix(normalizing: a.address, length: length)))
                case .v6(let a): prefixes.contains(.v6(IPv6Prefix(normalizing: a.address, length: length)))
                }
            }
        }
        var random = SplitMix64(seed: 15)
        for _ in 0..<20_000 {
            let prefix = prefixes[Int(random.next() % UInt64(prefixes.count))]
            for address in Self.probes(around: prefix) {
                #expect(covered(address, by: routes) == covered(address, by: set), "\(address) of \(prefix)")
            }
        }
    }
}
