// The health checks of `tandem run`: per tunnel with a `health-check`, a probe every interval, through that tunnel
// only, each with a sequence number and a nonce (ProbeLedger); a probe without an answer within its timeout is
// lost, an answer after that is late (counted, never taken for a fresh one), and so is one that is not the exact
// token of a probe in flight. The outcomes drive the failover controller (Daemon+Health.swift).

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

/// Every tunnel's probes, their timers and their figures. Used by the control thread only.
final class HealthProbes {
    struct Probe {
        let tunnel: TunnelID
        let interval: UInt64
        let timeout: UInt64
        let socket: ProbeSocket
        var nextSend: UInt64
        /// Probes sent and not yet answered or lost.
        var ledger: ProbeLedger
        var statistics = ProbeStatistics()
    }

    private(set) var probes: [Probe] = []

    /// Opens a probe socket per tunnel with a health check, bound to the tunnel's interface.
    init(config: GatewayConfig, now: UInt64) throws(DaemonError) {
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
                probes.append(
                    Probe(
                        tunnel: TunnelID(index),
                        interval: Self.nanoseconds(check.interval), timeout: Self.nanoseconds(check.timeout),
                        socket: socket, nextSend: now, ledger: ProbeLedger(tunnel: UInt32(index))))
            } catch {
                throw DaemonError("health check of tunnel '\(tunnel.name)': \(error)")
            }
        }
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

    /// Declares lost the probes whose timeout passed, then sends the probes that are due.
    func fire(now: UInt64) -> [ProbeOutcome] {
        var outcomes: [ProbeOutcome] = []
        for index in probes.indices {
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
        let tokens: [ProbeToken]
        do { tokens = try probes[index].socket.receive() } catch { return [] }
        var outcomes: [ProbeOutcome] = []
        for token in tokens {
            guard let sent = probes[index].ledger.take(token) else {
                // Too late (already lost), a duplicate, an earlier run's, or forged.
                probes[index].statistics.late &+= 1
                continue
            }
            let rtt = Duration.nanoseconds(Int64(now &- sent))
            probes[index].statistics.answered &+= 1
            probes[index].statistics.lastRTT = rtt
            probes[index].statistics.rttSum += rtt
            outcomes.append(.answered(probes[index].tunnel, rtt: rtt))
        }
        return outcomes
    }
}
