import TandemRouting
import Testing

/// A tunnel's link going down takes it down at once (no probe misses); its link coming back lets the probes bring it
/// up (up-count, then the preempt delay). A drained tunnel is down for selection, up for its probes. Every test on
/// an injected clock: the instants are given.
@Suite struct LinkStateAndDrainTests {
    let threeAndThree = HealthCheckPolicy(downCount: 3, upCount: 3)

    func dual(preemptDelay: Duration? = .milliseconds(500), damping: DampingPolicy? = nil) -> ConnectionMonitor {
        ConnectionMonitor(
            mode: .dual, health: threeAndThree, damping: damping, preemptDelay: preemptDelay, at: .zero)
    }

    @Test func linkDownSwitchesToTheStandbyAtOnceWithoutProbeMisses() {
        var monitor = dual()
        let events = monitor.setLink(up: false, for: .active, at: ms(35))
        #expect(events.map(\.kind) == [.linkDown, .healthDown, .selectionChanged(from: .active, to: .standby)])
        #expect(events.allSatisfy { $0.time == ms(35) })
        #expect(events[2].description == "0.035s [active] switch active -> standby: active tunnel link down")
        #expect(events[1].reason == .linkDown(.active))
        #expect(monitor.selected == .standby && monitor.isLinkDown(.active))
        #expect(monitor.effectiveState(of: .active) == .down && monitor.healthState(of: .active) == .down)
    }

    @Test func linkUpSwitchesBackOnlyAfterTheUpCountAndThePreemptDelay() {
        var driver = ProbeDriver(monitor: dual())
        driver.tick(at: ms(20), active: .success)
        driver.log += driver.monitor.setLink(up: false, for: .active, at: ms(30))
        // Probes go on while the link is down: failures, and a success (a stale answer) does not count.
        driver.tick(at: ms(40), active: failed)
        driver.tick(at: ms(60), active: .success)
        driver.tick(at: ms(80), active: failed)
        let up = driver.monitor.setLink(up: true, for: .active, at: ms(90))
        #expect(up.map(\.kind) == [.linkUp], "the link alone brings a probed tunnel nothing")
        driver.log += up
        #expect(driver.monitor.selected == .standby && driver.monitor.healthState(of: .active) == .down)
        for time in stride(from: 100, through: 1000, by: 20) { driver.tick(at: ms(time), active: .success) }
        // Successes at 100, 120, 140 ms: up at 140; back at 140 + 500 ms.
        #expect(driver.switches == ["0.030s standby", "0.640s active"])
        #expect(driver.log.filter { $0.kind == .healthUp }.map(\.time) == [ms(140)])
    }

    @Test func aLinkFlappingFasterThanTheProbesKeepsTrafficOffTheTunnel() {
        var driver = ProbeDriver(monitor: dual(preemptDelay: .zero))
        // Down for 5 ms in every 50 ms: each down moves traffic at once; each up needs 3 successes again.
        for cycle in 0..<4 {
            let start = cycle * 50
            driver.log += driver.monitor.setLink(up: false, for: .active, at: ms(start + 1))
            driver.log += driver.monitor.setLink(up: true, for: .active, at: ms(start + 6))
            driver.tick(at: ms(start + 20), active: .success)
            driver.tick(at: ms(start + 40), active: .success)
        }
        #expect(driver.switches == ["0.001s standby"], "two successes between flaps never reach the up-count of 3")
        // The link stays up after the last flap (156 ms): successes at 170, 190 and 220 ms bring it back.
        driver.tick(at: ms(220), active: .success)
        #expect(driver.switches == ["0.001s standby", "0.220s active"])
        #expect(driver.log.filter { $0.kind == .linkDown }.count == 4)
    }

    @Test func aRepeatedLinkStateChangesNothing() {
        var monitor = dual()
        _ = monitor.setLink(up: false, for: .active, at: ms(10))
        #expect(monitor.setLink(up: false, for: .active, at: ms(20)).isEmpty)
        #expect(monitor.setLink(up: true, for: .standby, at: ms(30)).isEmpty, "the standby's link was up")
    }

