import CMnl
import Foundation
import Glibc
import Testing
import TandemPacket

@testable import TandemLinux

/// Neighbour entries: what the writer puts in a message the parser reads back, malformed messages are left out,
/// and (as root, in a namespace of the test's own) the kernel resolves a managed entry without any traffic, as
/// `ip neigh` shows.
struct NeighbourNetlinkTests {
    typealias B = NetlinkBytes

    static let hop4 = NeighbourEntry.Key(address: .v4(try! IPv4Address("198.18.0.2")), interfaceIndex: 7)
    static let hop6 = NeighbourEntry.Key(address: .v6(try! IPv6Address("2001:db8::2")), interfaceIndex: 7)

    /// What ``RouteNetlink/put(_:sequence:into:)`` writes for `change`, read back by the parser.
    static func roundTrip(_ change: NeighbourChange) -> (type: UInt16, entry: NeighbourEntry?) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        let header = mnl_nlmsg_put_header(buffer)!
        RouteNetlink.put(change, sequence: 7, into: header)
        return (header.pointee.nlmsg_type, RouteNetlink.parseNeighbour(UnsafePointer(header)))
    }

    @Test func whatIsWrittenReadsBackTheSame() {
        for key in [Self.hop4, Self.hop6] {
            let kept = Self.roundTrip(.keepResolved(key, protocol: 201))
            #expect(kept.type == UInt16(RTM_NEWNEIGH))
            #expect(kept.entry == NeighbourEntry(key: key, state: [], managed: true, protocol: 201))
            let deleted = Self.roundTrip(.delete(key))
            #expect(deleted.type == UInt16(RTM_DELNEIGH))
            #expect(deleted.entry == NeighbourEntry(key: key, state: [], managed: false, protocol: 0))
        }
        let entry = NeighbourEntry(key: Self.hop6, state: [.reachable], managed: true, protocol: 201)
        #expect(entry.description == "2001:db8::2 dev #7 REACHABLE managed proto 201")
        #expect(entry.isResolved && !entry.isStatic)
        #expect(NeighbourEntry(key: Self.hop4, state: [.permanent], managed: false, protocol: 0).isStatic)
        #expect(!NeighbourEntry(key: Self.hop4, state: [.incomplete], managed: true, protocol: 201).isResolved)
    }

    @Test func malformedEntriesAreLeftOut() {
        // ndmsg: family, 3 pad bytes, ifindex, state, flags, type.
        func header(family: Int32 = AF_INET6, index: Int32 = 7, flags: UInt8 = 0) -> [UInt8] {
            [UInt8(family), 0, 0, 0] + B.le(index) + B.le(UInt16(NUD_REACHABLE)) + [flags, 0]
        }
        let address = Array(repeating: UInt8(0x20), count: 16)
        func entry(_ header: [UInt8], _ attributes: [(type: Int32, payload: [UInt8])]) -> NeighbourEntry? {
            B.withMessage(B.message(type: Int32(RTM_NEWNEIGH), family: header, attributes: attributes)) {
                RouteNetlink.parseNeighbour($0)
            }
        }
        #expect(entry(header(), [(Int32(NDA_DST), address)])?.state == [.reachable])
        // An IPv4 address in an IPv6 entry; a flags word of 2 bytes; a 2-byte protocol; no address at all.
        #expect(entry(header(), [(Int32(NDA_DST), [198, 18, 0, 2])]) == nil)
        #expect(entry(header(), [(Int32(NDA_DST), address), (Int32(NDA_FLAGS_EXT), [1, 0])]) == nil)
        #expect(entry(header(), [(Int32(NDA_DST), address), (Int32(NDA_PROTOCOL), [201, 0])]) == nil)
        #expect(entry(header(), []) == nil)
        // A proxy entry, a bridge's FDB entry, an entry of no device.
        #expect(entry(header(flags: UInt8(NTF_PROXY)), [(Int32(NDA_DST), address)]) == nil)
        #expect(entry(header(family: AF_BRIDGE), [(Int32(NDA_DST), address)]) == nil)
        #expect(entry(header(index: 0), [(Int32(NDA_DST), address)]) == nil)
        // Half an ndmsg.
        let short = B.le(UInt32(20)) + B.le(UInt16(RTM_NEWNEIGH)) + [0, 0] + B.le(UInt32(1)) + B.le(UInt32(0)) + [10, 0, 0, 0]
        #expect(B.withMessage(short) { RouteNetlink.parseNeighbour($0) } == nil)
    }
}

