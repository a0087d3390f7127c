import TandemConfig
import TandemControl
import TandemKernelFake
import TandemLinux
import TandemRouting
import Testing

@testable import TandemDaemon

/// Link state as a failure signal and an operator's drain, on the gateway's core with a fake kernel and a manual
/// clock, in both modes. No root.
@Suite("gateway link state and drain on a fake kernel")
struct GatewayLinkAndDrainTests {
    static let kernelMode = GatewayFixture.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")

    func carrying(_ gateway: Gateway) -> String {
        Gateway.tunnelName(gateway.controller.monitor(of: ConnectionID(0)).selected, of: gateway.config.connections[0])
    }

    /// Probe answers for a tunnel, one every 20 ms.
    func answer(_ gateway: Gateway, _ fixture: GatewayFixture, tunnel: Int, times: Int) {
        for _ in 0..<times {
            fixture.clock.advance(by: .milliseconds(20))
            gateway.handle([.answered(TunnelID(tunnel), rtt: .milliseconds(1))], at: fixture.clock.now().nanoseconds)
            gateway.tick()
        }
    }

    func linkDown(_ name: String, _ fixture: GatewayFixture, _ gateway: Gateway) {
        fixture.kernel.setLink(name, up: false)
        gateway.handle([LinkState(name: name, index: fixture.kernel.interfaceIndex(named: name)!, up: false)])
    }

    func linkUp(_ name: String, _ fixture: GatewayFixture, _ gateway: Gateway) {
        fixture.kernel.setLink(name, up: true)
        gateway.handle([LinkState(name: name, index: fixture.kernel.interfaceIndex(named: name)!, up: true)])
    }

