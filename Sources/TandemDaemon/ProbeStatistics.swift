// What a tunnel's health-check probes have measured, for `tandem show tunnels`, the metrics and the event log.

/// The probe figures of one tunnel.
public struct ProbeStatistics: Hashable, Sendable {
    /// Probes sent.
    public var sent: UInt64 = 0
    /// Answers that came back within the timeout.
    public var answered: UInt64 = 0
    /// Probes without an answer within the timeout.
    public var lost: UInt64 = 0
    /// Answers that came after their probe's timeout, duplicates, and answers that are not the exact token of a
    /// probe in flight (an earlier run's, or forged: a wrong nonce): counted here, never taken for a fresh answer.
    public var late: UInt64 = 0
    /// The last answer's round-trip time.
    public var lastRTT: Duration?
    /// The sum of the answered probes' round-trip times (the mean is `rttSum / answered`).
    public var rttSum: Duration = .zero

    public init() {}

    /// The mean round-trip time, if any probe was answered.
    public var meanRTT: Duration? { answered == 0 ? nil : rttSum / Int(answered) }

    /// Lost over sent (answered or lost), 0...1.
    public var lossRatio: Double {
        let decided = answered + lost
        return decided == 0 ? 0 : Double(lost) / Double(decided)
    }
}
