// The one object a health-check driver talks to per connection: it feeds probe results and the clock in, and gets
// back the events to log and the tunnel to route through.

/// The health settings of one tunnel of a connection.
public struct TunnelHealthSettings: Hashable, Sendable {
    /// The counts that change the tunnel's health state.
    public var health: HealthCheckPolicy
    /// Flap damping, or nil for none.
    public var damping: DampingPolicy?
    /// The health state before the first probe: `.up` for a tunnel without health checks, which is taken as up;
    /// a driver with probes may start it `.down` so that it must prove itself.
    public var initial: HealthState
    /// Whether probes drive the tunnel's health. Without them, a tunnel whose link comes back is up again at once
    /// (nothing else would bring it up); with them, its probes must show it up first.
    public var probed: Bool

    /// Makes the settings.
    public init(
        health: HealthCheckPolicy, damping: DampingPolicy? = nil, initial: HealthState = .up, probed: Bool = true
    ) {
        self.health = health
        self.damping = damping
        self.initial = initial
        self.probed = probed
    }
}

/// The tunnels of a connection, each with its own health settings.
public enum ConnectionTunnels: Hashable, Sendable {
    /// One tunnel, in the active role.
    case single(TunnelHealthSettings)
    /// An active and a standby tunnel.
    case dual(active: TunnelHealthSettings, standby: TunnelHealthSettings)
}

/// The health of a connection's tunnels and the choice of the one that carries its traffic.
///
/// Each tunnel has a ``HealthStateMachine`` fed by its probe results and, optionally, a ``FlapDamper``; its
/// *effective* state is its health state, except down while held down or while its link is down. A tunnel whose
/// link goes down (``setLink(up:for:at:)``) is down at once, without waiting for probes; when the link comes back, its
/// probes must bring it up (the up-count, then the preempt delay), or, without probes, it is up at once. A drained
/// tunnel (``setDrained(_:for:at:)``) is down for selection whatever its health, and its probes go on. A
/// ``TunnelPairSelector`` picks the tunnel from the *selectable* states: effective, and not drained. The monitor never reads a clock: every call carries the time, and the driver calls
/// ``advance(to:)`` at ``nextDeadline()`` for the timers (hold-down release, preempt delay). Time that goes
/// backwards is taken as no time passed.
public struct ConnectionMonitor: Sendable {
    private var active: TunnelTrack
    private var standby: TunnelTrack?
    private var selector: TunnelPairSelector
    // The latest instant seen: an earlier one from a misbehaving driver is taken as this one.
    private var now: MonotonicInstant

    /// Makes a monitor with each tunnel in its initial state and the selection made from those states.
    ///
    /// - Parameters:
    ///   - tunnels: The connection's tunnels and their health settings.
    ///   - preemptDelay: How long the active tunnel must stay up before traffic fails back to it (at least zero);
    ///     nil: never (non-revertive).
    ///   - instant: The current time.
    public init(tunnels: ConnectionTunnels, preemptDelay: Duration?, at instant: MonotonicInstant) {
        switch tunnels {
        case .single(let settings):
            active = TunnelTrack(settings)
            standby = nil
        case .dual(let activeSettings, let standbySettings):
            active = TunnelTrack(activeSettings)
            standby = TunnelTrack(standbySettings)
        }
        selector = TunnelPairSelector(
            mode: standby == nil ? .single : .dual, preemptDelay: preemptDelay, active: active.selectable,
            standby: standby?.selectable ?? .down, at: instant)
        now = instant
    }

    /// Makes a monitor whose tunnels share one set of health settings.
    ///
    /// - Parameters:
    ///   - mode: One or two tunnels.
    ///   - health: The counts that change each tunnel's health state.
    ///   - damping: Flap damping for each tunnel, or nil for none.
    ///   - preemptDelay: How long the active tunnel must stay up before traffic fails back to it (at least zero).
    ///   - initial: The health state of each tunnel before its first probe.
    ///   - instant: The current time.
    public init(
        mode: TunnelMode, health: HealthCheckPolicy, damping: DampingPolicy?, preemptDelay: Duration?,
        initial: HealthState = .up, at instant: MonotonicInstant
    ) {
        let settings = TunnelHealthSettings(health: health, damping: damping, initial: initial)
        let tunnels: ConnectionTunnels =
            mode == .single ? .single(settings) : .dual(active: settings, standby: settings)
        self.init(tunnels: tunnels, preemptDelay: preemptDelay, at: instant)
    }

    /// One or two tunnels.
    public var mode: TunnelMode { selector.mode }

    /// The tunnel that carries the connection's traffic.
    public var selected: TunnelSelection { selector.selected }

    /// The state routing uses for the tunnel: its health state, or down while held down. The standby of a
    /// single-tunnel connection is down.
    public func effectiveState(of role: TunnelRole) -> HealthState { track(role)?.effective ?? .down }

