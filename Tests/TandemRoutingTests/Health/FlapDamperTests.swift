import TandemRouting
import Testing

@Suite struct FlapDamperTests {
    /// K = 2 flaps tolerated in 10 s; the third holds the tunnel down for 30 s.
    let policy = DampingPolicy(maxFlaps: 2, window: .seconds(10), penalty: .seconds(30))

    func flap(at time: MonotonicInstant) -> HealthTransition {
        HealthTransition(time: time, from: .up, to: .down, reason: .consecutiveFailures(count: 3, last: .timeout))
    }

    func recovery(at time: MonotonicInstant) -> HealthTransition {
        HealthTransition(time: time, from: .down, to: .up, reason: .consecutiveSuccesses(count: 3))
    }

    @Test func moreThanMaxFlapsWithinTheWindowHoldDown() {
        var damper = FlapDamper(policy: policy)
        #expect(damper.observe(flap(at: ms(1000))) == nil)
        #expect(damper.observe(flap(at: ms(4000))) == nil)
        #expect(!damper.isHeldDown)
        let held = damper.observe(flap(at: ms(10_999)))
        #expect(held?.kind == .heldDown(until: ms(40_999)) && held?.time == ms(10_999))
        #expect(held?.reason == .tooManyFlaps(limit: 2, window: .seconds(10)))
        #expect(held?.reason.description == "more than 2 flaps within 10s")
        #expect(damper.isHeldDown && damper.heldUntil == ms(40_999) && damper.nextDeadline == ms(40_999))
    }

    @Test func onlyUpToDownTransitionsAreFlaps() {
        var damper = FlapDamper(policy: policy)
        for second in 0..<10 { #expect(damper.observe(recovery(at: ms(second * 100))) == nil) }
        #expect(damper.observe(flap(at: ms(1000))) == nil)
        #expect(damper.observe(flap(at: ms(1100))) == nil)
        #expect(!damper.isHeldDown)
    }

    @Test func releasedWhenThePenaltyHasPassed() {
        var damper = FlapDamper(policy: policy)
        for second in 0...2 { _ = damper.observe(flap(at: ms(second * 1000))) }
        #expect(damper.heldUntil == ms(32_000))
        #expect(damper.advance(to: ms(31_999)) == nil)
        #expect(damper.isHeldDown)
        let released = damper.advance(to: ms(32_000))
        #expect(released?.kind == .released && released?.time == ms(32_000))
        #expect(released?.reason.description == "no flap for 30s")
        #expect(!damper.isHeldDown && damper.nextDeadline == nil)
        #expect(damper.advance(to: ms(40_000)) == nil)
    }

    @Test func aLateAdvanceStampsTheReleaseWithThePenaltyEnd() {
        var damper = FlapDamper(policy: policy)
        for second in 0...2 { _ = damper.observe(flap(at: ms(second * 1000))) }
        #expect(damper.advance(to: ms(50_000))?.time == ms(32_000))
    }

    @Test func flapsSpreadOverMoreThanTheWindowNeverHold() {
        var damper = FlapDamper(policy: policy)
        // Three flaps spanning exactly the window are not "within" it; a thousand of them keep the ring at K + 1.
        for index in 0..<1000 { #expect(damper.observe(flap(at: ms(index * 5000))) == nil) }
        #expect(!damper.isHeldDown)
    }

    @Test func aFlapWhileHeldRestartsThePenalty() {
        var damper = FlapDamper(policy: policy)
        for second in 0...2 { _ = damper.observe(flap(at: ms(second * 1000))) }
        #expect(damper.advance(to: ms(20_000)) == nil)
        // Long after the window of the first flaps: it restarts the penalty because the tunnel is held.
        let restarted = damper.observe(flap(at: ms(25_000)))
        #expect(restarted?.kind == .heldDown(until: ms(55_000)))
        #expect(restarted?.reason == .flappedWhileHeld(penalty: .seconds(30)))
        #expect(damper.advance(to: ms(32_000)) == nil)
        #expect(damper.advance(to: ms(54_999)) == nil)
        #expect(damper.advance(to: ms(55_000))?.kind == .released)
    }

    @Test func zeroMaxFlapsHoldsOnEveryFlap() {
        var damper = FlapDamper(policy: DampingPolicy(maxFlaps: 0, window: .seconds(1), penalty: .seconds(5)))
        #expect(damper.observe(flap(at: ms(100)))?.kind == .heldDown(until: ms(5100)))
    }

    @Test func theHistoryOutlivesAHold() {
        var damper = FlapDamper(policy: DampingPolicy(maxFlaps: 2, window: .seconds(10), penalty: .seconds(3)))
        for second in 0...2 { _ = damper.observe(flap(at: ms(second * 1000))) }
        #expect(damper.advance(to: ms(5000))?.kind == .released)
        // Flaps at 1 s, 2 s and 6 s: still more than 2 within 10 s.
        #expect(damper.observe(flap(at: ms(6000)))?.reason == .tooManyFlaps(limit: 2, window: .seconds(10)))
    }

    @Test func timeGoingBackwardsCountsAsNoTimePassed() {
        var damper = FlapDamper(policy: policy)
        _ = damper.observe(flap(at: ms(9000)))
        _ = damper.observe(flap(at: ms(9500)))
        // A flap stamped in the past is taken at 9.5 s, the latest instant seen.
        #expect(damper.observe(flap(at: ms(100)))?.kind == .heldDown(until: ms(39_500)))
        #expect(damper.advance(to: ms(1)) == nil)
        #expect(damper.heldUntil == ms(39_500))
        #expect(damper.advance(to: ms(39_500))?.kind == .released)
    }
}
