// How long the control thread's turns take, and the resyncs of learning: the control thread also times the health
// checks, so a long turn (a full table's notifications applied at once, a large answer rendered whole) delays the
// probes and can make a healthy tunnel look dead. These say whether that happens.

import Prometheus

extension DaemonMetrics {
    /// The buckets of the control-turn histogram: a healthy turn is well under a millisecond; a probe at 20 ms x 3
    /// starts to suffer from tens of milliseconds.
    public static let turnBuckets: [Duration] = [
        .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(20),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]

    /// One turn of the control thread's loop: its handlers and timers, without the wait.
    public func recordControlTurn(_ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.descriptor(
                "tandem_control_turn_seconds",
                "Time the control thread spent on one turn of its loop (handlers and timers, not the wait)."),
            buckets: Self.turnBuckets
        ).record(duration)
    }

    /// A resync of learned routes after lost route notifications, completed.
    public func recordLearningResync() {
        registry.makeCounter(
            descriptor: Self.descriptor(
                "tandem_learning_resyncs_total",
                "Resyncs of learned routes after the route-notification socket overflowed (ENOBUFS)."))
            .increment()
    }
}
