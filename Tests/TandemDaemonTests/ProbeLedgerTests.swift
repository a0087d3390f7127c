import TandemLinux
import Testing

@testable import TandemDaemon

/// Only the exact token of a probe in flight counts as its answer (issue 13: the nonce was one per run and the
/// sequence numbers predictable, so a spoofer who had seen one probe could answer all the later ones).
struct ProbeLedgerTests {
    @Test func theAnswerToAProbeIsTakenOnceWithItsSendTime() {
        var ledger = ProbeLedger(tunnel: 2, firstSequence: 100)
        let token = ledger.next(now: 1_000, nonce: 77)
        #expect(token == ProbeToken(tunnel: 2, sequence: 100, nonce: 77))
        #expect(ledger.take(token, arrived: 1_000, timeout: 1_000_000) == 1_000)
        #expect(ledger.take(token, arrived: 1_000, timeout: 1_000_000) == nil, "a duplicate answer")
        #expect(ledger.waiting == 0)
    }

    @Test func aForgedAnswerWithTheNextSequenceNumberIsNotTaken() {
        var ledger = ProbeLedger(tunnel: 0, firstSequence: 1)
        let seen = ledger.next(now: 10, nonce: 0x1111)
        #expect(ledger.take(seen, arrived: 1_000, timeout: 1_000_000) == 10)
        // The spoofer saw that probe: it guesses the next sequence number and reuses the nonce it saw.
        let next = ledger.next(now: 20, nonce: 0x2222)
        let forged = ProbeToken(tunnel: 0, sequence: seen.sequence &+ 1, nonce: seen.nonce)
        #expect(forged.sequence == next.sequence)
        #expect(ledger.take(forged, arrived: 1_000, timeout: 1_000_000) == nil)
        let otherTunnel = ProbeToken(tunnel: 1, sequence: next.sequence, nonce: next.nonce)
        #expect(ledger.take(otherTunnel, arrived: 1_000, timeout: 1_000_000) == nil, "another tunnel")
        #expect(ledger.take(next, arrived: 1_000, timeout: 1_000_000) == 20)
    }

    @Test func nonceAndFirstSequenceAreDrawnPerProbeAndPerRun() {
        var first = ProbeLedger(tunnel: 0)
        var second = ProbeLedger(tunnel: 0)
        let tokens = (0..<64).map { first.next(now: UInt64($0)) }
        // 64 draws of 32 bits: a repeat has odds of about 2^-20; two runs starting alike, 2^-32.
        #expect(Set(tokens.map(\.nonce)).count == 64)
        #expect(tokens[0].sequence != second.next(now: 0).sequence)
    }

    @Test func probesPastTheirTimeoutAreRetiredAndTheirAnswersRefused() {
        var ledger = ProbeLedger(tunnel: 0, firstSequence: 0)
        let old = ledger.next(now: 0, nonce: 1)
        let fresh = ledger.next(now: 50, nonce: 2)
        #expect(ledger.earliestSend == 0)
        #expect(ledger.expire(now: 60, timeout: 60) == 1)
        #expect(ledger.take(old, arrived: 1_000, timeout: 1_000_000) == nil, "late: already counted lost")
        #expect(ledger.earliestSend == 50)
        ledger.forget(fresh)
        #expect(ledger.take(fresh, arrived: 1_000, timeout: 1_000_000) == nil && ledger.waiting == 0)
    }

    /// Whether an answer came in time is a matter of when it arrived, not of when the control thread got to read it
    /// (busy in a long kernel call, or waiting for a loaded core).
    @Test func anAnswerCountsByWhenItArrivedNotWhenItWasRead() {
        var ledger = ProbeLedger(tunnel: 0, firstSequence: 0)
        let probe = ledger.next(now: 1_000, nonce: 5)
        #expect(ledger.take(probe, arrived: 1_000 + 10_000, timeout: 10_000) == nil, "arrived at the timeout: late")
        #expect(ledger.waiting == 1, "a late answer leaves the probe to be counted lost")
        #expect(ledger.take(probe, arrived: 1_000 + 9_999, timeout: 10_000) == 1_000, "arrived within the timeout")
        #expect(ledger.waiting == 0)
    }
}