    @Test func aLinkDownFailsOverWhenTheNotificationArrivesAndComesBackThroughTheProbes() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        #expect(carrying(gateway) == "a1")
        linkDown("gw-a", fixture, gateway)
        #expect(carrying(gateway) == "a2", "no probe was lost: the notification alone moved it")
        #expect(gateway.router.selectedTunnel(of: ConnectionID(0)) == TunnelID(1))
        #expect(fixture.log.contains("\"linkDown\"") && fixture.log.contains("active tunnel link down"))
        linkUp("gw-a", fixture, gateway)
        #expect(carrying(gateway) == "a2", "carrier back: the probes must show it up first")
        answer(gateway, fixture, tunnel: 0, times: 2)
        #expect(carrying(gateway) == "a2")
        answer(gateway, fixture, tunnel: 0, times: 1)
        #expect(carrying(gateway) == "a1", "up-count of 3, no preempt delay in this file")
    }

    /// A flap read in one batch (down, then up: Tandem was busy) fails over as it would read one notification at a
    /// time; the probes bring the tunnel back.
    @Test(arguments: [GatewayFixture.yaml, kernelMode])
    func aFlapReadInOneBatchFailsOverAsIfReadOneByOne(_ yaml: String) throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(yaml)
        fixture.flapInOneRead("gw-a", gateway)
        #expect(carrying(gateway) == "a2", "the flap is a link down, whether read on its own or not")
        #expect(fixture.log.contains("\"linkDown\"") && fixture.log.contains("active tunnel link down"))
        answer(gateway, fixture, tunnel: 0, times: 3)
        #expect(carrying(gateway) == "a1", "up-count of 3, no preempt delay in this file")
    }

    @Test func aDeletedInterfaceIsALinkDown() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        let index = fixture.kernel.interfaceIndex(named: "gw-a")!
        fixture.kernel.deleteLink("gw-a")
        gateway.handle([LinkState(name: "gw-a", index: index, up: false)])
        #expect(carrying(gateway) == "a2")
    }

    @Test func aTunnelWhoseInterfaceIsDownAtStartStartsDown() throws {
        let fixture = GatewayFixture()
        fixture.kernel.setLink("gw-a", up: false)
        let gateway = try fixture.started()
        #expect(carrying(gateway) == "a2")
        #expect(gateway.controller.isLinkDown(TunnelID(0)))
        let view = GatewayView(
            config: gateway.config, router: gateway.router, controller: gateway.controller,
            probes: { _ in ProbeStatistics() }, counters: nil, kernel: nil)
        let line = view.tunnels(json: false).split(separator: "\n").first { $0.hasPrefix("a1 ") } ?? ""
        #expect(line.contains(" down link-down"), "show tunnels says why: \(line)")
        #expect(view.tunnels(json: true).contains("\"linkDown\":true"))
    }

    @Test func kernelModeReplacesTheGroupWhenTheLinkGoesDown() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.kernelMode)
        let a2 = KernelModeState.tunnelID(TunnelID(1), .ipv4)
        guard case .nexthopObject(let group)? = fixture.remote["198.19.0.0/16"]?.target else {
            Issue.record("no group route: \(fixture.remote)")
            return
        }
        linkDown("gw-a", fixture, gateway)
        guard case .group(let members, _)? = fixture.kernel.installedNexthops[group]?.kind else {
            Issue.record("the group is gone")
            return
        }
        #expect(members.map(\.id) == [a2])
    }

    @Test func aTunnelWithoutAHealthCheckFollowsItsLink() throws {
        let fixture = GatewayFixture()
        let text = GatewayFixture.yaml.replacingOccurrences(
            of: "\n    health-check: {source: 198.18.1.1, destination: 198.18.1.2, interval: 20ms, timeout: 20ms, down-count: 3, up-count: 3}",
            with: "")
        let gateway = try fixture.started(text)
        #expect(gateway.config.tunnels[0].healthCheck == nil)
        linkDown("gw-a", fixture, gateway)
        #expect(carrying(gateway) == "a2")
        linkUp("gw-a", fixture, gateway)
        #expect(carrying(gateway) == "a1", "no probes to wait for")
    }

    // MARK: Drain

    @Test func drainMovesTrafficAndUndrainBringsItBack() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        let drained = gateway.answerChange(ControlRequest(.drain(tunnel: "a1", force: false)))?.collect()
        #expect(drained == "tunnel a1 drained: connection c1 now on a2\n")
        #expect(gateway.router.selectedTunnel(of: ConnectionID(0)) == TunnelID(1))
        #expect(fixture.log.contains("\"drained\"") && fixture.log.contains("active tunnel drained"))
        // Its probes go on and count.
        fixture.clock.advance(by: .milliseconds(20))
        gateway.handle([.lost(TunnelID(0)), .lost(TunnelID(0)), .lost(TunnelID(0))], at: fixture.clock.now().nanoseconds)
        #expect(gateway.controller.monitor(of: ConnectionID(0)).healthState(of: .active) == .down)
        answer(gateway, fixture, tunnel: 0, times: 3)
        #expect(carrying(gateway) == "a2", "healthy again, but drained")
        #expect(
            gateway.answerChange(ControlRequest(.drain(tunnel: "a1", force: false)))?.collect()
                == "tunnel a1 is already drained: connection c1 now on a2\n")
        let undrained = gateway.answerChange(ControlRequest(.undrain(tunnel: "a1"), json: true))?.collect()
        #expect(
            undrained == "{\"tunnel\":\"a1\",\"drained\":false,\"changed\":true,\"connection\":\"c1\",\"carrying\":\"a1\"}\n")
        #expect(carrying(gateway) == "a1")
    }

    @Test func aDrainThatLeavesNoTunnelIsRefusedUnlessForced() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        _ = try gateway.drain("a1")
        let refused = gateway.answerChange(ControlRequest(.drain(tunnel: "a2", force: false)))?.collect() ?? ""
        #expect(
            refused == "error: tunnel a2 not drained: the other tunnel of connection c1, a1, is drained, so "
                + "the connection would carry no traffic; add --force to drain it anyway\n")
        #expect(carrying(gateway) == "a2")
        let forced = try gateway.drain("a2", force: true)
        #expect(forced.text == "tunnel a2 drained: connection c1 carries no traffic")
        #expect(gateway.router.selectedTunnel(of: ConnectionID(0)) == nil || !gateway.router.isUp(ConnectionID(0)))
        // The other way round: a2 carries while a1 is down (not drained).
        _ = try gateway.undrain("a2")
        _ = try gateway.undrain("a1")
        fixture.clock.advance(by: .milliseconds(20))
        gateway.handle([.lost(TunnelID(0)), .lost(TunnelID(0)), .lost(TunnelID(0))], at: fixture.clock.now().nanoseconds)
        #expect(carrying(gateway) == "a2")
        #expect(throws: DaemonError.self) { try gateway.drain("a2") }
        let down = gateway.answerChange(ControlRequest(.drain(tunnel: "a2", force: false)))?.collect() ?? ""
        #expect(down.contains("the other tunnel of connection c1, a1, is down, so"), "\(down)")
    }

    @Test func theOnlyTunnelOfAConnectionIsNotDrainedWithoutForce() throws {
        let fixture = GatewayFixture()
        let text = GatewayFixture.yaml.replacingOccurrences(
            of: "connections: [{name: c1, tunnels: [a1, a2]}]",
            with: "connections: [{name: c1, tunnels: [a1]}, {name: c2, tunnels: [a2]}]")
        let gateway = try fixture.started(text)
        #expect(throws: DaemonError.self) { try gateway.drain("a1") }
        let error = (try? gateway.drain("a1")) == nil
        #expect(error)
        let answer = gateway.answerChange(ControlRequest(.drain(tunnel: "a1", force: false)))?.collect() ?? ""
        #expect(answer.contains("it is the only tunnel of connection c1") && answer.contains("--force"))
    }

    @Test func anUnknownTunnelIsAnError() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        #expect(
            gateway.answerChange(ControlRequest(.undrain(tunnel: "zz")))?.collect()
                == "error: unknown tunnel 'zz'; the tunnels are a1, a2\n")
        #expect(gateway.answerChange(ControlRequest(.tunnels)) == nil, "a read-only request is the view's")
    }

    @Test func aDrainLastsAcrossAReloadNotARestart() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        _ = try gateway.drain("a1")
        try gateway.reload(to: try GatewayFixture.config()) { _ in }
        #expect(gateway.controller.isDrained(TunnelID(0)) && carrying(gateway) == "a2")
        // A restart: a new gateway on the same kernel.
        let restarted = try fixture.started()
        #expect(!restarted.controller.isDrained(TunnelID(0)) && carrying(restarted) == "a1")
    }

    @Test func drainedInTheFileDrainsAtStartAndAgainOnEachReload() throws {
        let fixture = GatewayFixture()
        let text = GatewayFixture.yaml.replacingOccurrences(of: "    interface: gw-a\n", with: "    interface: gw-a\n    drained: true\n")
        let gateway = try fixture.started(text)
        #expect(gateway.config.tunnels[0].drained)
        #expect(carrying(gateway) == "a2")
        _ = try gateway.undrain("a1")
        #expect(carrying(gateway) == "a1")
        try gateway.reload(to: try GatewayFixture.config(text)) { _ in }
        #expect(carrying(gateway) == "a2", "the file drains it again")
        // Kernel mode: drained from the start, the group holds the standby.
        let kernelFixture = GatewayFixture()
        let kernelText = Self.kernelMode.replacingOccurrences(
            of: "    interface: gw-a\n", with: "    interface: gw-a\n    drained: true\n")
        _ = try kernelFixture.started(kernelText)
        guard case .nexthopObject(let group)? = kernelFixture.remote["198.19.0.0/16"]?.target,
            case .group(let members, _)? = kernelFixture.kernel.installedNexthops[group]?.kind
        else {
            Issue.record("no group route: \(kernelFixture.remote)")
            return
        }
        #expect(members.map(\.id) == [KernelModeState.tunnelID(TunnelID(1), .ipv4)])
    }
}
