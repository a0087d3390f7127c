import Foundation
import Synchronization
import Testing
import TandemPacket
import TandemDatasets
@testable import TandemLPM

/// One writer churns prefixes while readers look up addresses under them; every answer must be
/// a value that some prefix covering the address has had (never torn, never another slot's).
@Suite("Readers during writes", .serialized)
struct ConcurrencyTests {
    final class Flag: Sendable {
        let stopped = Atomic<Bool>(false)
    }

    /// Each churned prefix k only ever carries values in 1000*k ..< 1000*k + 1000; the covering
    /// base prefix of an address carries `base`. An address may see its base value or the value of
    /// any churned prefix that covers it.
    static func churn<Table: LPMTable>(
        _ table: Table, churned: [Table.Prefix], base: [(Table.Prefix, UInt32)], probes: [Table.Address], operations: Int
    ) {
        for (prefix, value) in base { table.insert(prefix, value: value) }
        // What each probe may legally see.
        let allowed: [(base: UInt32?, churned: [Int])] = probes.map { address in
            let covering = base.filter { $0.0.contains(address) }.max { $0.0.length < $1.0.length }
            return (covering?.1, churned.indices.filter { churned[$0].contains(address) })
        }
        let flag = Flag()
        let violations = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let reader = Thread {
            var count = 0
            while !flag.stopped.load(ordering: .relaxed) {
                for (index, address) in probes.enumerated() {
                    let answer = table.lookup(address)
                    let ok: Bool
                    if let answer, answer >= 1000 {
                        ok = allowed[index].churned.contains(Int(answer / 1000) - 1)
                    } else {
                        ok = answer == allowed[index].base || (answer == nil && allowed[index].base == nil)
                    }
                    if !ok && violations.add(1, ordering: .relaxed).newValue <= 3 {
                        print("\(address) answered \(String(describing: answer)); base \(String(describing: allowed[index].base))")
                    }
                    count += 1
                }
            }
            reads.store(count, ordering: .relaxed)
        }
        reader.start()
        var random = SplitMix64(seed: 99)
        for _ in 0..<operations {
            let k = Int(random.next() % UInt64(churned.count))
            if random.next() % 2 == 0 {
                table.insert(churned[k], value: UInt32(1000 * (k + 1)) + UInt32(random.next() % 1000))
            } else {
                table.remove(churned[k])
            }
        }
        flag.stopped.store(true, ordering: .relaxed)
        while reads.load(ordering: .relaxed) == 0 { usleep(1000) }
        #expect(violations.load(ordering: .relaxed) == 0, "torn or foreign answers seen")
        #expect(reads.load(ordering: .relaxed) > 0)
    }

    /// The table the churn runs under, and how many changes it makes: 200 000 IPv4 and 50 000 IPv6 prefixes of the
    /// full table and as many changes; with TANDEM_TEST_UNDER_SANITIZER=1 (tools/lib/check-sanitizers sets it) a
    /// small synthetic table and a twentieth of the changes, because a debug build under ThreadSanitizer runs these
    /// loops a hundred times slower, and ThreadSanitizer needs the accesses to happen, not to collide. The churned
    /// prefixes and the probes stay the same, so the reader still races the writer in every slot the churn touches.
    static let underSanitizer = ProcessInfo.processInfo.environment["TANDEM_TEST_UNDER_SANITIZER"] == "1"
    static var background: RouteTableData {
        underSanitizer
            ? SyntheticTable.generate(seed: 7, scale: 0.02, reason: "TANDEM_TEST_UNDER_SANITIZER=1") : fullTable
    }
    static func operations(_ full: Int) -> Int { underSanitizer ? full / 20 : full }