    /// The state the selector uses: the effective state, or down while drained.
    public func selectableState(of role: TunnelRole) -> HealthState { track(role)?.selectable ?? .down }

    /// Whether the tunnel's interface is down (as last reported).
    public func isLinkDown(_ role: TunnelRole) -> Bool { track(role)?.linkDown ?? false }

    /// Whether an operator drained the tunnel.
    public func isDrained(_ role: TunnelRole) -> Bool { track(role)?.drained ?? false }

    /// The tunnel's health state from its probes alone, ignoring damping.
    public func healthState(of role: TunnelRole) -> HealthState { track(role)?.health.state ?? .down }

    /// When the tunnel's hold-down ends, while it is held down.
    public func heldUntil(of role: TunnelRole) -> MonotonicInstant? { track(role)?.damper?.heldUntil }

    /// When the driver must next call ``advance(to:)``; nil when no timer is pending.
    ///
    /// At this instant, ``advance(to:)`` produces at least one event; before it, none.
    public func nextDeadline() -> MonotonicInstant? {
        // No array of candidates: this runs on every probe result and must not allocate.
        earlier(earlier(active.damper?.heldUntil, standby?.damper?.heldUntil), selector.nextDeadline)
    }

    /// Records a probe result for one tunnel.
    ///
    /// Timers due by `instant` fire first, so the events come in time order even if the driver was late to call
    /// ``advance(to:)``. In steady state (no change) the result is an empty array, which does not allocate.
    ///
    /// - Parameters:
    ///   - result: The probe's outcome.
    ///   - role: The tunnel probed; `.standby` is ignored in single-tunnel mode.
    ///   - instant: When the result arrived.
    /// - Returns: The changes, in order: due timers, then health, hold-down and selection.
    public mutating func record(_ result: ProbeResult, for role: TunnelRole, at instant: MonotonicInstant)
        -> [MonitorEvent]
    {
        var events = advance(to: instant)
        let time = now
        switch role {
        case .active: active.record(result, role: .active, at: time, into: &events)
        case .standby: standby?.record(result, role: .standby, at: time, into: &events)
        }
        if let state = track(role)?.selectable, let change = selector.update(role, to: state, at: time) {
            events.append(MonitorEvent(change))
        }
        return events
    }

    /// Records the state of the tunnel's interface: down (carrier lost, admin down, deleted) takes the tunnel down
    /// at once and moves traffic to the other tunnel; up lets its probes bring it up (with a fresh up-count), or
    /// brings a tunnel without probes up at once. A state already known changes nothing.
    ///
    /// - Parameters:
    ///   - up: Whether the link can carry traffic.
    ///   - role: The tunnel; `.standby` is ignored in single-tunnel mode.
    ///   - instant: When the notification arrived.
    /// - Returns: The changes, in order: due timers, then link, health, hold-down and selection.
    public mutating func setLink(up: Bool, for role: TunnelRole, at instant: MonotonicInstant) -> [MonitorEvent] {
        var events = advance(to: instant)
        let time = now
        guard let current = track(role), current.linkDown == up else { return events }
        let reason: ChangeReason = up ? .linkUp(role) : .linkDown(role)
        events.append(MonitorEvent(time: time, tunnel: role, kind: up ? .linkUp : .linkDown, reason: reason))
        modify(role) { $0.setLink(up: up, role: role, at: time, into: &events) }
        if let state = self.track(role)?.selectable, let change = selector.update(role, to: state, at: time) {
            events.append(MonitorEvent(up ? change : change.because(reason)))
        }
        return events
    }

    /// Drains or undrains a tunnel. Drained, it is down for selection (traffic moves to the other tunnel at once)
    /// while its probes go on. Undrained, it is selectable again at once if up; an undrained active tunnel takes
    /// the traffic back at once, without the preempt delay and even when failback is off: an operator asked.
    ///
    /// - Returns: The changes: the drain itself, then the selection.
    public mutating func setDrained(_ drained: Bool, for role: TunnelRole, at instant: MonotonicInstant)
        -> [MonitorEvent]
    {
        var events = advance(to: instant)
        let time = now
        guard let current = track(role), current.drained != drained else { return events }
        let reason: ChangeReason = drained ? .drained(role) : .undrained(role)
        events.append(MonitorEvent(time: time, tunnel: role, kind: drained ? .drained : .undrained, reason: reason))
        modify(role) { $0.drained = drained }
        if let state = self.track(role)?.selectable, let change = selector.update(role, to: state, at: time) {
            events.append(MonitorEvent(drained ? change.because(reason) : change))
        }
        if !drained, role == .active, let change = selector.preferActive(at: time, reason: reason) {
            events.append(MonitorEvent(change))
        }
        return events
    }

