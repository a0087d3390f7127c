import Testing
import TandemPacket
import TandemDatasets
@testable import TandemLPM

/// Random small tables full of overlaps, duplicates, /0 and host routes, changed one step at a
/// time and compared with the reference after every step.
@Suite("Random small tables")
struct PropertyTests {
    /// Prefixes around a few anchor addresses, so that they nest and collide.
    static func randomPrefix<P: IPPrefix>(_: P.Type, anchors: [P.Address.RawValue], _ random: inout SplitMix64) -> P {
        let anchor = anchors[Int(random.next() % UInt64(anchors.count))]
        let width = P.Address.bitWidth
        let length: Int
        switch random.next() % 8 {
        case 0: length = 0
        case 1: length = width
        case 2: length = width - Int(random.next() % 8)
        default: length = Int(random.next() % UInt64(width + 1))
        }
        // Flip a bit or two near the end of the prefix so neighbours appear too.
        var raw = anchor
        if length > 0 && random.next() % 2 == 0 { raw ^= P.Address.RawValue(1) << (width - length) }
        return P(normalizing: P.Address(rawValue: raw), length: length)
    }

    /// Addresses at the edges of every prefix, plus the anchors and random ones near them.
    static func probes<P: IPPrefix>(_ prefixes: some Sequence<P>, anchors: [P.Address.RawValue], _ random: inout SplitMix64)
        -> [P.Address]
    {
        var result: [P.Address] = anchors.map { P.Address(rawValue: $0) }
        for prefix in prefixes {
            let first = prefix.address.rawValue
            let last = first | ~P.mask(length: prefix.length)
            result.append(contentsOf: [first, last, first &- 1, last &+ 1].map { P.Address(rawValue: $0) })
        }
        for anchor in anchors {
            for _ in 0..<4 {
                let noise = P.Address.RawValue(truncatingIfNeeded: random.next()) >> (random.next() % 64)
                result.append(P.Address(rawValue: anchor ^ noise))
            }
        }
        return result
    }

