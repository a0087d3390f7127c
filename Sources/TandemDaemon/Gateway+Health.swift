// Health checks drive failover: each probe outcome (the daemon's HealthProbes measure them) goes to the failover
// controller, whose events (a tunnel's health went down or up, it is held down, the connection's traffic moved) are
// applied to the router at once and written to the log as one JSON line each, with the reason and the probe figures. Userspace mode needs nothing more (the
// pipeline reads the router's plane); kernel mode replaces the nexthop groups of the chains concerned, one
// RTM_NEWNEXTHOP each, whatever the table size.

import TandemConfig
import TandemJSON
import TandemLinux
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Gateway {
    /// When ``tick()`` must run next: the controller's next timer, a retry of refused changes, kernel mode's repair,
    /// a resync's next batch.
    var nextDeadline: UInt64? {
        [controller.nextDeadline()?.nanoseconds, state.pending.retryAt, state.kernelMode?.retryAt, learningDeadline]
            .compactMap { $0 }.min()
    }

    var controller: FailoverController { state.controller }

    /// Fires the controller's timers (preempt delay, damping), retries refused changes, repairs kernel mode, applies
    /// a resync's next batch.
    func tick() {
        let now = self.now
        do {
            apply(try state.controller.advance(to: MonotonicInstant(nanoseconds: now), router: router))
        } catch {
            log.error("failover timers: \(error)")
        }
        if let retry = state.kernelMode?.retryAt, retry <= now { repairAndRefreshNexthops() }
        retryPending()
        continueResync()
    }

    /// Probe outcomes measured at `now` (monotonic nanoseconds) go to the failover controller.
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
                apply(
                    try state.controller.record(
                        result, for: tunnel, at: MonotonicInstant(nanoseconds: now), router: router))
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
            if case .selectionChanged(let from, let to) = event.event.kind {
                selectionChanged = true
                let connection = config.connections[event.connection.index]
                metrics.recordFailover(connection: connection.name)
                onFailover(connection.name, Self.tunnelName(from, of: connection), Self.tunnelName(to, of: connection))
            }
            log.event(event.event.kind.name, eventFields(event))
        }
        if selectionChanged && state.kernelMode != nil { repairAndRefreshNexthops() }
    }

    /// An event's fields: which connection and tunnel, why, and the tunnel's probe figures (the log adds the wall
    /// clock time and the event's name).
    func eventFields(_ event: FailoverController.Event) -> [(String, JSONValue)] {
        let connection = config.connections[event.connection.index]
        let tunnel = config.tunnels[event.tunnel.index]
        let figures = probeFigures(event.tunnel)
        var fields: [(String, JSONValue)] = [
            ("connection", .string(connection.name)),
            ("tunnel", .string(tunnel.name)),
            ("role", .string("\(event.event.tunnel)")),
            ("reason", .string(event.event.reason.description)),
        ]
        if case .selectionChanged(let from, let to) = event.event.kind {
            fields.append(("from", .string(Self.tunnelName(from, of: connection))))
            fields.append(("to", .string(Self.tunnelName(to, of: connection))))
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

extension Gateway {
    /// The tunnel a selection names in `connection`, or "none".
    static func tunnelName(_ selection: TunnelSelection, of connection: GatewayConfig.Connection) -> String {
        switch selection {
        case .active: connection.active
        case .standby: connection.standby ?? "none"
        case .none: "none"
        }
    }
}