/// Managed neighbour entries in a real kernel (Linux 5.16), checked against `ip neigh`.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct ManagedNeighbourTests {
    @Test func aManagedEntryIsResolvedWithoutTrafficAndDeleted() throws {
        try TestNamespace.with { lab in
            let name = lab.namespace.name
            // The neighbours answer from a namespace of their own, on v1, the other end of v0's pair (a kernel does
            // not take an ARP reply from an address of its own).
            let peer = name + "-peer"
            try TestNamespace.ip(["netns", "add", peer])
            defer { _ = try? TestNamespace.ip(["netns", "del", peer]) }
            try TestNamespace.ip(["-n", name, "link", "set", "v1", "netns", peer])
            try TestNamespace.ip(["-n", peer, "link", "set", "v1", "up"])
            try TestNamespace.ip(["-n", peer, "addr", "add", "198.18.0.2/24", "dev", "v1"])
            try TestNamespace.ip(["-n", peer, "-6", "addr", "add", "2001:db8::2/64", "dev", "v1", "nodad"])
            let netlink = try lab.netlink()
            let v0 = try lab.index(of: "v0")
            let hop4 = NeighbourEntry.Key(address: .v4(try IPv4Address("198.18.0.2")), interfaceIndex: v0)
            let hop6 = NeighbourEntry.Key(address: .v6(try IPv6Address("2001:db8::2")), interfaceIndex: v0)
            let refused = try netlink.refusals(applying: [.keepResolved(hop4, protocol: 201), .keepResolved(hop6, protocol: 201)])
            #expect(refused.isEmpty, "\(refused)")

            // Nothing sends to them, yet the kernel resolves both (IPv6 once v0's link-local address is usable).
            func ours() throws -> [NeighbourEntry] {
                try netlink.neighbours().filter { [hop4, hop6].contains($0.key) }
            }
            var entries: [NeighbourEntry] = []
            for _ in 0..<50 {
                entries = try ours()
                if entries.count == 2 && entries.allSatisfy(\.isResolved) { break }
                usleep(100_000)
            }
            #expect(entries.count == 2 && entries.allSatisfy { $0.isResolved && $0.managed && $0.protocol == 201 },
                "\(entries)")
            let shown = try TestNamespace.ip(["-n", name, "neigh", "show", "dev", "v0"])
            for address in ["198.18.0.2", "2001:db8::2"] {
                let line = shown.split(separator: "\n").first { $0.hasPrefix(address + " ") } ?? ""
                #expect(line.contains("lladdr") && line.contains("managed"), "ip neigh: \(shown)")
            }

            // An operator's permanent entry reads as static.
            try TestNamespace.ip(["-n", name, "neigh", "add", "198.18.0.9", "lladdr", "02:00:00:00:00:09", "dev", "v0", "nud", "permanent"])
            let fixed = try netlink.neighbours().first { $0.key.address == .v4(try IPv4Address("198.18.0.9")) }
            #expect(fixed?.isStatic == true && fixed?.managed == false, "\(String(describing: fixed))")

            // Deleted; a second deletion is refused by name.
            #expect(try netlink.refusals(applying: [.delete(hop4), .delete(hop6)]).isEmpty)
            #expect(try ours().isEmpty)
            let again = try netlink.refusals(applying: [.delete(hop4)])
            #expect(again.first?.error.description == "deleting neighbour 198.18.0.2 dev #\(v0): No such file or directory")
        }
    }
}
