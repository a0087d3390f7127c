import TandemLinux
import TandemRouting
import Testing

@testable import TandemDaemon

/// The probes' time is the network's (issue 15, failover under load): an answer counts by when the kernel received
/// it, and the answers waiting are read before a probe is declared lost, however late the control thread gets to
/// them (a loaded core, a nexthop group replace of 100 ms and more with the full table).
struct HealthProbesTests {
    /// A probe socket's stand-in: what was sent, and the answers waiting to be read.
    final class FakeTransport: ProbeTransport {
        let descriptor: CInt = 42
        var sent: [ProbeToken] = []
        var waiting: [ProbeAnswer] = []

        func send(_ token: ProbeToken) throws(SystemError) -> Bool {
            sent.append(token)
            return true
        }

        func receive() throws(SystemError) -> [ProbeAnswer] {
            defer { waiting = [] }
            return waiting
        }
    }

    static let millisecond: UInt64 = 1_000_000
    static let tunnel = TunnelID(0)

    /// One tunnel probed every 10 ms with a 10 ms timeout; the first probe goes out at 0.
    static func probes() -> (HealthProbes, FakeTransport) {
        let transport = FakeTransport()
        let probes = HealthProbes(
            transports: [(tunnel: tunnel, interval: 10 * millisecond, timeout: 10 * millisecond, socket: transport)],
            now: 0)
        #expect(probes.fire(now: 0).isEmpty)
        #expect(transport.sent.count == 1)
        return (probes, transport)
    }

    @Test func anAnswerThatCameInTimeIsTakenHoweverLateItIsRead() {
        let (probes, transport) = Self.probes()
        // It came 5 ms after the probe went out; the thread was busy until 30 ms, past the timeout.
        transport.waiting = [ProbeAnswer(token: transport.sent[0], waited: 25 * Self.millisecond)]
        let outcomes = probes.fire(now: 30 * Self.millisecond)
        #expect(outcomes == [.answered(Self.tunnel, rtt: .milliseconds(5))])
        #expect(probes.statistics(of: Self.tunnel).lost == 0)
        #expect(transport.sent.count == 2, "the next probe went out")
    }

    @Test func anAnswerThatCameAfterTheTimeoutIsLateAndTheProbeLost() {
        let (probes, transport) = Self.probes()
        // It came at 25 ms: 15 ms past the timeout, though read in the same turn as the timeout's.
        transport.waiting = [ProbeAnswer(token: transport.sent[0], waited: 5 * Self.millisecond)]
        let outcomes = probes.fire(now: 30 * Self.millisecond)
        #expect(outcomes == [.lost(Self.tunnel)])
        #expect(probes.statistics(of: Self.tunnel).late == 1)
        #expect(probes.statistics(of: Self.tunnel).lost == 1)
    }

    @Test func theRoundTripIsTheNetworksNotTheThreads() {
        let (probes, transport) = Self.probes()
        transport.waiting = [ProbeAnswer(token: transport.sent[0], waited: 4 * Self.millisecond)]
        #expect(
            probes.readAnswers(on: transport.descriptor, now: 5 * Self.millisecond)
                == [.answered(Self.tunnel, rtt: .milliseconds(1))])
        #expect(probes.statistics(of: Self.tunnel).lastRTT == .milliseconds(1))
    }

    @Test func withoutATimestampTheAnswerArrivedWhenRead() {
        let (probes, transport) = Self.probes()
        transport.waiting = [ProbeAnswer(token: transport.sent[0])]
        #expect(
            probes.readAnswers(on: transport.descriptor, now: 3 * Self.millisecond)
                == [.answered(Self.tunnel, rtt: .milliseconds(3))])
        // One read at the timeout itself is too late.
        let (late, lateTransport) = Self.probes()
        lateTransport.waiting = [ProbeAnswer(token: lateTransport.sent[0])]
        #expect(late.fire(now: 10 * Self.millisecond) == [.lost(Self.tunnel)])
    }
}
