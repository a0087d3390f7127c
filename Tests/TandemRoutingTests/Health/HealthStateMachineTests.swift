import TandemRouting
import Testing

@Suite struct HealthStateMachineTests {
    @Test(arguments: 1...5) func goesDownAfterExactlyDownCountFailures(downCount: Int) {
        var machine = HealthStateMachine(policy: HealthCheckPolicy(downCount: downCount, upCount: 2))
        for step in 1..<downCount {
            #expect(machine.record(failed, at: ms(step * 20)) == nil)
            #expect(machine.state == .up && machine.streak == step)
        }
        let transition = machine.record(.failure(.error), at: ms(downCount * 20))
        #expect(
            transition
                == HealthTransition(
                    time: ms(downCount * 20), from: .up, to: .down,
                    reason: .consecutiveFailures(count: downCount, last: .error)))
        #expect(machine.state == .down && machine.streak == 0)
    }

    @Test(arguments: 1...5) func comesUpAfterExactlyUpCountSuccesses(upCount: Int) {
        var machine = HealthStateMachine(policy: HealthCheckPolicy(downCount: 3, upCount: upCount), initial: .down)
        for step in 1..<upCount {
            #expect(machine.record(.success, at: ms(step)) == nil)
            #expect(machine.state == .down)
        }
        let transition = machine.record(.success, at: ms(upCount))
        #expect(transition?.from == .down && transition?.to == .up && transition?.time == ms(upCount))
        #expect(transition?.reason == .consecutiveSuccesses(count: upCount))
        #expect(machine.state == .up)
    }

    @Test func startsUpUnlessToldOtherwise() {
        let policy = HealthCheckPolicy(downCount: 3, upCount: 3)
        #expect(HealthStateMachine(policy: policy).state == .up)
        #expect(HealthStateMachine(policy: policy, initial: .down).state == .down)
    }

    @Test func aSuccessResetsTheFailureCount() {
        var machine = HealthStateMachine(policy: HealthCheckPolicy(downCount: 3, upCount: 3))
        let results: [ProbeResult] = [failed, failed, .success, failed, failed, .success, failed, failed]
        for (index, result) in results.enumerated() { #expect(machine.record(result, at: ms(index)) == nil) }
        #expect(machine.state == .up && machine.streak == 2)
        #expect(machine.record(failed, at: ms(100))?.to == .down)
    }

    @Test func aFailureResetsTheSuccessCount() {
        var machine = HealthStateMachine(policy: HealthCheckPolicy(downCount: 3, upCount: 3), initial: .down)
        let results: [ProbeResult] = [.success, .success, failed, .success, .success, failed, .success, .success]
        for (index, result) in results.enumerated() { #expect(machine.record(result, at: ms(index)) == nil) }
        #expect(machine.state == .down && machine.streak == 2)
        #expect(machine.record(.success, at: ms(100))?.to == .up)
    }

    @Test func resultsAgreeingWithTheStateChangeNothing() {
        var machine = HealthStateMachine(policy: HealthCheckPolicy(downCount: 1, upCount: 1))
        for step in 0..<10 { #expect(machine.record(.success, at: ms(step)) == nil) }
        #expect(machine.record(failed, at: ms(10)) != nil)
        for step in 11..<20 { #expect(machine.record(failed, at: ms(step)) == nil) }
        #expect(machine.state == .down)
    }

    @Test func transitionsReadWell() {
        var machine = HealthStateMachine(policy: HealthCheckPolicy(downCount: 3, upCount: 3))
        _ = machine.record(failed, at: ms(20))
        _ = machine.record(failed, at: ms(40))
        let down = machine.record(failed, at: ms(60))
        #expect(down?.reason.description == "3 consecutive probe failures (last: timeout)")
        #expect(down?.description == "0.060s up -> down: 3 consecutive probe failures (last: timeout)")
        _ = machine.record(.success, at: ms(80))
        _ = machine.record(.success, at: ms(100))
        #expect(machine.record(.success, at: ms(120))?.reason.description == "3 consecutive probe successes")
        #expect(ChangeReason.consecutiveSuccesses(count: 1).description == "1 consecutive probe success")
    }
}
