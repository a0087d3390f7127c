import TandemDatasets
import TandemRouting
import Testing

@Suite struct ConnectionMonitorTests {
    let threeAndThree = HealthCheckPolicy(downCount: 3, upCount: 3)

    @Test func failsOverAndBackDrivenByProbesEvery20Milliseconds() {
        // A preempt delay off the probe grid, so the failback can only come from `advance` at its deadline.
        let monitor = ConnectionMonitor(
            mode: .dual, health: threeAndThree, damping: nil, preemptDelay: .milliseconds(1010), at: .zero)
        var driver = ProbeDriver(monitor: monitor)
        for time in stride(from: 20, through: 3000, by: 20) {
            driver.tick(at: ms(time), active: time <= 80 ? failed : .success)
        }
        // Failures at 20, 40, 60 ms: down and switched at 60 ms. Successes from 100 ms: up at 140 ms, back at
        // 140 + 1010 ms.
        #expect(driver.switches == ["0.060s standby", "1.150s active"])
        #expect(driver.log.map(\.kind.name) == ["healthDown", "selectionChanged", "healthUp", "selectionChanged"])
        #expect(driver.log.map(\.time) == [ms(60), ms(60), ms(140), ms(1150)])
        #expect(driver.timerEvents.map(\.time) == [ms(1150)])
        #expect(driver.log[1].description == "0.060s [active] switch active -> standby: active tunnel down")
        #expect(
            driver.log[0].description == "0.060s [active] health down: 3 consecutive probe failures (last: timeout)")
        #expect(driver.monitor.selected == .active && driver.monitor.nextDeadline() == nil)
    }

    /// The active tunnel fails its probes for 100 ms out of every 200 ms until 2 s, then recovers: with down and
    /// up counts of 3 at 20 ms, its health goes down at 60, 240, 440, ... 1840 ms and up 80 ms after each.
    func flappingScenario(damping: DampingPolicy?) -> ProbeDriver {
        let monitor = ConnectionMonitor(
            mode: .dual, health: threeAndThree, damping: damping, preemptDelay: .zero, at: .zero)
        var driver = ProbeDriver(monitor: monitor)
        for time in stride(from: 20, through: 4000, by: 20) {
            let failing = time < 2000 && (time / 100) % 2 == 0
            driver.tick(at: ms(time), active: failing ? failed : .success)
            if (1940..<2840).contains(time) {
                #expect(driver.monitor.healthState(of: .active) == .up)
                #expect(driver.monitor.effectiveState(of: .active) == (damping == nil ? .up : .down))
                #expect(driver.monitor.selected == (damping == nil ? .active : .standby))
            }
        }
        return driver
    }

    @Test func dampingKeepsAFlappingActiveOffTheTraffic() {
        let damping = DampingPolicy(maxFlaps: 2, window: .seconds(2), penalty: .seconds(1))
        let driver = flappingScenario(damping: damping)
        // Two bounces are tolerated; the third flap (440 ms) holds the active down, and each flap after it
        // restarts the penalty, up to the last one at 1840 ms: released, and back, at 2840 ms.
        #expect(
            driver.switches == [
                "0.060s standby", "0.140s active", "0.240s standby", "0.340s active", "0.440s standby", "2.840s active",
            ])
        let holds = driver.log.filter { $0.kind.name == "heldDown" }
        #expect(holds.first?.description == "0.440s [active] held down until 1.440s: more than 2 flaps within 2s")
        #expect(holds.last?.kind == .heldDown(until: ms(2840)) && holds.count == 8)
        #expect(driver.timerEvents.map(\.kind) == [.released, .selectionChanged(from: .standby, to: .active)])
    }

    @Test func withoutDampingTheSameFlappingMovesTrafficEveryBounce() {
        let driver = flappingScenario(damping: nil)
        #expect(driver.switches.count == 20)
        #expect(driver.switches.last == "1.940s active")
    }

    @Test func whileHeldDownTheEffectiveStateIsDownThoughHealthIsUp() {
        let damping = DampingPolicy(maxFlaps: 0, window: .seconds(10), penalty: .seconds(5))
        var monitor = ConnectionMonitor(
            mode: .dual, health: HealthCheckPolicy(downCount: 1, upCount: 1), damping: damping,
            preemptDelay: .zero, at: .zero)
        let down = monitor.record(failed, for: .active, at: ms(100))
        #expect(
            down.map(\.kind) == [
                .healthDown, .heldDown(until: ms(5100)), .selectionChanged(from: .active, to: .standby),
            ])
        #expect(monitor.record(.success, for: .active, at: ms(200)).map(\.kind) == [.healthUp])
        #expect(monitor.healthState(of: .active) == .up && monitor.effectiveState(of: .active) == .down)
        #expect(monitor.heldUntil(of: .active) == ms(5100) && monitor.selected == .standby)
        #expect(monitor.nextDeadline() == ms(5100))
        #expect(monitor.advance(to: ms(5099)).isEmpty)
        let release = monitor.advance(to: ms(5100))
        #expect(release.map(\.kind) == [.released, .selectionChanged(from: .standby, to: .active)])
        #expect(release.allSatisfy { $0.time == ms(5100) })
        #expect(monitor.effectiveState(of: .active) == .up && monitor.nextDeadline() == nil)
    }

    @Test func aReleasedTunnelWhoseHealthIsDownStaysDown() {
        let damping = DampingPolicy(maxFlaps: 0, window: .seconds(10), penalty: .seconds(5))
        var monitor = ConnectionMonitor(
            mode: .dual, health: HealthCheckPolicy(downCount: 1, upCount: 1), damping: damping,
            preemptDelay: .zero, at: .zero)
        _ = monitor.record(failed, for: .active, at: ms(100))
        #expect(monitor.advance(to: ms(5100)).map(\.kind) == [.released])
        #expect(monitor.effectiveState(of: .active) == .down && monitor.selected == .standby)
    }

    @Test func aProbeAfterAMissedDeadlineFiresTheTimerFirst() {
        var monitor = ConnectionMonitor(
            mode: .dual, health: HealthCheckPolicy(downCount: 1, upCount: 1), damping: nil,
            preemptDelay: .milliseconds(500), at: .zero)
        _ = monitor.record(failed, for: .active, at: ms(100))
        _ = monitor.record(.success, for: .active, at: ms(200))
        #expect(monitor.nextDeadline() == ms(700))
        // The driver was late: the failback happened at 700 ms, before this failure of the active.
        let events = monitor.record(failed, for: .active, at: ms(900))
        #expect(
            events.map(\.kind) == [
                .selectionChanged(from: .standby, to: .active), .healthDown,
                .selectionChanged(from: .active, to: .standby),
            ])
        #expect(events.map(\.time) == [ms(700), ms(900), ms(900)])
    }

    @Test func eachTunnelHasItsOwnPolicyAndInitialState() {
        var monitor = ConnectionMonitor(
            tunnels: .dual(
                active: TunnelHealthSettings(health: threeAndThree),
                standby: TunnelHealthSettings(health: HealthCheckPolicy(downCount: 1, upCount: 2), initial: .down)),
            preemptDelay: .seconds(1), at: .zero)
        #expect(monitor.selected == .active && monitor.effectiveState(of: .standby) == .down)
        #expect(monitor.record(.success, for: .standby, at: ms(20)).isEmpty)
        #expect(monitor.record(.success, for: .standby, at: ms(40)).map(\.kind) == [.healthUp])
        #expect(monitor.record(failed, for: .standby, at: ms(60)).map(\.kind) == [.healthDown])
        #expect(monitor.record(failed, for: .active, at: ms(60)).isEmpty)
    }

    @Test func startingDownWaitsForTheUpCount() {
        var monitor = ConnectionMonitor(
            mode: .dual, health: threeAndThree, damping: nil, preemptDelay: .seconds(1), initial: .down, at: .zero)
        #expect(monitor.selected == .none)
        _ = monitor.record(.success, for: .standby, at: ms(20))
        _ = monitor.record(.success, for: .standby, at: ms(40))
        let up = monitor.record(.success, for: .standby, at: ms(60))
        #expect(up.map(\.kind) == [.healthUp, .selectionChanged(from: .none, to: .standby)])
        #expect(up.last?.description == "0.060s [standby] switch none -> standby: standby tunnel up")
    }

    @Test func singleTunnelModeIgnoresTheStandbyRole() {
        var monitor = ConnectionMonitor(
            tunnels: .single(TunnelHealthSettings(health: HealthCheckPolicy(downCount: 1, upCount: 1))),
            preemptDelay: .seconds(5), at: .zero)
        #expect(monitor.mode == .single && monitor.selected == .active)
        #expect(monitor.record(.success, for: .standby, at: ms(10)).isEmpty)
        #expect(monitor.effectiveState(of: .standby) == .down && monitor.heldUntil(of: .standby) == nil)
        let down = monitor.record(failed, for: .active, at: ms(20))
        #expect(down.last?.kind == .selectionChanged(from: .active, to: .none))
        let up = monitor.record(.success, for: .active, at: ms(40))
        #expect(up.last?.kind == .selectionChanged(from: .none, to: .active))
    }

    @Test func timeGoingBackwardsCountsAsNoTimePassed() {
        let clock = ManualClock(start: ms(1000))
        var monitor = ConnectionMonitor(
            mode: .dual, health: HealthCheckPolicy(downCount: 2, upCount: 1),
            damping: DampingPolicy(maxFlaps: 0, window: .seconds(1), penalty: .seconds(2)),
            preemptDelay: .zero, at: clock.now())
        _ = monitor.record(failed, for: .active, at: clock.now())
        clock.set(ms(10))
        let down = monitor.record(failed, for: .active, at: clock.now())
        #expect(down.map(\.time) == [ms(1000), ms(1000), ms(1000)])
        #expect(monitor.nextDeadline() == ms(3000))
        clock.set(.zero)
        #expect(monitor.advance(to: clock.now()).isEmpty)
        #expect(monitor.nextDeadline() == ms(3000) && monitor.selected == .standby)
        clock.set(ms(3000))
        #expect(monitor.advance(to: clock.now()).map(\.kind) == [.released])
        #expect(monitor.record(.success, for: .active, at: ms(5)).map(\.time) == [ms(3000), ms(3000)])
        #expect(monitor.selected == .active)
    }

    /// Random probes on both tunnels: at every step, `nextDeadline()` is exactly when `advance` next has something
    /// to say, and the selection agrees with the effective states.
    @Test(arguments: [UInt64(1), 2, 3, 4]) func nextDeadlineIsExactlyTheNextTimerEvent(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var monitor = ConnectionMonitor(
            mode: .dual, health: HealthCheckPolicy(downCount: 2, upCount: 2),
            damping: DampingPolicy(maxFlaps: 1, window: .seconds(1), penalty: .milliseconds(500)),
            preemptDelay: .milliseconds(300), at: .zero)
        var time = MonotonicInstant.zero
        var timerKinds = Set<String>()
        for _ in 0..<5000 {
            time = time + .milliseconds(Int.random(in: 1...60, using: &random))
            while let deadline = monitor.nextDeadline(), deadline <= time {
                #expect(monitor.advance(to: deadline + .nanoseconds(-1)).isEmpty)
                let events = monitor.advance(to: deadline)
                #expect(events.allSatisfy { $0.time == deadline })
                guard !events.isEmpty else {
                    Issue.record("nothing fired at the deadline \(deadline)")
                    break
                }
                timerKinds.formUnion(events.map(\.kind.name))
            }
            let role: TunnelRole = Bool.random(using: &random) ? .active : .standby
            let result: ProbeResult = Int.random(in: 0..<3, using: &random) == 0 ? failed : .success
            let events = monitor.record(result, for: role, at: time)
            #expect(events.allSatisfy { $0.time == time })
            if let deadline = monitor.nextDeadline() { #expect(deadline > time) }
            let active = monitor.effectiveState(of: .active)
            let standby = monitor.effectiveState(of: .standby)
            switch monitor.selected {
            case .active: #expect(active == .up)
            case .standby: #expect(standby == .up && (active == .down || monitor.nextDeadline() != nil))
            case .none: #expect(active == .down && standby == .down)
            }
        }
        #expect(timerKinds == ["released", "selectionChanged"])
    }
}
