// The health checks of `tandem run`: per tunnel with a `health-check`, a probe every interval, through that tunnel
// only, each with a sequence number and a nonce (ProbeLedger); a probe without an answer within its timeout is
// lost, an answer after that is late (counted, never taken for a fresh one), and so is one that is not the exact
// token of a probe in flight. The outcomes drive the failover controller (Daemon+Health.swift).
//
// Time is the network's, not the control thread's: an answer counts by when the kernel received it (its receive
// timestamp), and the answers waiting in the sockets are read before any probe is declared lost. The control thread
// may be busy when an answer arrives (a kernel call of 100 ms and more: replacing a nexthop group makes the kernel
// renumber every IPv6 route on it), and an answer that came in time must not turn into a loss, nor its round trip
// into that delay.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// What one probe came to.
enum ProbeOutcome: Hashable {
    case answered(TunnelID, rtt: Duration)
    case lost(TunnelID)
    /// The probe could not be sent (an error, or a full socket queue): a failure too.
    case unsent(TunnelID, reason: String)
}

/// What the probes need of a socket: ``ProbeSocket``, or a fake in tests.
protocol ProbeTransport: AnyObject {
    /// For the event loop: readable when answers wait.
    var descriptor: CInt { get }
    /// Sends one probe; false if the socket's queue is full.
    func send(_ token: ProbeToken) throws(SystemError) -> Bool
    /// The answers waiting, each with how long it waited.
    func receive() throws(SystemError) -> [ProbeAnswer]
}

extension ProbeSocket: ProbeTransport {}

/// Every tunnel's probes, their timers and their figures. Used by the control thread only.
final class HealthProbes {
    struct Probe {
        let tunnel: TunnelID
        let interval: UInt64
        let timeout: UInt64
        let socket: any ProbeTransport
        var nextSend: UInt64
        /// Probes sent and not yet answered or lost.
        var ledger: ProbeLedger
        var statistics = ProbeStatistics()
    }

    private(set) var probes: [Probe] = []

    /// Probes over the given transports (the sockets of ``init(config:now:)``, or fakes in tests), the first ones due
    /// at `now`.
    init(transports: [(tunnel: TunnelID, interval: UInt64, timeout: UInt64, socket: any ProbeTransport)], now: UInt64) {
        probes = transports.map {
            Probe(
                tunnel: $0.tunnel, interval: $0.interval, timeout: $0.timeout, socket: $0.socket, nextSend: now,
                ledger: ProbeLedger(tunnel: UInt32($0.tunnel.index)))
        }
    }

    /// Opens a probe socket per tunnel with a health check, bound to the tunnel's interface.
    convenience init(config: GatewayConfig, now: UInt64) throws(DaemonError) {
        var transports: [(tunnel: TunnelID, interval: UInt64, timeout: UInt64, socket: any ProbeTransport)] = []
        for (index, tunnel) in config.tunnels.enumerated() {
            guard let check = tunnel.healthCheck else { continue }
            let source = check.source
            let kind: ProbeSocket.Kind =
                switch check.probeProtocol {
                // The identifier tells this process's echo answers from other pingers' on a raw socket.
                case .icmp: .icmpEcho(identifier: UInt16(truncatingIfNeeded: getpid() &* 31 &+ Int32(index)))
                case .udp: .udpEcho(port: check.port)
                }
            do {
                let socket = try ProbeSocket(
                    kind: kind, source: source, destination: check.destination, device: tunnel.interface)
                transports.append(
                    (TunnelID(index), Self.nanoseconds(check.interval), Self.nanoseconds(check.timeout), socket))
            } catch {
                throw DaemonError("health check of tunnel '\(tunnel.name)': \(error)")
            }
        }
        self.init(transports: transports, now: now)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The sockets, for the event loop.
    var descriptors: [CInt] { probes.map(\.socket.descriptor) }

    /// The figures of a tunnel's probes (empty for a tunnel without a health check).
    func statistics(of tunnel: TunnelID) -> ProbeStatistics {
        probes.first { $0.tunnel == tunnel }?.statistics ?? ProbeStatistics()
    }

    /// When ``fire(now:)`` must run next: the next send or the next timeout.
    var nextDeadline: UInt64? {
        var earliest: UInt64?
        for probe in probes {
            earliest = min(earliest ?? probe.nextSend, probe.nextSend)
            if let sent = probe.ledger.earliestSend { earliest = min(earliest!, sent &+ probe.timeout) }
        }
        return earliest
    }

    /// Takes the answers waiting (they may have come in time while the thread was busy), declares lost the probes
    /// whose timeout passed, then sends the probes that are due.
    func fire(now: UInt64) -> [ProbeOutcome] {
        var outcomes: [ProbeOutcome] = []
        for index in probes.indices {
            // (Only when a probe's time is up: the answers are read as they come anyway, this is for those that came
            // while the thread was busy.)
            if let first = probes[index].ledger.earliestSend, first &+ probes[index].timeout <= now {
                outcomes += takeAnswers(of: index, now: now)
            }
            let lost = probes[index].ledger.expire(now: now, timeout: probes[index].timeout)
            probes[index].statistics.lost &+= UInt64(lost)
            outcomes += repeatElement(.lost(probes[index].tunnel), count: lost)
            guard probes[index].nextSend <= now else { continue }
            // The next one an interval after this one was due (not after now): the rate stays the configured one.
            probes[index].nextSend = max(probes[index].nextSend &+ probes[index].interval, now &+ 1)
            let token = probes[index].ledger.next(now: now)
            probes[index].statistics.sent &+= 1
            do {
                if try !probes[index].socket.send(token) {
                    probes[index].ledger.forget(token)
                    outcomes.append(.unsent(probes[index].tunnel, reason: "the socket's queue is full"))
                }
            } catch {
                probes[index].ledger.forget(token)
                outcomes.append(.unsent(probes[index].tunnel, reason: "\(error)"))
            }
        }
        return outcomes
    }

    /// Reads the answers on a probe socket that is readable.
    func readAnswers(on descriptor: CInt, now: UInt64) -> [ProbeOutcome] {
        guard let index = probes.firstIndex(where: { $0.socket.descriptor == descriptor }) else { return [] }
        return takeAnswers(of: index, now: now)
    }

    /// The answers waiting on probe `index`'s socket, each taken by when it arrived: `now` less the time it waited
    /// (a round trip below 0, from a clock stepped meanwhile, counts as 0).
    private func takeAnswers(of index: Int, now: UInt64) -> [ProbeOutcome] {
        let answers: [ProbeAnswer]
        do { answers = try probes[index].socket.receive() } catch { return [] }
        var outcomes: [ProbeOutcome] = []
        for answer in answers {
            let arrived = now &- min(answer.waited, now)
            guard let sent = probes[index].ledger.take(answer.token, arrived: arrived, timeout: probes[index].timeout)
            else {
                // Too late (lost, or about to be), a duplicate, an earlier run's, or forged.
                probes[index].statistics.late &+= 1
                continue
            }
            let rtt = Duration.nanoseconds(Int64(max(arrived, sent) &- sent))
            probes[index].statistics.answered &+= 1
            probes[index].statistics.lastRTT = rtt
            probes[index].statistics.rttSum += rtt
            outcomes.append(.answered(probes[index].tunnel, rtt: rtt))
        }
        return outcomes
    }
}
