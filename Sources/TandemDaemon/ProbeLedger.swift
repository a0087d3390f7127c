// The probes of one tunnel that are in flight, and which answers count. An answer keeps a tunnel carrying traffic,
// so it must be one nobody but the peer could have sent: each probe gets a nonce of its own from the system's
// random source, and the sequence numbers start at a random point, so neither a spoofer who did not see the probe
// nor an answer to an earlier run (or an earlier probe) passes. Taking an answer retires its probe: a duplicate,
// or one replayed after the timeout, is not taken either.

import TandemLinux

/// One tunnel's outstanding probes: sequence number -> when it went out and its nonce.
struct ProbeLedger {
    private struct Sent {
        let time: UInt64
        let nonce: UInt32
    }

    /// The tunnel's index, carried in every token.
    let tunnel: UInt32
    /// The last sequence number used.
    private(set) var sequence: UInt32
    private var outstanding: [UInt32: Sent] = [:]

    init(tunnel: UInt32, firstSequence: UInt32 = .random(in: .min ... .max)) {
        self.tunnel = tunnel
        sequence = firstSequence &- 1
    }

    /// How many probes are waiting for an answer.
    var waiting: Int { outstanding.count }

    /// The earliest send time of a probe still waiting (its timeout comes first).
    var earliestSend: UInt64? { outstanding.values.map(\.time).min() }

    /// The token of the next probe, recorded as sent at `now`; ``forget(_:)`` it if it could not be sent.
    mutating func next(now: UInt64, nonce: UInt32 = .random(in: .min ... .max)) -> ProbeToken {
        sequence &+= 1
        outstanding[sequence] = Sent(time: now, nonce: nonce)
        return ProbeToken(tunnel: tunnel, sequence: sequence, nonce: nonce)
    }

    /// Drops a probe that never left.
    mutating func forget(_ token: ProbeToken) { outstanding[token.sequence] = nil }

    /// Retires and counts the probes sent at least `timeout` before `now`.
    mutating func expire(now: UInt64, timeout: UInt64) -> Int {
        let expired = outstanding.filter { $0.value.time &+ timeout <= now }.keys
        for sequence in expired { outstanding[sequence] = nil }
        return expired.count
    }

    /// When the probe an answer returns went out, if the answer carries exactly the token of a probe still
    /// waiting (tunnel, sequence number and nonce) and arrived within `timeout` of its sending; the probe is then
    /// retired. Nil for anything else: late (the probe stays, for ``expire(now:timeout:)`` to count lost), a
    /// duplicate, an earlier run's, or forged.
    ///
    /// - Parameter arrived: When the answer arrived (the kernel's receive time, read perhaps later).
    mutating func take(_ token: ProbeToken, arrived: UInt64, timeout: UInt64) -> UInt64? {
        guard token.tunnel == tunnel, let sent = outstanding[token.sequence], sent.nonce == token.nonce,
            arrived < sent.time &+ timeout
        else {
            return nil
        }
        outstanding[token.sequence] = nil
        return sent.time
    }
}
