// Reasons are values, not strings: building text for every transition would allocate on the control path, and a
// JSON log wants the numbers as fields. The text is made only when someone prints it.

/// Why a tunnel's health, hold-down or the connection's selection changed. Its description is the sentence a
/// person reads in the log.
public enum ChangeReason: Hashable, Sendable, CustomStringConvertible {
    /// The health state went down after `count` probe failures in a row; `last` is the kind of the last one.
    case consecutiveFailures(count: Int, last: ProbeFailure)
    /// The health state went up after `count` probe successes in a row.
    case consecutiveSuccesses(count: Int)
    /// More than `limit` flaps happened within `window`: the tunnel is held down.
    case tooManyFlaps(limit: Int, window: Duration)
    /// The tunnel flapped while held down: its hold-down penalty starts again.
    case flappedWhileHeld(penalty: Duration)
    /// The tunnel did not flap for `penalty`: its hold-down ended.
    case penaltyServed(penalty: Duration)
    /// The tunnel with this role went down (its effective state).
    case tunnelDown(TunnelRole)
    /// The tunnel with this role came up while no tunnel carried traffic.
    case tunnelUp(TunnelRole)
    /// The active tunnel has been up for the preempt delay: traffic goes back to it.
    case preemptDelayElapsed(Duration)
    /// The tunnel's interface lost its carrier, went admin down or was deleted: the tunnel is down at once.
    case linkDown(TunnelRole)
    /// The tunnel's interface is up again (a tunnel without a health check is up again with it).
    case linkUp(TunnelRole)
    /// An operator drained the tunnel (`tandem drain`, or `drained: true` in the file).
    case drained(TunnelRole)
    /// An operator undrained the tunnel (`tandem undrain`): traffic goes back to it at once if it is up.
    case undrained(TunnelRole)

    /// The reason as a short sentence, such as "3 consecutive probe failures (last: timeout)".
    public var description: String {
        switch self {
        case .consecutiveFailures(let count, let last):
            "\(count) consecutive probe \(count == 1 ? "failure" : "failures") (last: \(last))"
        case .consecutiveSuccesses(let count):
            "\(count) consecutive probe \(count == 1 ? "success" : "successes")"
        case .tooManyFlaps(let limit, let window):
            "more than \(limit) \(limit == 1 ? "flap" : "flaps") within \(readable(window))"
        case .flappedWhileHeld(let penalty):
            "flapped while held down, penalty of \(readable(penalty)) restarted"
        case .penaltyServed(let penalty):
            "no flap for \(readable(penalty))"
        case .tunnelDown(let role):
            "\(role) tunnel down"
        case .tunnelUp(let role):
            "\(role) tunnel up"
        case .preemptDelayElapsed(let delay):
            delay <= .zero
                ? "active tunnel up (no preempt delay)" : "active tunnel up for the preempt delay of \(readable(delay))"
        case .linkDown(let role):
            "\(role) tunnel link down"
        case .linkUp(let role):
            "\(role) tunnel link up"
        case .drained(let role):
            "\(role) tunnel drained"
        case .undrained(let role):
            "\(role) tunnel undrained"
        }
    }
}

/// A duration as people write it in a configuration: "200ms", "5s", "1.5s", "90s".
func readable(_ duration: Duration) -> String {
    let nanoseconds = duration.totalNanoseconds
    if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
    if nanoseconds % 1_000_000 == 0 {
        let millis = nanoseconds / 1_000_000
        // Whole tenths of a second read better in seconds ("1.5s"); the rest in milliseconds ("250ms").
        return millis >= 1000 && millis % 100 == 0 ? "\(millis / 1000).\(millis % 1000 / 100)s" : "\(millis)ms"
    }
    if nanoseconds % 1000 == 0 { return "\(nanoseconds / 1000)us" }
    return "\(nanoseconds)ns"
}
