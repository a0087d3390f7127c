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
            switch outcome {
            case .answered(let tunnel, let rtt): metrics.recordProbe(tunnel: config.tunnels[tunnel.index].name, rtt: rtt)
            case .lost(let tunnel), .unsent(let tunnel, _):
                metrics.recordProbe(tunnel: config.tunnels[tunnel.index].name, rtt: nil)
            }
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
            if case .selectionChanged = event.event.kind {
                selectionChanged = true
                metrics.recordFailover(connection: config.connections[event.connection.index].name)
            }
            log.event(event.event.kind.name, eventFields(event))
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

    /// An event's fields: which connection and tunnel, why, and the tunnel's probe figures (the log adds the wall
    /// clock time and the event's name).
    func eventFields(_ event: FailoverController.Event) -> [(String, JSONValue)] {
        let connection = config.connections[event.connection.index]
        let tunnel = config.tunnels[event.tunnel.index]
        let figures = probes?.statistics(of: event.tunnel) ?? ProbeStatistics()
        var fields: [(String, JSONValue)] = [
            ("connection", .string(connection.name)),
            ("tunnel", .string(tunnel.name)),
            ("role", .string("\(event.event.tunnel)")),
            ("reason", .string(event.event.reason.description)),
        ]
        if case .selectionChanged(let from, let to) = event.event.kind {
            func name(_ selection: TunnelSelection) -> String {
                switch selection {
                case .active: connection.active
                case .standby: connection.standby ?? "none"
                case .none: "none"
                }
            }
            fields.append(("from", .string(name(from))))
            fields.append(("to", .string(name(to))))
        }
        if case .heldDown(let until) = event.event.kind {
            fields.append(("held_for_ms", .number((until - event.event.time).milliseconds)))
        }
        fields.append(
            ("probes",
             .object([
                ("sent", .integer(Int64(figures.sent))), ("answered", .integer(Int64(figures.answered))),
                ("lost", .integer(Int64(figures.lost))), ("late", .integer(Int64(figures.late))),
                ("last_rtt_ms", figures.lastRTT.map { .number($0.milliseconds) } ?? .null),
                ("mean_rtt_ms", figures.meanRTT.map { .number($0.milliseconds) } ?? .null),
                ("loss", .number(figures.lossRatio)),
             ])))
        return fields
    }
}

extension Duration {
    /// The duration in milliseconds, with fractions.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
