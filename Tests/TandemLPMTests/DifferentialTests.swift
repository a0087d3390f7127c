import Testing
import TandemPacket
import TandemDatasets
@testable import TandemLPM

/// The full table against the reference: 1 M addresses, after the update trace, after deleting everything.
@Suite("Full table against the reference", .serialized)
struct DifferentialTests {
    @Test("IPv4: full table, update trace, then empty")
    func ipv4FullTable() throws {
        let data = fullTable
        let table = IPv4Table()
        var reference = ReferenceTable<IPv4Prefix>()
        let routes = data.ipv4.enumerated().map { (prefix: $0.element, value: UInt32($0.offset % 4096)) }
        table.load(routes)
        for route in routes { reference.insert(route.prefix, value: route.value) }
        #expect(table.count == reference.count)
        let inside = AddressSamples.inside(data.ipv4, count: 500_000, seed: 1)
        let uniform = AddressSamples.uniformIPv4(count: 500_000, seed: 2)
        expectSameAnswers(table, reference, on: inside + uniform)

        let trace = try UpdateTrace.loadOrSynthesize(over: data.ipv4)
        for update in trace.updates {
            switch update.kind {
            case .announce:
                let value = update.nextHop.rawValue % 1000 + 5000
                #expect(table.insert(update.prefix, value: value) == reference.insert(update.prefix, value: value))
            case .withdraw:
                #expect(table.remove(update.prefix) == reference.remove(update.prefix))
            }
        }
        #expect(table.count == reference.count)
        let touched = trace.updates.map(\.prefix)
        expectSameAnswers(table, reference, on: inside + uniform + AddressSamples.inside(touched, count: 200_000, seed: 3))

        for (prefix, value) in table.routes() {
            #expect(table.remove(prefix) == value)
        }
        #expect(table.count == 0)
        expectSameAnswers(table, ReferenceTable<IPv4Prefix>(), on: inside + uniform)
        let live = liveArenaElements(table)
        #expect(live.nodes == 0 && live.leaves == 0, "an empty table still holds \(live) nodes/leaves")
    }

    /// The DIR-24 front holds values up to 65,533 in its 16-bit words; a /24 whose value is larger is answered
    /// through the poptrie. Values here run from 0 to past 900,000 (most of them above the front's), and the
    /// update trace moves prefixes across the boundary both ways.
    @Test("IPv4: full table with values beyond the front's 16 bits")
    func ipv4ValuesBeyondTheFront() throws {
        let data = fullTable
        let table = IPv4Table()
        var reference = ReferenceTable<IPv4Prefix>()
        let routes = data.ipv4.enumerated().map { (prefix: $0.element, value: UInt32($0.offset)) }
        table.load(routes)
        for route in routes { reference.insert(route.prefix, value: route.value) }
        let inside = AddressSamples.inside(data.ipv4, count: 300_000, seed: 11)
        let uniform = AddressSamples.uniformIPv4(count: 300_000, seed: 12)
        expectSameAnswers(table, reference, on: inside + uniform)

        let trace = try UpdateTrace.loadOrSynthesize(over: data.ipv4)
        for (index, update) in trace.updates.enumerated() {
            switch update.kind {
            case .announce:
                let value = index % 2 == 0 ? UInt32(65_530 + index % 8) : IPv4Table.maximumValue - UInt32(index % 3)
                #expect(table.insert(update.prefix, value: value) == reference.insert(update.prefix, value: value))
            case .withdraw:
                #expect(table.remove(update.prefix) == reference.remove(update.prefix))
            }
        }
        expectSameAnswers(table, reference, on: inside + uniform + AddressSamples.inside(trace.updates.map(\.prefix), count: 100_000, seed: 13))
    }

    @Test("IPv4: the front's boundary values, one /24 each")
    func ipv4FrontBoundary() throws {
        let table = IPv4Table()
        var reference = ReferenceTable<IPv4Prefix>()
        let values: [UInt32] = [0, 1, 65_532, 65_533, 65_534, 65_535, 65_536, 1_000_000, IPv4Table.maximumValue]
        for (index, value) in values.enumerated() {
            let prefix = IPv4Prefix(normalizing: IPv4Address(rawValue: 0xC612_0000 | UInt32(index) << 8), length: 24)
            #expect(table.insert(prefix, value: value) == nil)
            reference.insert(prefix, value: value)
        }
        let addresses = (0..<UInt32(values.count + 2)).flatMap { index in
            [0, 1, 255].map { IPv4Address(rawValue: 0xC612_0000 | index << 8 | $0) }
        }
        expectSameAnswers(table, reference, on: addresses)
        #expect(table.lookup(IPv4Address(rawValue: 0xC612_0301)) == 65_533)
        #expect(table.lookup(IPv4Address(rawValue: 0xC612_0401)) == 65_534)
    }

    @Test("IPv6: full table, churn, then empty")
    func ipv6FullTable() {
        let data = fullTable
        let table = IPv6Table()
        var reference = ReferenceTable<IPv6Prefix>()
        let routes = data.ipv6.enumerated().map { (prefix: $0.element, value: UInt32($0.offset % 4096)) }
        table.load(routes)
        for route in routes { reference.insert(route.prefix, value: route.value) }
        #expect(table.count == reference.count)
        let inside = AddressSamples.inside(data.ipv6, count: 500_000, seed: 4)
        let uniform = AddressSamples.uniformIPv6GlobalUnicast(count: 500_000, seed: 5)
        expectSameAnswers(table, reference, on: inside + uniform)

        // Churn: withdraw every third prefix, re-announce half of those with new values.
        var random = SplitMix64(seed: 6)
        for (index, prefix) in data.ipv6.enumerated() where index % 3 == 0 {
            #expect(table.remove(prefix) == reference.remove(prefix))
            if random.next() % 2 == 0 {
                let value = UInt32(truncatingIfNeeded: random.next() % 100_000)
                #expect(table.insert(prefix, value: value) == reference.insert(prefix, value: value))
            }
        }
        expectSameAnswers(table, reference, on: inside + uniform)

        for (prefix, value) in table.routes() { #expect(table.remove(prefix) == value) }
        #expect(table.count == 0)
        expectSameAnswers(table, ReferenceTable<IPv6Prefix>(), on: inside + uniform)
        let live = liveArenaElements(table)
        #expect(live.nodes == 0 && live.leaves == 0, "an empty table still holds \(live) nodes/leaves")
    }

    @Test("Bulk load and one-by-one inserts build the same table")
    func loadEqualsInserts() {
        let prefixes = Array(fullTable.ipv4.prefix(50_000))
        let loaded = IPv4Table()
        loaded.load(prefixes.enumerated().map { ($0.element, UInt32($0.offset)) })
        let inserted = IPv4Table()
        for (index, prefix) in prefixes.enumerated().reversed() { inserted.insert(prefix, value: UInt32(index)) }
        var reference = ReferenceTable<IPv4Prefix>()
        for (index, prefix) in prefixes.enumerated() { reference.insert(prefix, value: UInt32(index)) }
        let addresses = AddressSamples.inside(prefixes, count: 100_000, seed: 7)
        expectSameAnswers(loaded, reference, on: addresses)
        expectSameAnswers(inserted, reference, on: addresses)
        #expect(loaded.routes().map(\.prefix) == inserted.routes().map(\.prefix))
    }
}