    @Test func linkDownOnTheStandbyTakesItOutOfReserve() {
        var monitor = dual()
        let events = monitor.setLink(up: false, for: .standby, at: ms(10))
        #expect(events.map(\.kind) == [.linkDown, .healthDown], "traffic stays on the active")
        #expect(monitor.selected == .active)
        // The active then fails: nothing is left.
        var all: [MonitorEvent] = []
        for time in [20, 40, 60] { all += monitor.record(failed, for: .active, at: ms(time)) }
        #expect(all.last?.kind == .selectionChanged(from: .active, to: .none))
        // The standby's link back: its probes must bring it up first.
        #expect(monitor.setLink(up: true, for: .standby, at: ms(70)).map(\.kind) == [.linkUp])
        #expect(monitor.selected == .none)
        for time in [80, 100] { _ = monitor.record(.success, for: .standby, at: ms(time)) }
        let up = monitor.record(.success, for: .standby, at: ms(120))
        #expect(up.map(\.kind) == [.healthUp, .selectionChanged(from: .none, to: .standby)])
    }

    @Test func linkDownOnTheCarryingStandbyGoesBackToAnUpActiveAtOnce() {
        var monitor = dual(preemptDelay: nil)
        _ = monitor.setLink(up: false, for: .active, at: ms(10))
        for time in [20, 40, 60] { _ = monitor.record(.success, for: .active, at: ms(time)) }
        _ = monitor.setLink(up: true, for: .active, at: ms(70))
        for time in [80, 100, 120] { _ = monitor.record(.success, for: .active, at: ms(time)) }
        #expect(monitor.selected == .standby, "preempt false: stays on the standby")
        let events = monitor.setLink(up: false, for: .standby, at: ms(130))
        #expect(events.last?.kind == .selectionChanged(from: .standby, to: .active))
        #expect(events.last?.reason == .linkDown(.standby))
    }

    @Test func withPreemptFalseALinkBackNeverMovesTrafficBack() {
        var driver = ProbeDriver(monitor: dual(preemptDelay: nil))
        driver.log += driver.monitor.setLink(up: false, for: .active, at: ms(5))
        driver.log += driver.monitor.setLink(up: true, for: .active, at: ms(10))
        for time in stride(from: 20, through: 2000, by: 20) { driver.tick(at: ms(time), active: .success) }
        #expect(driver.monitor.healthState(of: .active) == .up)
        #expect(driver.switches == ["0.005s standby"])
    }

