import TandemRouting
import Testing

@Suite struct TunnelPairSelectorTests {
    func dual(delay: Duration? = .seconds(5), active: HealthState = .up, standby: HealthState = .up)
        -> TunnelPairSelector
    {
        TunnelPairSelector(mode: .dual, preemptDelay: delay, active: active, standby: standby, at: .zero)
    }

    @Test func initialSelectionPrefersTheActiveTunnel() {
        #expect(dual().selected == .active)
        #expect(dual(active: .up, standby: .down).selected == .active)
        #expect(dual(active: .down, standby: .up).selected == .standby)
        #expect(dual(active: .down, standby: .down).selected == .none)
    }

    @Test func failsOverToTheStandbyAtOnce() {
        var selector = dual()
        let change = selector.update(.active, to: .down, at: ms(60))
        #expect(change?.from == .active && change?.to == .standby && change?.time == ms(60))
        #expect(change?.cause == .active && change?.reason == .tunnelDown(.active))
        #expect(selector.selected == .standby && selector.nextDeadline == nil)
    }

    @Test func failsBackOnlyAfterThePreemptDelayOfContinuousUp() {
        var selector = dual()
        _ = selector.update(.active, to: .down, at: ms(1000))
        #expect(selector.update(.active, to: .up, at: ms(2000)) == nil)
        #expect(selector.nextDeadline == ms(7000))
        #expect(selector.advance(to: ms(6999)) == nil)
        #expect(selector.selected == .standby)
        let change = selector.advance(to: ms(7000))
        #expect(change?.to == .active && change?.time == ms(7000) && change?.cause == .active)
        #expect(change?.reason == .preemptDelayElapsed(.seconds(5)))
        #expect(change?.reason.description == "active tunnel up for the preempt delay of 5s")
        #expect(selector.selected == .active && selector.nextDeadline == nil)
    }

    @Test func theActiveFailingDuringTheDelayCancelsTheFailback() {
        var selector = dual()
        _ = selector.update(.active, to: .down, at: ms(1000))
        _ = selector.update(.active, to: .up, at: ms(2000))
        #expect(selector.update(.active, to: .down, at: ms(4000)) == nil)
        #expect(selector.nextDeadline == nil)
        #expect(selector.advance(to: ms(60_000)) == nil)
        #expect(selector.selected == .standby)
        // Coming up again starts the delay afresh.
        _ = selector.update(.active, to: .up, at: ms(61_000))
        #expect(selector.nextDeadline == ms(66_000))
        #expect(selector.advance(to: ms(66_000))?.to == .active)
    }

    @Test func theStandbyFailingDuringTheDelaySwitchesToTheActiveAtOnce() {
        var selector = dual()
        _ = selector.update(.active, to: .down, at: ms(1000))
        _ = selector.update(.active, to: .up, at: ms(2000))
        let change = selector.update(.standby, to: .down, at: ms(3000))
        #expect(change?.from == .standby && change?.to == .active && change?.time == ms(3000))
        #expect(change?.cause == .standby && change?.reason == .tunnelDown(.standby))
        #expect(selector.nextDeadline == nil)
    }

    @Test func bothDownSelectsNothing() {
        var selector = dual()
        _ = selector.update(.active, to: .down, at: ms(1000))
        let change = selector.update(.standby, to: .down, at: ms(2000))
        #expect(change?.from == .standby && change?.to == TunnelSelection.none)
        #expect(selector.selected == .none && selector.nextDeadline == nil)
    }

    @Test func fromNothingTheStandbyRecoveringFirstIsTakenThenTheActiveWaitsOutTheDelay() {
        var selector = dual(active: .down, standby: .down)
        let standby = selector.update(.standby, to: .up, at: ms(1000))
        #expect(standby?.to == .standby && standby?.reason == .tunnelUp(.standby))
        #expect(selector.update(.active, to: .up, at: ms(2000)) == nil)
        #expect(selector.nextDeadline == ms(7000))
        #expect(selector.advance(to: ms(7000))?.to == .active)
    }

    @Test func fromNothingTheActiveRecoveringFirstIsTakenAtOnce() {
        var selector = dual(active: .down, standby: .down)
        let active = selector.update(.active, to: .up, at: ms(1000))
        #expect(active?.to == .active && active?.reason == .tunnelUp(.active))
        #expect(selector.update(.standby, to: .up, at: ms(1500)) == nil)
        #expect(selector.selected == .active)
    }

    @Test func aZeroPreemptDelayFailsBackAtOnce() {
        var selector = dual(delay: .zero)
        _ = selector.update(.active, to: .down, at: ms(1000))
        let change = selector.update(.active, to: .up, at: ms(1020))
        #expect(change?.to == .active && change?.time == ms(1020) && change?.reason == .preemptDelayElapsed(.zero))
        #expect(change?.reason.description == "active tunnel up (no preempt delay)")
        #expect(selector.nextDeadline == nil)
    }

    /// Non-revertive (`preempt: false`, issue 12): after a failover the standby keeps the traffic while it is up,
    /// however long the active has been back; when the standby fails, traffic goes to the active at once.
    @Test func withoutPreemptTrafficStaysOnTheStandbyUntilItFails() {
        var selector = dual(delay: nil)
        _ = selector.update(.active, to: .down, at: ms(1000))
        #expect(selector.update(.active, to: .up, at: ms(2000)) == nil)
        #expect(selector.nextDeadline == nil)
        #expect(selector.advance(to: ms(3_600_000)) == nil)
        #expect(selector.selected == .standby)
        let change = selector.update(.standby, to: .down, at: ms(3_600_001))
        #expect(change?.to == .active && change?.reason == .tunnelDown(.standby))
        // Back on the active, a failover still goes to the standby, and stays there again.
        #expect(selector.update(.standby, to: .up, at: ms(3_600_100)) == nil)
        #expect(selector.update(.active, to: .down, at: ms(3_600_200))?.to == .standby)
        #expect(selector.update(.active, to: .up, at: ms(3_600_300)) == nil)
        #expect(selector.selected == .standby)
    }

    @Test func singleTunnelModeSelectsTheTunnelOrNothing() {
        var selector = TunnelPairSelector(mode: .single, preemptDelay: .seconds(5), active: .up, at: .zero)
        #expect(selector.selected == .active)
        #expect(selector.update(.standby, to: .up, at: ms(10)) == nil)
        #expect(selector.state(of: .standby) == .down)
        #expect(selector.update(.active, to: .down, at: ms(20))?.to == TunnelSelection.none)
        // No standby to wait on: the tunnel is taken back at once, whatever the preempt delay.
        #expect(selector.update(.active, to: .up, at: ms(30))?.to == .active)
        #expect(selector.nextDeadline == nil)
    }

    @Test func timeGoingBackwardsCountsAsNoTimePassed() {
        var selector = dual()
        _ = selector.update(.active, to: .down, at: ms(10_000))
        // Up "at 1 s" is taken at 10 s: the delay runs from the latest instant seen.
        _ = selector.update(.active, to: .up, at: ms(1000))
        #expect(selector.nextDeadline == ms(15_000))
        #expect(selector.advance(to: ms(6000)) == nil)
        #expect(selector.advance(to: ms(14_999)) == nil)
        #expect(selector.advance(to: ms(15_000))?.time == ms(15_000))
    }
}
