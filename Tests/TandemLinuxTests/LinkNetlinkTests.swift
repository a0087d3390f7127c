import Foundation
import Testing
import TandemLinux
import TandemPacket

/// Links, addresses and rules over rtnetlink, checked against `ip link`, `ip addr` and `ip rule`.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct LinkNetlinkTests {
    @Test func linksAddressesAndRulesGoInAndComeOut() throws {
        try TestNamespace.with { lab in
            let netlink = try lab.netlink()
            let index = try lab.deviceIndex()
            let name = lab.namespace.name
            // MTU and down, then up.
            #expect(try netlink.apply([LinkChange(index: index, name: "v0", up: false, mtu: 1400)]).isEmpty)
            var link = try TestNamespace.ip(["-n", name, "link", "show", "v0"])
            #expect(link.contains("mtu 1400") && !link.contains(",UP"))
            #expect(try netlink.apply([LinkChange(index: index, name: "v0", up: true)]).isEmpty)
            link = try TestNamespace.ip(["-n", name, "link", "show", "v0"])
            #expect(link.contains(",UP"))

            // Addresses of both families.
            let addresses = [
                InterfaceAddress(device: index, deviceName: "v0", address: .v4(try IPv4Address("198.18.7.1"), 24)),
                InterfaceAddress(device: index, deviceName: "v0", address: .v6(try IPv6Address("2001:db8:7::1"), 64)),
            ]
            #expect(try netlink.apply(addresses: addresses).isEmpty)
            let shown = try TestNamespace.ip(["-n", name, "addr", "show", "v0"])
            #expect(shown.contains("inet 198.18.7.1/24") && shown.contains("inet6 2001:db8:7::1/64"))
            #expect(try netlink.apply(addresses: addresses, remove: true).isEmpty)
            #expect(!(try TestNamespace.ip(["-n", name, "addr", "show", "v0"])).contains("198.18.7.1"))

            // A rule per egress device into its own table, both families; a second add is refused by name.
            let rules = [
                RoutingRule(family: .ipv4, priority: 1000, inputDevice: "v1", table: 150),
                RoutingRule(family: .ipv6, priority: 1000, inputDevice: "v1", table: 150),
            ]
            #expect(try netlink.apply(rules: rules).isEmpty)
            #expect(try TestNamespace.ip(["-n", name, "rule", "show"]).contains("1000:\tfrom all iif v1 lookup 150"))
            #expect(try TestNamespace.ip(["-n", name, "-6", "rule", "show"]).contains("1000:\tfrom all iif v1 lookup 150"))
            let again = try netlink.apply(rules: [rules[0]])
            #expect(again.first?.description == "adding ipv4 rule 1000: iif v1 lookup 150: File exists")
            #expect(try netlink.apply(rules: rules, remove: true).isEmpty)
            #expect(!(try TestNamespace.ip(["-n", name, "rule", "show"])).contains("lookup 150"))
        }
    }

    /// A TUN device nobody reads, with a queue of 16 packets: the datagrams routed into it past the 16th are dropped
    /// for want of room, and its statistics say so, as `ip -s link` does.
    @Test func aFullTunQueueDropsAndTheStatisticsCountIt() throws {
        try TestNamespace.with { lab in
            let device = try lab.tunDevice()
            try withExtendedLifetime(device) {
                try lab.configureTun()
                let name = lab.namespace.name
                try TestNamespace.ip(["-n", name, "link", "set", "tnd0", "txqueuelen", "16"])
                try TestNamespace.ip(["-n", name, "route", "add", "198.19.0.0/16", "dev", "tnd0"])
                let netlink = try lab.netlink()
                let index = try lab.namespace.withEntered { if_nametoindex("tnd0") }
                let before = try netlink.statistics(ofLink: index)
                try lab.python(
                    "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                        + "for i in range(100): s.sendto(b'x' * 20, ('198.19.0.1', 9))")
                let after = try netlink.statistics(ofLink: index)
                // 100 datagrams, at most 16 queued (the kernel's own packets, IPv6's router solicitation, may have
                // taken a place first).
                #expect((84...100).contains(after.transmitDropped - before.transmitDropped))
                let shown = try lab.json(["-s", "link", "show", "tnd0"]).first
                let transmitted = (shown?["stats64"] as? [String: Any])?["tx"] as? [String: Any]
                #expect(transmitted?["dropped"] as? Int == Int(after.transmitDropped))
                #expect(transmitted?["packets"] as? Int == Int(after.transmittedPackets))
                // A device that does not exist: the kernel's refusal, named.
                #expect(throws: SystemError.self) { try netlink.statistics(ofLink: 999_999) }
            }
        }
    }

    @Test func rulesWithoutAnInputDeviceAndWithAProtocolAndTheirDump() throws {
        try TestNamespace.with { lab in
            let netlink = try lab.netlink()
            let name = lab.namespace.name
            let everything = RoutingRule(family: .ipv4, priority: 900, inputDevice: nil, table: 200, protocol: 201)
            let everything6 = RoutingRule(family: .ipv6, priority: 900, inputDevice: nil, table: 200, protocol: 201)
            let fromV1 = RoutingRule(family: .ipv4, priority: 1000, inputDevice: "v1", table: 150)
            #expect(everything.description == "ipv4 rule 900: lookup 200 proto 201")
            #expect(try netlink.apply(rules: [everything, everything6, fromV1]).isEmpty)
            let shown = try lab.json(["-4", "rule", "show"]).first { $0["priority"] as? Int == 900 }
            #expect(shown?["table"] as? String == "200" && shown?["protocol"] as? String == "201")
            #expect(shown?["src"] as? String == "all" && shown?["iif"] == nil)
            let shown6 = try lab.json(["-6", "rule", "show"]).first { $0["priority"] as? Int == 900 }
            #expect(shown6?["table"] as? String == "200" && shown6?["protocol"] as? String == "201")

            // A rule Tandem cannot express (a fwmark selector) is left out of the dump; the kernel's own are in it.
            try TestNamespace.ip(["-n", name, "rule", "add", "priority", "950", "fwmark", "5", "lookup", "9"])
            let kernel: UInt8 = 2  // RTPROT_KERNEL marks the default rules
            let dumped4 = try netlink.rules(family: .ipv4)
            #expect(dumped4 == [
                RoutingRule(family: .ipv4, priority: 0, inputDevice: nil, table: 255, protocol: kernel),
                everything,
                fromV1,
                RoutingRule(family: .ipv4, priority: 32766, inputDevice: nil, table: 254, protocol: kernel),
                RoutingRule(family: .ipv4, priority: 32767, inputDevice: nil, table: 253, protocol: kernel),
            ])
            let dumped6 = try netlink.rules(family: .ipv6)
            #expect(dumped6 == [
                RoutingRule(family: .ipv6, priority: 0, inputDevice: nil, table: 255, protocol: kernel),
                everything6,
                RoutingRule(family: .ipv6, priority: 32766, inputDevice: nil, table: 254, protocol: kernel),
            ])

            // Removing by what the dump returned removes exactly those.
            #expect(try netlink.apply(rules: [everything, everything6, fromV1], remove: true).isEmpty)
            #expect(try lab.json(["-4", "rule", "show"]).compactMap { $0["priority"] as? Int } == [0, 950, 32766, 32767])
            #expect(try lab.json(["-6", "rule", "show"]).compactMap { $0["priority"] as? Int } == [0, 32766])
        }
    }

    @Test func outputDeviceRulesSelectSocketsBoundToTheDevice() throws {
        try TestNamespace.with { lab in
            let netlink = try lab.netlink()
            let probes = RoutingRule(
                family: .ipv4, priority: 1000, inputDevice: nil, outputDevice: "v1", table: 151, protocol: 201)
            #expect(probes.description == "ipv4 rule 1000: oif v1 lookup 151 proto 201")
            #expect(try netlink.apply(rules: [probes]).isEmpty)
            let shown = try lab.json(["-4", "rule", "show"]).first { $0["priority"] as? Int == 1000 }
            #expect(shown?["oif"] as? String == "v1" && shown?["table"] as? String == "151" && shown?["iif"] == nil)
            #expect(try netlink.rules(family: .ipv4).contains(probes))
            #expect(try netlink.apply(rules: [probes], remove: true).isEmpty)
            #expect(try lab.json(["-4", "rule", "show"]).first { $0["priority"] as? Int == 1000 } == nil)
        }
    }
}