    @Test("IPv4: churn under a million-route table")
    func ipv4() throws {
        let table = IPv4Table()
        // Values below 1000 for the background table so they cannot pass for churned ones.
        table.load(Self.background.ipv4.prefix(200_000).enumerated().map { ($0.element, UInt32($0.offset % 997)) })
        var churned: [IPv4Prefix] = []
        for third in 0..<64 {  // nested prefixes under 198.18.0.0/15: /16 ... /32, across slots
            let base = UInt32(0xC612_0000) | UInt32(third) << 10
            for length in [16, 17, 20, 22, 23, 24, 25, 28, 30, 32] {
                churned.append(IPv4Prefix(normalizing: IPv4Address(rawValue: base | 0x5), length: length))
            }
        }
        churned = Array(Set(churned))
        let base = [(try IPv4Prefix(address: IPv4Address(rawValue: 0xC612_0000), length: 15), UInt32(500))]
        let probes = (0..<64).flatMap { third in
            [0, 5, 6, 255, 1023].map { IPv4Address(rawValue: 0xC612_0000 | UInt32(third) << 10 | UInt32($0)) }
        }
        Self.churn(table, churned: churned, base: base, probes: probes, operations: Self.operations(200_000))
    }

    @Test("IPv6: churn across depths")
    func ipv6() throws {
        let table = IPv6Table()
        table.load(Self.background.ipv6.prefix(50_000).enumerated().map { ($0.element, UInt32($0.offset % 997)) })
        let root: UInt128 = 0x2001_0db8 << 96
        var churned: [IPv6Prefix] = []
        for branch in 0..<32 {
            let base = root | UInt128(branch) << 72 | 0x1234
            for length in [20, 32, 33, 40, 48, 49, 56, 64, 100, 127, 128] {
                churned.append(IPv6Prefix(normalizing: IPv6Address(rawValue: base), length: length))
            }
        }
        churned = Array(Set(churned))
        // A /31 so that no churned prefix (the shortest is the /20, then /32s) is the base itself.
        let base = [(try IPv6Prefix(address: IPv6Address(rawValue: root), length: 31), UInt32(600))]
        let probes = (0..<32).flatMap { branch in
            [0x1234, 0x1235, 0, 0xFFFF].map { IPv6Address(rawValue: root | UInt128(branch) << 72 | UInt128($0)) }
        }
        Self.churn(table, churned: churned, base: base, probes: probes, operations: Self.operations(50_000))
    }
}

/// The churn of the concurrency tests, on one thread, checked against the reference after every
/// step: if this fails the bug is in the updates, not in the concurrency.
@Suite("Churn on one thread")
struct SequentialChurnTests {
    @Test("IPv6 nested prefixes from /20 to /128 under one slot")
    func ipv6() {
        let table = IPv6Table()
        var reference = ReferenceTable<IPv6Prefix>()
        let root: UInt128 = 0x2001_0db8 << 96
        var churned: [IPv6Prefix] = []
        for branch in 0..<8 {
            for length in [20, 32, 33, 40, 48, 49, 56, 64, 100, 127, 128] {
                churned.append(IPv6Prefix(normalizing: IPv6Address(rawValue: root | UInt128(branch) << 72 | 0x1234), length: length))
            }
        }
        let probes = (0..<8).flatMap { branch in
            [0x1234, 0x1235, 0, 0xFFFF].map { IPv6Address(rawValue: root | UInt128(branch) << 72 | UInt128($0)) }
        }
        var random = SplitMix64(seed: 5)
        for step in 0..<3000 {
            let prefix = churned[Int(random.next() % UInt64(churned.count))]
            if random.next() % 2 == 0 {
                let value = UInt32(random.next() % 5000)
                #expect(table.insert(prefix, value: value) == reference.insert(prefix, value: value))
            } else {
                #expect(table.remove(prefix) == reference.remove(prefix))
            }
            for address in probes where table.lookup(address) != reference.lookup(address) {
                Issue.record("step \(step) after \(prefix): \(address) table \(String(describing: table.lookup(address))) reference \(String(describing: reference.lookup(address)))")
                return
            }
        }
    }
}