    /// Moves time on to `instant`, firing the timers due by then (hold-down releases, the preempt delay) in order.
    ///
    /// - Parameter instant: The current time; an instant earlier than one already seen counts as no time passed.
    /// - Returns: The changes, each stamped with the instant its timer expired.
    public mutating func advance(to instant: MonotonicInstant) -> [MonitorEvent] {
        now = max(now, instant)
        var events: [MonitorEvent] = []
        while let deadline = nextDeadline(), deadline <= now {
            // Releases first: a tunnel released at the same instant as a preempt timer is seen by the selector.
            if active.damper?.heldUntil == deadline {
                release(.active, at: deadline, into: &events)
            } else if standby?.damper?.heldUntil == deadline {
                release(.standby, at: deadline, into: &events)
            } else if let change = selector.advance(to: deadline) {
                events.append(MonitorEvent(change))
            } else {
                break  // Unreachable: every deadline belongs to a timer that fires. Guards against a busy loop.
            }
        }
        return events
    }

    private mutating func release(
        _ role: TunnelRole, at deadline: MonotonicInstant, into events: inout [MonitorEvent]
    ) {
        let change: DampingChange?
        switch role {
        case .active: change = active.damper?.advance(to: deadline)
        case .standby: change = standby?.damper?.advance(to: deadline)
        }
        if let change { events.append(MonitorEvent(change, tunnel: role)) }
        if let state = track(role)?.selectable, let selection = selector.update(role, to: state, at: deadline) {
            events.append(MonitorEvent(selection))
        }
    }

    private func earlier(_ lhs: MonotonicInstant?, _ rhs: MonotonicInstant?) -> MonotonicInstant? {
        guard let lhs else { return rhs }
        guard let rhs else { return lhs }
        return min(lhs, rhs)
    }

    private func track(_ role: TunnelRole) -> TunnelTrack? {
        switch role {
        case .active: active
        case .standby: standby
        }
    }

    private mutating func modify(_ role: TunnelRole, _ body: (inout TunnelTrack) -> Void) {
        switch role {
        case .active: body(&active)
        case .standby: if standby != nil { body(&standby!) }
        }
    }
}

/// One tunnel's health state machine and flap damper.
private struct TunnelTrack: Sendable {
    var health: HealthStateMachine
    var damper: FlapDamper?
    let probed: Bool
    /// The interface is down: the tunnel is down whatever its probes say.
    var linkDown = false
    /// An operator drained it: down for selection, health as usual.
    var drained = false

    init(_ settings: TunnelHealthSettings) {
        health = HealthStateMachine(policy: settings.health, initial: settings.initial)
        damper = settings.damping.map(FlapDamper.init(policy:))
        probed = settings.probed
    }

    /// Down while held down or while the link is down, else the health state.
    var effective: HealthState { damper?.isHeldDown == true || linkDown ? .down : health.state }

    /// What the selector sees: the effective state, or down while drained.
    var selectable: HealthState { drained ? .down : effective }

    /// Feeds a probe result to the health machine and its transition, if any, to the damper. While the link is down
    /// a success does not count towards the up-count: the count starts when the link is back.
    mutating func record(
        _ result: ProbeResult, role: TunnelRole, at time: MonotonicInstant, into events: inout [MonitorEvent]
    ) {
        if linkDown {
            _ = health.force(to: .down, at: time, reason: .linkDown(role))
            return
        }
        guard let transition = health.record(result, at: time) else { return }
        observe(transition, role: role, into: &events)
    }

    /// Link down: health down at once (the count of successes starts afresh). Link up: a tunnel without probes is
    /// up at once; one with probes waits for them.
    mutating func setLink(up: Bool, role: TunnelRole, at time: MonotonicInstant, into events: inout [MonitorEvent]) {
        linkDown = !up
        guard !up || !probed else { return }
        let reason: ChangeReason = up ? .linkUp(role) : .linkDown(role)
        if let transition = health.force(to: up ? .up : .down, at: time, reason: reason) {
            observe(transition, role: role, into: &events)
        }
    }

    private mutating func observe(
        _ transition: HealthTransition, role: TunnelRole, into events: inout [MonitorEvent]
    ) {
        events.append(
            MonitorEvent(
                time: transition.time, tunnel: role, kind: transition.to == .up ? .healthUp : .healthDown,
                reason: transition.reason))
        if let change = damper?.observe(transition) { events.append(MonitorEvent(change, tunnel: role)) }
    }
}

extension MonitorEvent {
    fileprivate init(_ change: SelectionChange) {
        self.init(
            time: change.time, tunnel: change.cause, kind: .selectionChanged(from: change.from, to: change.to),
            reason: change.reason)
    }

    fileprivate init(_ change: DampingChange, tunnel: TunnelRole) {
        let kind: Kind
        switch change.kind {
        case .heldDown(let until): kind = .heldDown(until: until)
        case .released: kind = .released
        }
        self.init(time: change.time, tunnel: tunnel, kind: kind, reason: change.reason)
    }
}
