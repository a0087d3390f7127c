import TandemConfig
import TandemKernelFake
import TandemLinux
import TandemPacket
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import TandemDaemon

/// Each tunnel's next hops kept resolved by the kernel (managed neighbour entries), on the gateway's core with a
/// fake kernel, in both modes. No root; tools/lib/check-faults [16] checks the real kernel.
@Suite("gateway: the tunnels' next hops kept resolved")
struct GatewayNeighbourTests {
    static let kernelMode = GatewayFixture.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")

    static func key(_ address: String, _ fixture: GatewayFixture, _ device: String) -> NeighbourEntry.Key {
        NeighbourEntry.Key(address: try! AnyIPAddress(address), interfaceIndex: fixture.kernel.interfaceIndex(named: device)!)
    }

    /// The managed entries of protocol 77 (the fixture's), as "address dev STATE" lines, sorted.
    static func managed(_ fixture: GatewayFixture) -> [String] {
        fixture.kernel.neighbourEntries.values.filter { $0.managed && $0.protocol == 77 }.map { entry in
            let device = fixture.kernel.links.first { $0.value.index == entry.key.interfaceIndex }?.key ?? "?"
            return "\(entry.key.address) \(device) \(entry.state)"
        }.sorted()
    }

    static let everyHop = [
        "198.18.1.2 gw-a REACHABLE", "198.18.2.2 gw-b REACHABLE", "2001:db8:1::2 gw-a REACHABLE",
        "2001:db8:2::2 gw-b REACHABLE",
    ]

    @Test(arguments: [GatewayFixture.yaml, kernelMode])
    func everyNextHopIsManagedFromTheStartAndGoesAtTheStop(_ yaml: String) throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(yaml)
        #expect(Self.managed(fixture) == Self.everyHop)
        gateway.removeEverything()
        #expect(fixture.kernel.neighbourEntries.isEmpty)
    }

    @Test func anOperatorsPermanentEntryAndAnotherProtocolsEntryAreLeftAlone() throws {
        let fixture = GatewayFixture()
        let fixed = NeighbourEntry(key: Self.key("2001:db8:2::2", fixture, "gw-b"), state: [.permanent], managed: false, protocol: 0)
        let foreign = NeighbourEntry(key: Self.key("198.18.2.9", fixture, "gw-b"), state: [.reachable], managed: true, protocol: 12)
        fixture.kernel.addNeighbour(fixed)
        fixture.kernel.addNeighbour(foreign)
        let gateway = try fixture.started()
        #expect(fixture.kernel.neighbourEntries[fixed.key] == fixed)
        #expect(Self.managed(fixture) == Self.everyHop.filter { !$0.hasPrefix("2001:db8:2::2") })
        gateway.removeEverything()
        #expect(Set(fixture.kernel.neighbourEntries.values) == [fixed, foreign])
    }

    @Test func anEntryInUseBecomesManagedAndKeepsItsState() throws {
        let fixture = GatewayFixture()
        let used = NeighbourEntry(key: Self.key("198.18.1.2", fixture, "gw-a"), state: [.stale], managed: false, protocol: 0)
        fixture.kernel.addNeighbour(used)
        _ = try fixture.started()
        #expect(fixture.kernel.neighbourEntries[used.key] == NeighbourEntry(key: used.key, state: [.stale], managed: true, protocol: 77))
    }

    @Test func aReloadManagesANewTunnelsNextHopsAndDeletesAGoneOnes() throws {
        let fixture = GatewayFixture()
        fixture.kernel.addLink("gw-c")
        let gateway = try fixture.started()
        // a2 moves to gw-c with other next hops: its old entries go, the new ones come.
        let moved = GatewayFixture.yaml
            .replacingOccurrences(of: "interface: gw-b", with: "interface: gw-c")
            .replacingOccurrences(of: "next-hop-ipv6: 2001:db8:2::2", with: "next-hop-ipv6: 2001:db8:2::3")
        try gateway.reload(to: try GatewayFixture.config(moved)) { _ in }
        #expect(Self.managed(fixture) == [
            "198.18.1.2 gw-a REACHABLE", "198.18.2.2 gw-c REACHABLE", "2001:db8:1::2 gw-a REACHABLE",
            "2001:db8:2::3 gw-c REACHABLE",
        ])
        #expect(fixture.kernel.neighbourEntries.count == 4, "nothing left on gw-b: \(fixture.kernel.neighbourEntries)")
    }

    @Test func aDeviceMadeAgainGetsItsEntriesBack() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.kernelMode)
        let index = fixture.kernel.interfaceIndex(named: "gw-b")!
        fixture.kernel.deleteLink("gw-b")
        gateway.handle([LinkState(name: "gw-b", index: index, up: false)])
        #expect(Self.managed(fixture) == Self.everyHop.filter { $0.contains("gw-a") })
        let again = fixture.kernel.addLink("gw-b")
        gateway.handle([LinkState(name: "gw-b", index: again, up: true)])
        #expect(Self.managed(fixture) == Self.everyHop)
    }

    /// A flap the daemon reads as one batch of notifications (down, then up): the tunnel never saw its link down,
    /// but the kernel flushed the entries on the way down.
    @Test(arguments: [GatewayFixture.yaml, kernelMode])
    func aFlapWithinOneReadOfNotificationsGetsTheEntriesBack(_ yaml: String) throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(yaml)
        fixture.flapInOneRead("gw-b", gateway)
        #expect(Self.managed(fixture) == Self.everyHop)
    }

    /// Notifications lost (ENOBUFS) while a link that was down came back: every link is read again, and the one
    /// that is back gets its entries as from its notification.
    @Test func aLinkBackWhileNotificationsWereLostGetsItsEntriesBack() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.kernelMode)
        let index = fixture.kernel.interfaceIndex(named: "gw-b")!
        fixture.kernel.setLink("gw-b", up: false)
        gateway.handle([LinkState(name: "gw-b", index: index, up: false)])
        fixture.kernel.setLink("gw-b", up: true)
        gateway.readLinkStates()
        #expect(Self.managed(fixture) == Self.everyHop)
    }

    @Test func aRefusalIsLoggedAndTheRestIsManaged() throws {
        let fixture = GatewayFixture()
        fixture.kernel.refuse(EINVAL) { change in
            if case .neighbour(.keepResolved(let key, _)) = change { return key.address.family == .ipv6 }
            return false
        }
        _ = try fixture.started()
        #expect(Self.managed(fixture) == Self.everyHop.filter { !$0.hasPrefix("2001") })
        #expect(fixture.log.contains("2001:db8:2::2 dev #"))
        #expect(fixture.log.contains("a failover to this next hop may wait for neighbour discovery"))
    }
}
