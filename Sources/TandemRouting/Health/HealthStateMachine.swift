// Turns a stream of probe results into up/down with hysteresis: one lost probe must not move traffic.

/// How many probe results in a row change a tunnel's health state.
public struct HealthCheckPolicy: Hashable, Sendable {
    /// Consecutive failures that take an up tunnel down (N).
    public let downCount: Int
    /// Consecutive successes that bring a down tunnel up (M).
    public let upCount: Int

    /// Makes a policy. The configuration validates the counts; both must be at least 1.
    ///
    /// - Parameters:
    ///   - downCount: Consecutive failures that take an up tunnel down.
    ///   - upCount: Consecutive successes that bring a down tunnel up.
    public init(downCount: Int, upCount: Int) {
        precondition(downCount >= 1 && upCount >= 1, "health check counts must be at least 1")
        self.downCount = downCount
        self.upCount = upCount
    }
}

/// A change of a tunnel's health state.
public struct HealthTransition: Hashable, Sendable, CustomStringConvertible {
    /// When the probe result that caused the change was recorded.
    public let time: MonotonicInstant
    /// The state before.
    public let from: HealthState
    /// The state after.
    public let to: HealthState
    /// The probe results that caused it.
    public let reason: ChangeReason

    /// Makes a transition.
    public init(time: MonotonicInstant, from: HealthState, to: HealthState, reason: ChangeReason) {
        self.time = time
        self.from = from
        self.to = to
        self.reason = reason
    }

    /// One line, such as "0.060s up -> down: 3 consecutive probe failures (last: timeout)".
    public var description: String { "\(time) \(from) -> \(to): \(reason)" }
}

/// The health state of one tunnel, driven by its probe results.
///
/// An up tunnel goes down after ``HealthCheckPolicy/downCount`` failures in a row; a down tunnel comes up after
/// ``HealthCheckPolicy/upCount`` successes in a row. A result that agrees with the current state resets the count
/// of results against it, so a success resets the failure count and a failure the success count.
public struct HealthStateMachine: Sendable {
    /// The counts that change the state.
    public let policy: HealthCheckPolicy
    /// The current state.
    public private(set) var state: HealthState
    /// Probe results in a row that disagree with ``state``: failures while up, successes while down.
    public private(set) var streak = 0

    /// Makes a machine in `initial` state.
    ///
    /// - Parameters:
    ///   - policy: The counts that change the state.
    ///   - initial: The starting state: `.up` for a tunnel taken as up until probes say otherwise, `.down` for
    ///     one that must prove itself first.
    public init(policy: HealthCheckPolicy, initial: HealthState = .up) {
        self.policy = policy
        self.state = initial
    }

    /// Records one probe result.
    ///
    /// The machine has no notion of time besides stamping the transition: it counts results, not intervals.
    ///
    /// - Parameters:
    ///   - result: The probe's outcome.
    ///   - time: When the result arrived; stamped on the transition.
    /// - Returns: The transition, if this result changed the state.
    public mutating func record(_ result: ProbeResult, at time: MonotonicInstant) -> HealthTransition? {
        switch (state, result) {
        case (.up, .success), (.down, .failure):
            streak = 0
            return nil
        case (.up, .failure(let failure)):
            streak += 1
            guard streak >= policy.downCount else { return nil }
            return change(to: .down, at: time, reason: .consecutiveFailures(count: streak, last: failure))
        case (.down, .success):
            streak += 1
            guard streak >= policy.upCount else { return nil }
            return change(to: .up, at: time, reason: .consecutiveSuccesses(count: streak))
        }
    }

    /// Sets the state without probe results (a link went down, or a tunnel without probes has its link back), and
    /// starts the count of results against it afresh: after a forced down, ``HealthCheckPolicy/upCount`` successes
    /// bring it up.
    ///
    /// - Returns: The transition, if the state changed.
    public mutating func force(to next: HealthState, at time: MonotonicInstant, reason: ChangeReason)
        -> HealthTransition?
    {
        guard next != state else {
            streak = 0
            return nil
        }
        return change(to: next, at: time, reason: reason)
    }

    private mutating func change(to next: HealthState, at time: MonotonicInstant, reason: ChangeReason)
        -> HealthTransition
    {
        let transition = HealthTransition(time: time, from: state, to: next, reason: reason)
        state = next
        streak = 0
        return transition
    }
}
