// Health checks drive failover: each probe outcome goes to the failover controller, whose events (a tunnel's health
// went down or up, it is held down, the connection's traffic moved) are applied to the router at once and written
// to the log as one JSON line each, with the reason and the probe figures. Userspace mode needs nothing more (the
// pipeline reads the router's plane); kernel mode replaces the nexthop groups of the chains concerned, one
// RTM_NEWNEXTHOP each, whatever the table size.

import TandemConfig
import TandemLinux
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// Opens the probe sockets; the first probes go out at once.
    func startProbes() throws(DaemonError) {
        probes = try HealthProbes(config: config, now: Forwarder.now())
        if let probes, !probes.probes.isEmpty {
            log.info("health checks: \(probes.probes.count) tunnel(s) probed")
        }
    }

    /// How long the event loop may wait: until the next probe, probe timeout or controller timer, at most 1 s.
    func pollTimeout(now: UInt64) -> Int32 {
        var deadline = now &+ 1_000_000_000
        if let next = probes?.nextDeadline { deadline = min(deadline, next) }
        if let next = controller.nextDeadline()?.nanoseconds { deadline = min(deadline, next) }
        if let next = kernelMode?.retryAt { deadline = min(deadline, next) }
        guard deadline > now else { return 0 }
        // Round up: waking a little late is fine, waking early spins.
        return Int32((deadline - now + 999_999) / 1_000_000)
    }

    /// Sends the probes that are due, declares lost those that timed out, fires the controller's timers.
    func runHealthTimers() {
        let now = Forwarder.now()
        if let outcomes = probes?.fire(now: now) { handle(outcomes, at: now) }
        do {
            apply(try controller.advance(to: MonotonicInstant(nanoseconds: now), router: router))
        } catch {
            log.error("failover timers: \(error)")
        }
        if let retry = kernelMode?.retryAt, retry <= now { repairAndRefreshNexthops() }
    }

    /// Reads the answers on a readable probe socket.
    func readProbeAnswers(on descriptor: CInt) {
        let now = Forwarder.now()
        if let outcomes = probes?.readAnswers(on: descriptor, now: now) { handle(outcomes, at: now) }
    }

    func handle(_ outcomes: [ProbeOutcome], at now: UInt64) {
        for outcome in outcomes {
            let (tunnel, result): (TunnelID, ProbeResult) =
                switch outcome {
                case .answered(let tunnel, _): (tunnel, .success)
                case .lost(let tunnel): (tunnel, .failure(.timeout))
                case .unsent(let tunnel, let reason):
                    {
                        log.debug("probe of tunnel \(config.tunnels[tunnel.index].name) not sent: \(reason)")
                        return (tunnel, .failure(.error))
                    }()
                }
            do {
                apply(try controller.record(result, for: tunnel, at: MonotonicInstant(nanoseconds: now), router: router))
            } catch {
                log.error("health of tunnel \(config.tunnels[tunnel.index].name): \(error)")
            }
        }
    }

    /// Logs the controller's events; in kernel mode, puts a changed selection into the nexthop groups.
    func apply(_ events: [FailoverController.Event]) {
        guard !events.isEmpty else { return }
        var selectionChanged = false
        for event in events {
            if case .selectionChanged = event.event.kind { selectionChanged = true }
            log.info("event: " + eventJSON(event))
        }
        if selectionChanged && kernelMode != nil { repairAndRefreshNexthops() }
    }

    /// Kernel mode, after a selection change. A tunnel interface that loses its carrier makes the kernel delete the
    /// nexthop objects on it, and a group that loses its last member goes with the routes that use it. So: the
    /// tunnel nexthops that vanished come back (where their device is up again), the groups are brought to the
    /// new selection (one RTM_NEWNEXTHOP each), and the routes of vanished groups are put back.
    func repairAndRefreshNexthops() {
        guard let state = kernelMode else { return }
        do {
            let present = Set(try netlink.nexthops(protocol: config.linux.protocol).map(\.id))
            // Only the selected tunnels matter now; another comes back when it is selected.
            let selected = Set(router.configuration.connections.indices.compactMap {
                router.selectedTunnel(of: ConnectionID($0))
            }.flatMap { [KernelModeState.tunnelID($0, .ipv4), KernelModeState.tunnelID($0, .ipv6)] })
            let missingTunnels = tunnelNexthops(interfaces: Self.interfaceIndices(of: config))
                .filter { !present.contains($0.id) && selected.contains($0.id) }
            // A device still down refuses its nexthop: that tunnel carries nothing now anyway.
            let refused = try netlink.apply(nexthops: missingTunnels.map { .add($0, replace: true) })
            for failure in refused { log.warning("restoring a tunnel nexthop (retried in 1 s): \(failure)") }
            // What is there now: the present ones and those restored (a refusal names its nexthop's id).
            let refusedIDs = Set(missingTunnels.map(\.id).filter { id in refused.contains { $0.operation.contains("\(id)") } })
            kernelMode!.tunnels = present.union(missingTunnels.map(\.id)).subtracting(refusedIDs)
            kernelMode!.retryAt = nil
            let vanished = Set(state.groups.keys).subtracting(present)
            for id in vanished { kernelMode!.groups[id] = nil }
            if !vanished.isEmpty {
                for (prefix, target) in installedRemote {
                    guard case .nexthopObject(let id) = target, vanished.contains(id) else { continue }
                    installedRemote[prefix] = nil
                    unrouted.insert(prefix)
                }
                log.warning("the kernel removed \(vanished.count) nexthop group(s) with their routes; restoring them")
            }
            let failures = try refreshChainGroups(Set(state.groups.keys))
            for failure in failures { log.error("\(failure)") }
            if !unrouted.isEmpty { updateRemoteRoutes(unrouted) }
        } catch {
            log.error("updating nexthop groups after a failover: \(error)")
        }
    }

    /// One JSON object: when (wall clock), what, which connection and tunnel, why, and the tunnel's probe figures.
    func eventJSON(_ event: FailoverController.Event) -> String {
        let connection = config.connections[event.connection.index]
        let tunnel = config.tunnels[event.tunnel.index]
        let figures = probes?.statistics(of: event.tunnel) ?? ProbeStatistics()
        var fields: [(String, String)] = [
            ("time", JSONText.string(WallClock.rfc3339())),
            ("event", JSONText.string(event.event.kind.name)),
            ("connection", JSONText.string(connection.name)),
            ("tunnel", JSONText.string(tunnel.name)),
            ("role", JSONText.string("\(event.event.tunnel)")),
            ("reason", JSONText.string(event.event.reason.description)),
        ]
        if case .selectionChanged(let from, let to) = event.event.kind {
            func name(_ selection: TunnelSelection) -> String {
                switch selection {
                case .active: connection.active
                case .standby: connection.standby ?? "none"
                case .none: "none"
                }
            }
            fields.append(("from", JSONText.string(name(from))))
            fields.append(("to", JSONText.string(name(to))))
        }
        if case .heldDown(let until) = event.event.kind {
            fields.append(("held_for_ms", String((until - event.event.time).milliseconds)))
        }
        fields.append(
            ("probes",
             JSONText.object([
                ("sent", String(figures.sent)), ("answered", String(figures.answered)), ("lost", String(figures.lost)),
                ("late", String(figures.late)),
                ("last_rtt_ms", figures.lastRTT.map { JSONText.number($0.milliseconds) } ?? "null"),
                ("mean_rtt_ms", figures.meanRTT.map { JSONText.number($0.milliseconds) } ?? "null"),
                ("loss", JSONText.number(figures.lossRatio)),
             ])))
        return JSONText.object(fields)
    }
}

extension Duration {
    /// The duration in milliseconds, with fractions.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

/// The little JSON the event log writes: strings escaped per RFC 8259, numbers without exponents.
enum JSONText {
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        return String(format3(value))
    }

    /// Three decimals: enough for milliseconds, no exponent.
    private static func format3(_ value: Double) -> String {
        let scaled = (value * 1000).rounded()
        let integer = Int64(scaled)
        let sign = integer < 0 ? "-" : ""
        let magnitude = integer.magnitude
        let fraction = String(magnitude % 1000)
        return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// The wall clock, for log lines people correlate with other logs.
enum WallClock {
    /// Now as RFC 3339 in UTC with milliseconds: 2026-11-22T05:10:41.123Z.
    static func rfc3339() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(time.tv_nsec / 1_000_000)
        let millisText = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millisText)Z"
    }
}