    static func run<Table: LPMTable>(_ makeTable: () -> Table, anchors: [Table.Address.RawValue], seed: UInt64, steps: Int) {
        var random = SplitMix64(seed: seed)
        let table = makeTable()
        var reference = ReferenceTable<Table.Prefix>()
        var known: [Table.Prefix] = []
        for step in 0..<steps {
            let prefix: Table.Prefix =
                !known.isEmpty && random.next() % 3 == 0
                ? known[Int(random.next() % UInt64(known.count))]
                : randomPrefix(Table.Prefix.self, anchors: anchors, &random)
            if random.next() % 3 == 0 {
                #expect(table.remove(prefix) == reference.remove(prefix), "step \(step): remove \(prefix)")
            } else {
                let value = UInt32(truncatingIfNeeded: random.next() % 1000)
                #expect(table.insert(prefix, value: value) == reference.insert(prefix, value: value), "step \(step): insert \(prefix)")
                known.append(prefix)
            }
            #expect(table.value(for: prefix) == reference.value(for: prefix))
            if step % 7 == 0 || step == steps - 1 {
                expectSameAnswers(table, reference, on: probes(known.suffix(40), anchors: anchors, &random))
            }
        }
        #expect(table.count == reference.count)
        let routes = table.routes()
        #expect(routes.count == reference.count)
        for (prefix, value) in routes { #expect(reference.value(for: prefix) == value) }
        for address in probes(known.suffix(200), anchors: anchors, &random) {
            let match = table.longestMatch(address)
            #expect(match?.prefix.length == reference.longestLength(address))
            #expect(match?.value == reference.lookup(address))
        }
        for (prefix, _) in routes { table.remove(prefix) }
        let live = liveArenaElements(table)
        #expect(table.count == 0 && live.nodes == 0 && live.leaves == 0)
    }

    static let ipv4Anchors: [UInt32] = [0xC612_0000, 0xC612_0101, 0xC613_FFFF, 0x0A00_0000, 0xFFFF_FFFF, 0, 0xC612_8080]
    static let ipv6Anchors: [UInt128] = [
        0x2001_0db8 << 96, 0x2001_0db8_0000_0001 << 64 | 1, 0x2001_0db8_ffff << 80, ~UInt128(0), 0,
        0x2001_0db8_0012_3400 << 64 | 0xdead_beef,
    ]

    /// Wide top arrays make every /0 change repaint millions of slots: fewer seeds there.
    static func seeds(_ directBits: Int) -> Range<UInt64> { 0..<(directBits >= 22 ? 6 : 40) }

    @Test("IPv4", arguments: [6, 8, 12, 18, 24])
    func ipv4(directBits: Int) {
        for seed in Self.seeds(directBits) {
            Self.run({ IPv4Table(directBits: directBits) }, anchors: Self.ipv4Anchors, seed: seed, steps: 300)
        }
    }

    @Test("IPv6", arguments: [6, 16, 20, 24])
    func ipv6(directBits: Int) {
        for seed in Self.seeds(directBits) {
            Self.run({ IPv6Table(directBits: directBits) }, anchors: Self.ipv6Anchors, seed: seed, steps: 300)
        }
    }

    /// Batches of inserts (`insert(contentsOf:)`, a prefix twice in one batch among them) between single removes:
    /// the same answers as the reference filled one insert at a time, and nothing left in the arenas at the end.
    static func runBatched<Table: LPMTable>(_ makeTable: () -> Table, anchors: [Table.Address.RawValue], seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let table = makeTable()
        var reference = ReferenceTable<Table.Prefix>()
        var known: [Table.Prefix] = []
        for round in 0..<12 {
            var batch: [(prefix: Table.Prefix, value: UInt32)] = []
            for _ in 0..<(1 + random.next() % 60) {
                let prefix: Table.Prefix =
                    !known.isEmpty && random.next() % 4 == 0
                    ? known[Int(random.next() % UInt64(known.count))]
                    : randomPrefix(Table.Prefix.self, anchors: anchors, &random)
                batch.append((prefix, UInt32(truncatingIfNeeded: random.next() % 1000)))
                known.append(prefix)
            }
            table.insert(contentsOf: batch)
            for (prefix, value) in batch { _ = reference.insert(prefix, value: value) }
            for _ in 0..<(random.next() % 8) {
                let prefix = known[Int(random.next() % UInt64(known.count))]
                #expect(table.remove(prefix) == reference.remove(prefix), "round \(round): remove \(prefix)")
            }
            for (prefix, _) in batch { #expect(table.value(for: prefix) == reference.value(for: prefix)) }
            #expect(table.count == reference.count)
            expectSameAnswers(table, reference, on: probes(known.suffix(80), anchors: anchors, &random))
        }
        for (prefix, _) in table.routes() { table.remove(prefix) }
        let live = liveArenaElements(table)
        #expect(table.count == 0 && live.nodes == 0 && live.leaves == 0)
    }

    @Test("IPv4, batched inserts", arguments: [8, 18])
    func ipv4Batched(directBits: Int) {
        for seed in Self.seeds(directBits) {
            Self.runBatched({ IPv4Table(directBits: directBits) }, anchors: Self.ipv4Anchors, seed: seed)
        }
    }

    @Test("IPv6, batched inserts", arguments: [16, 20])
    func ipv6Batched(directBits: Int) {
        for seed in Self.seeds(directBits) {
            Self.runBatched({ IPv6Table(directBits: directBits) }, anchors: Self.ipv6Anchors, seed: seed)
        }
    }

    @Test("The whole address space: /0 alone, then /32s and /128s inside it")
    func edges() throws {
        let v4 = IPv4Table()
        #expect(v4.lookup(IPv4Address(rawValue: 0)) == nil)
        v4.insert(IPv4Prefix(normalizing: IPv4Address(rawValue: 0), length: 0), value: 7)
        #expect(v4.lookup(IPv4Address(rawValue: 0xFFFF_FFFF)) == 7)
        v4.insert(try IPv4Prefix(address: IPv4Address(rawValue: 0xFFFF_FFFF), length: 32), value: 9)
        #expect(v4.lookup(IPv4Address(rawValue: 0xFFFF_FFFF)) == 9)
        #expect(v4.lookup(IPv4Address(rawValue: 0xFFFF_FFFE)) == 7)
        #expect(v4.insert(IPv4Prefix(normalizing: IPv4Address(rawValue: 0), length: 0), value: 8) == 7)
        #expect(v4.remove(IPv4Prefix(normalizing: IPv4Address(rawValue: 0), length: 0)) == 8)
        #expect(v4.lookup(IPv4Address(rawValue: 0xFFFF_FFFE)) == nil)
        #expect(v4.lookup(IPv4Address(rawValue: 0xFFFF_FFFF)) == 9)
        #expect(v4.remove(IPv4Prefix(normalizing: IPv4Address(rawValue: 0), length: 0)) == nil)

        let v6 = IPv6Table()
        let all = IPv6Prefix(normalizing: IPv6Address(rawValue: 0), length: 0)
        v6.insert(all, value: 1)
        let host = try IPv6Prefix(address: IPv6Address(rawValue: 0x2001_0db8 << 96 | 1), length: 128)
        v6.insert(host, value: 2)
        #expect(v6.lookup(host.address) == 2)
        #expect(v6.lookup(IPv6Address(rawValue: 0x2001_0db8 << 96 | 2)) == 1)
        #expect(v6.lookup(IPv6Address(rawValue: ~0)) == 1)
        v6.remove(all)
        #expect(v6.lookup(IPv6Address(rawValue: 0x2001_0db8 << 96 | 2)) == nil)
        #expect(v6.lookup(host.address) == 2)
        #expect(v6.longestMatch(host.address)?.prefix == host)
    }
}
