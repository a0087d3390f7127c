import CMnl
import Glibc
import Testing
import TandemPacket

@testable import TandemLinux

/// Rules with source, destination, IP protocol and destination-port selectors (kernel mode's policy routes): what
/// the writer puts in a message the parser reads back the same, malformed selectors are left out, and the kernel
/// (as root, in a namespace of the test's own) shows and dumps them as written.
struct RuleSelectorTests {
    typealias B = NetlinkBytes

    static func prefix(_ text: String) -> RoutePrefix { try! RoutePrefix(text) }

    static let udp = RoutingRule(
        family: .ipv4, priority: 1010, inputDevice: nil, source: prefix("198.18.1.0/24"),
        destination: prefix("198.19.0.0/16"), ipProtocol: 17, destinationPorts: 5000...5001, table: 203, protocol: 201)
    static let v6 = RoutingRule(
        family: .ipv6, priority: 1020, inputDevice: nil, source: prefix("2001:db8:1::/64"),
        destination: prefix("2001:db8:100::/48"), ipProtocol: 6, destinationPorts: 443...443, table: 204, protocol: 201)
    static let sourceOnly = RoutingRule(
        family: .ipv4, priority: 1030, inputDevice: nil, source: prefix("198.18.2.0/24"), table: 205, protocol: 201)

    /// What ``RouteNetlink/put(_:remove:sequence:into:)`` writes, read back by ``RouteNetlink/parseRule(_:)``.
    static func roundTrip(_ rule: RoutingRule) -> RoutingRule? {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        let header = mnl_nlmsg_put_header(buffer)!
        RouteNetlink.put(rule, remove: false, sequence: 7, into: header)
        #expect(header.pointee.nlmsg_type == UInt16(RTM_NEWRULE))
        return RouteNetlink.parseRule(UnsafePointer(header))
    }

    @Test func whatIsWrittenReadsBackTheSame() {
        for rule in [Self.udp, Self.v6, Self.sourceOnly] { #expect(Self.roundTrip(rule) == rule) }
        let plain = RoutingRule(family: .ipv4, priority: 1001, inputDevice: nil, table: 200, protocol: 201)
        #expect(Self.roundTrip(plain) == plain)
        #expect(
            Self.udp.description
                == "ipv4 rule 1010: from 198.18.1.0/24 to 198.19.0.0/16 ipproto 17 dport 5000-5001 lookup 203 proto 201")
    }

    @Test func malformedSelectorsAreLeftOut() {
        func rule(srcLength: UInt8 = 0, _ attributes: [(type: Int32, payload: [UInt8])]) -> RoutingRule? {
            let header: [UInt8] = [UInt8(AF_INET), 0, srcLength, 0, 200, 0, 0, 1] + B.le(UInt32(0))
            return B.withMessage(B.message(type: Int32(RTM_NEWRULE), family: header, attributes: attributes)) {
                RouteNetlink.parseRule($0)
            }
        }
        #expect(rule(srcLength: 24, [(Int32(FRA_SRC), [198, 18, 1, 0])])?.source == Self.prefix("198.18.1.0/24"))
        // An IPv6 address in an IPv4 rule, a length without its address, a length beyond the family.
        #expect(rule(srcLength: 24, [(Int32(FRA_SRC), [UInt8](repeating: 0x20, count: 16))]) == nil)
        #expect(rule(srcLength: 24, []) == nil)
        #expect(rule(srcLength: 33, [(Int32(FRA_SRC), [198, 18, 1, 0])]) == nil)
        // A protocol of two bytes, a port range of two bytes, a range whose start is above its end.
        #expect(rule([(Int32(FRA_IP_PROTO), [17, 0])]) == nil)
        #expect(rule([(Int32(FRA_DPORT_RANGE), B.le(UInt16(5000)))]) == nil)
        #expect(rule([(Int32(FRA_DPORT_RANGE), B.le(UInt16(5001)) + B.le(UInt16(5000)))]) == nil)
        #expect(rule([(Int32(FRA_DPORT_RANGE), B.le(UInt16(5000)) + B.le(UInt16(5001)))])?.destinationPorts == 5000...5001)
        // Linux 6.13 on adds a port mask of 0xffff to a single port by itself (FRA_DPORT_MASK, 29): the port alone.
        let single = B.le(UInt16(443)) + B.le(UInt16(443))
        #expect(rule([(Int32(FRA_DPORT_RANGE), single), (29, B.le(UInt16.max))])?.destinationPorts == 443...443)
        #expect(rule([(Int32(FRA_DPORT_RANGE), single), (29, B.le(UInt16(0xff00)))]) == nil)
        // A selector Tandem does not write (source ports) still leaves the rule out: it is not Tandem's shape.
        #expect(rule([(Int32(FRA_SPORT_RANGE), B.le(UInt16(1)) + B.le(UInt16(2)))]) == nil)
    }

    @Test(.enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
    func theKernelTakesShowsAndDumpsThem() throws {
        try TestNamespace.with { lab in
            let netlink = try lab.netlink()
            #expect(try netlink.apply(rules: [Self.udp, Self.v6, Self.sourceOnly]).isEmpty)
            let shown = try lab.json(["-4", "rule", "show"]).first { $0["priority"] as? Int == 1010 }
            #expect(shown?["src"] as? String == "198.18.1.0" && shown?["srclen"] as? Int == 24)
            #expect(shown?["dst"] as? String == "198.19.0.0" && shown?["dstlen"] as? Int == 16)
            #expect(shown?["ipproto"] as? String == "udp" && shown?["dport_start"] as? Int == 5000)
            #expect(shown?["dport_end"] as? Int == 5001 && shown?["table"] as? String == "203")
            let dumped = try netlink.rules(family: .ipv4) + netlink.rules(family: .ipv6)
            #expect(dumped.contains(Self.udp) && dumped.contains(Self.v6) && dumped.contains(Self.sourceOnly), "\(dumped)")
            // Removing by what the dump returned removes exactly those.
            #expect(try netlink.apply(rules: [Self.udp, Self.v6, Self.sourceOnly], remove: true).isEmpty)
            #expect(try netlink.rules(family: .ipv4).allSatisfy { $0.protocol != 201 })
            #expect(try netlink.rules(family: .ipv6).allSatisfy { $0.protocol != 201 })
        }
    }
}