    @Test func aTunnelWithoutProbesFollowsItsLink() {
        let unprobed = TunnelHealthSettings(health: threeAndThree, probed: false)
        var monitor = ConnectionMonitor(
            tunnels: .dual(active: unprobed, standby: unprobed), preemptDelay: .zero, at: .zero)
        #expect(
            monitor.setLink(up: false, for: .active, at: ms(10)).map(\.kind) == [
                .linkDown, .healthDown, .selectionChanged(from: .active, to: .standby),
            ])
        let up = monitor.setLink(up: true, for: .active, at: ms(20))
        #expect(up.map(\.kind) == [.linkUp, .healthUp, .selectionChanged(from: .standby, to: .active)])
        #expect(up[1].reason == .linkUp(.active))
        var single = ConnectionMonitor(tunnels: .single(unprobed), preemptDelay: .zero, at: .zero)
        _ = single.setLink(up: false, for: .active, at: ms(10))
        #expect(single.selected == .none)
        _ = single.setLink(up: true, for: .active, at: ms(20))
        #expect(single.selected == .active)
    }

    @Test func aLinkThatStartsDownStartsTheTunnelDown() {
        var monitor = dual()
        let events = monitor.setLink(up: false, for: .active, at: .zero)
        #expect(monitor.selected == .standby && events.first?.kind == .linkDown)
    }

    @Test func linkDownCountsAsAFlapForDamping() {
        let damping = DampingPolicy(maxFlaps: 1, window: .seconds(10), penalty: .seconds(2))
        var monitor = ConnectionMonitor(
            mode: .dual, health: HealthCheckPolicy(downCount: 3, upCount: 1), damping: damping, preemptDelay: .zero,
            at: .zero)
        _ = monitor.setLink(up: false, for: .active, at: ms(10))
        _ = monitor.setLink(up: true, for: .active, at: ms(20))
        _ = monitor.record(.success, for: .active, at: ms(40))
        #expect(monitor.selected == .active)
        let second = monitor.setLink(up: false, for: .active, at: ms(50))
        #expect(second.contains { if case .heldDown = $0.kind { true } else { false } })
    }

    // MARK: Drain

    @Test func drainingTheActiveMovesTrafficAtOnceAndProbesGoOn() {
        var monitor = dual()
        let events = monitor.setDrained(true, for: .active, at: ms(10))
        #expect(events.map(\.kind) == [.drained, .selectionChanged(from: .active, to: .standby)])
        #expect(events[1].description == "0.010s [active] switch active -> standby: active tunnel drained")
        #expect(monitor.isDrained(.active) && monitor.selectableState(of: .active) == .down)
        #expect(monitor.effectiveState(of: .active) == .up, "healthy: only selection sees it down")
        // Its probes still count: it fails, it recovers, traffic stays away.
        var all: [MonitorEvent] = []
        for time in [20, 40, 60] { all += monitor.record(failed, for: .active, at: ms(time)) }
        for time in [80, 100, 120] { all += monitor.record(.success, for: .active, at: ms(time)) }
        #expect(all.map(\.kind) == [.healthDown, .healthUp])
        #expect(monitor.advance(to: ms(5000)).isEmpty && monitor.selected == .standby)
    }

    @Test func undrainingAHealthyActiveMovesTrafficBackAtOnceWhateverThePreemptSettings() {
        for preempt: Duration? in [.seconds(30), nil] {
            var monitor = dual(preemptDelay: preempt)
            _ = monitor.setDrained(true, for: .active, at: ms(10))
            let events = monitor.setDrained(false, for: .active, at: ms(20))
            #expect(events.map(\.kind) == [.undrained, .selectionChanged(from: .standby, to: .active)])
            #expect(events[1].reason == .undrained(.active) && events[1].time == ms(20))
            #expect(monitor.selected == .active && monitor.nextDeadline() == nil)
        }
    }

    @Test func undrainingAnUnhealthyActiveLeavesTrafficOnTheStandby() {
        var monitor = dual(preemptDelay: .zero)
        _ = monitor.setDrained(true, for: .active, at: ms(10))
        for time in [20, 40, 60] { _ = monitor.record(failed, for: .active, at: ms(time)) }
        #expect(monitor.setDrained(false, for: .active, at: ms(70)).map(\.kind) == [.undrained])
        #expect(monitor.selected == .standby)
        for time in [80, 100, 120] { _ = monitor.record(.success, for: .active, at: ms(time)) }
        #expect(monitor.selected == .active, "the probes bring it back as usual")
    }

    @Test func drainingTheStandbyKeepsItOutOfAFailover() {
        var monitor = dual()
        #expect(monitor.setDrained(true, for: .standby, at: ms(10)).map(\.kind) == [.drained])
        var all: [MonitorEvent] = []
        for time in [20, 40, 60] { all += monitor.record(failed, for: .active, at: ms(time)) }
        #expect(all.last?.kind == .selectionChanged(from: .active, to: .none))
        let undrained = monitor.setDrained(false, for: .standby, at: ms(70))
        #expect(undrained.map(\.kind) == [.undrained, .selectionChanged(from: .none, to: .standby)])
    }

    @Test func drainingTheOnlyTunnelLeavesNothingAndARepeatedDrainChangesNothing() {
        var monitor = ConnectionMonitor(
            mode: .single, health: threeAndThree, damping: nil, preemptDelay: .zero, at: .zero)
        #expect(monitor.setDrained(true, for: .active, at: ms(10)).last?.kind == .selectionChanged(from: .active, to: .none))
        #expect(monitor.setDrained(true, for: .active, at: ms(20)).isEmpty)
        #expect(monitor.setDrained(false, for: .active, at: ms(30)).last?.kind == .selectionChanged(from: .none, to: .active))
    }

    @Test func aDrainedTunnelWhoseLinkGoesDownAndComesBackStaysDrained() {
        var monitor = dual(preemptDelay: .zero)
        _ = monitor.setDrained(true, for: .active, at: ms(10))
        _ = monitor.setLink(up: false, for: .active, at: ms(20))
        _ = monitor.setLink(up: true, for: .active, at: ms(30))
        for time in [40, 60, 80] { _ = monitor.record(.success, for: .active, at: ms(time)) }
        #expect(monitor.selected == .standby && monitor.isDrained(.active))
        _ = monitor.setDrained(false, for: .active, at: ms(90))
        #expect(monitor.selected == .active)
    }
}
