import TandemRouting
import Testing

/// The instant `milliseconds` after the origin.
func ms(_ milliseconds: Int) -> MonotonicInstant { .zero + .milliseconds(milliseconds) }

/// A probe failure by timeout, the common case in these tests.
let failed = ProbeResult.failure(.timeout)

/// Plays the health-check driver: probes both tunnels every tick and calls `advance` exactly at each deadline.
struct ProbeDriver {
    var monitor: ConnectionMonitor
    var log: [MonitorEvent] = []
    /// The events that came from `advance`, to check they fired at their deadline and not at a probe.
    var timerEvents: [MonitorEvent] = []

    /// Fires the timers due by `time`, then records the results given for each tunnel at `time`.
    mutating func tick(at time: MonotonicInstant, active: ProbeResult?, standby: ProbeResult? = .success) {
        while let deadline = monitor.nextDeadline(), deadline <= time {
            let events = monitor.advance(to: deadline)
            // A deadline that fires nothing would loop forever here: record it and stop.
            guard !events.isEmpty else {
                Issue.record("nothing fired at the deadline \(deadline)")
                break
            }
            log += events
            timerEvents += events
        }
        if let active { log += monitor.record(active, for: .active, at: time) }
        if let standby { log += monitor.record(standby, for: .standby, at: time) }
    }

    /// Each selection change as "time selected", such as "0.060s standby".
    var switches: [String] {
        log.compactMap { event in
            guard case .selectionChanged(_, let to) = event.kind else { return nil }
            return "\(event.time) \(to)"
        }
    }
}
