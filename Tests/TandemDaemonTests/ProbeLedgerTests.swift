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
        #expect(ledger.take(token) == 1_000)
        #expect(ledger.take(token) == nil, "a duplicate answer")
        #expect(ledger.waiting == 0)
    }

    @Test func aForgedAnswerWithTheNextSequenceNumberIsNotTaken() {
        var ledger = ProbeLedger(tunnel: 0, firstSequence: 1)
        let seen = ledger.next(now: 10, nonce: 0x1111)
        #expect(ledger.take(seen) == 10)
        // The spoofer saw that probe: it guesses the next sequence number and reuses the nonce it saw.
        let next = ledger.next(now: 20, nonce: 0x2222)
        let forged = ProbeToken(tunnel: 0, sequence: seen.sequence &+ 1, nonce: seen.nonce)
        #expect(forged.sequence == next.sequence)
        #expect(ledger.take(forged) == nil)
        #expect(ledger.take(ProbeToken(tunnel: 1, sequence: next.sequence, nonce: next.nonce)) == nil, "another tunnel")
        #expect(ledger.take(next) == 20)
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
        #expect(ledger.take(old) == nil, "late: already counted lost")
        #expect(ledger.earliestSend == 50)
        ledger.forget(fresh)
        #expect(ledger.take(fresh) == nil && ledger.waiting == 0)
    }
}
