// Failover is immediate, failback waits: a tunnel that just came back has not yet shown it will stay up, and every
// switch costs the flows on the connection a moment of loss.

/// A change of the tunnel that carries a connection's traffic.
public struct SelectionChange: Hashable, Sendable {
    /// When the change happened.
    public let time: MonotonicInstant
    /// The tunnel that carried traffic before.
    public let from: TunnelSelection
    /// The tunnel that carries traffic now.
    public let to: TunnelSelection
    /// The tunnel whose state (or preempt delay) caused the change.
    public let cause: TunnelRole
    /// Why.
    public let reason: ChangeReason

    /// The same change with another reason (a tunnel down because of its link, or drained).
    func because(_ reason: ChangeReason) -> SelectionChange {
        SelectionChange(time: time, from: from, to: to, cause: cause, reason: reason)
    }
}

/// Chooses the tunnel that carries a connection's traffic from the effective states of its tunnels.
///
/// In dual-tunnel mode: the active tunnel while it is up; the standby at once when the active goes down; back to
/// the active once it has been up without a break for the preempt delay (revertive, with a hold time; a delay of
/// zero fails back at once), or never (non-revertive, keepalived's `nopreempt`: a nil delay; traffic stays on the
/// standby until it fails). If the standby goes down while the active is up (waiting out the delay or not),
/// traffic goes to the active at once. With both down, nothing is selected; the first tunnel to come up is taken,
/// the active one first if both come up together. In single-tunnel mode: the active tunnel while it is up, else
/// nothing; the standby role is ignored.
public struct TunnelPairSelector: Sendable {
    /// One or two tunnels.
    public let mode: TunnelMode
    /// How long the active tunnel must stay up before traffic goes back to it from the standby; nil: never.
    public let preemptDelay: Duration?
    /// The tunnel that carries traffic.
    public private(set) var selected: TunnelSelection
    private var activeUp: Bool
    private var standbyUp: Bool
    // When the active tunnel last came up; the preempt delay runs from here.
    private var activeUpSince: MonotonicInstant
    // The latest instant seen: an earlier one from a misbehaving driver is taken as this one.
    private var now: MonotonicInstant

    /// Makes a selector and selects from the initial states: the active tunnel if up, else the standby if up.
    ///
    /// - Parameters:
    ///   - mode: One or two tunnels.
    ///   - preemptDelay: How long the active tunnel must stay up before traffic fails back to it (at least zero);
    ///     nil: traffic stays on the standby while it is up.
    ///   - active: The effective state of the active tunnel.
    ///   - standby: The effective state of the standby tunnel; ignored in single-tunnel mode.
    ///   - instant: The current time.
    public init(
        mode: TunnelMode, preemptDelay: Duration?, active: HealthState, standby: HealthState = .down,
        at instant: MonotonicInstant
    ) {
        precondition((preemptDelay ?? .zero) >= .zero, "preempt delay must not be negative")
        self.mode = mode
        self.preemptDelay = preemptDelay
        self.activeUp = active == .up
        self.standbyUp = mode == .dual && standby == .up
        self.activeUpSince = instant
        self.now = instant
        self.selected = activeUp ? .active : standbyUp ? .standby : .none
    }

    /// The effective state of the tunnel with `role`, as last given (the standby is down in single-tunnel mode).
    public func state(of role: TunnelRole) -> HealthState {
        switch role {
        case .active: activeUp ? .up : .down
        case .standby: standbyUp ? .up : .down
        }
    }

    /// When ``advance(to:)`` must next be called: the end of the preempt delay while waiting to fail back.
    public var nextDeadline: MonotonicInstant? {
        guard selected == .standby, activeUp, let preemptDelay else { return nil }
        return activeUpSince + preemptDelay
    }

    /// Gives the new effective state of one tunnel.
    ///
    /// Call ``advance(to:)`` with the same instant first, so that a failback already due happens at its deadline.
    ///
    /// - Parameters:
    ///   - role: The tunnel; `.standby` is ignored in single-tunnel mode.
    ///   - state: Its effective state.
    ///   - instant: The current time; an instant earlier than one already seen counts as no time passed.
    /// - Returns: The change of selection, if any.
    public mutating func update(_ role: TunnelRole, to state: HealthState, at instant: MonotonicInstant)
        -> SelectionChange?
    {
        now = max(now, instant)
        let up = state == .up
        switch role {
        case .active:
            guard up != activeUp else { return nil }
            activeUp = up
            if up { activeUpSince = now }
        case .standby:
            guard mode == .dual, up != standbyUp else { return nil }
            standbyUp = up
        }
        return reselect(at: now, cause: role)
    }

    /// Moves time on to `instant`, failing back to the active tunnel if its preempt delay has passed.
    ///
    /// - Parameter instant: The current time; an instant earlier than one already seen counts as no time passed.
    /// - Returns: The change of selection, stamped with the instant the delay ended, if any.
    public mutating func advance(to instant: MonotonicInstant) -> SelectionChange? {
        now = max(now, instant)
        guard let deadline = nextDeadline, deadline <= now else { return nil }
        return reselect(at: deadline, cause: .active)
    }

    /// Moves traffic back to the active tunnel at once if it is up and the standby carries it, whatever the preempt
    /// delay (an operator's undrain).
    ///
    /// - Returns: The change of selection, if any.
    public mutating func preferActive(at instant: MonotonicInstant, reason: ChangeReason) -> SelectionChange? {
        now = max(now, instant)
        guard selected == .standby, activeUp else { return nil }
        let change = SelectionChange(time: now, from: selected, to: .active, cause: .active, reason: reason)
        selected = .active
        return change
    }

    private mutating func reselect(at time: MonotonicInstant, cause: TunnelRole) -> SelectionChange? {
        let next: TunnelSelection
        let reason: ChangeReason
        switch selected {
        case .active where !activeUp:
            (next, reason) = (standbyUp ? .standby : .none, .tunnelDown(.active))
        case .standby where !standbyUp:
            (next, reason) = (activeUp ? .active : .none, .tunnelDown(.standby))
        case .standby where activeUp && preemptDelay.map({ activeUpSince + $0 <= time }) ?? false:
            (next, reason) = (.active, .preemptDelayElapsed(preemptDelay!))
        case .none where activeUp || standbyUp:
            (next, reason) = (activeUp ? .active : .standby, .tunnelUp(activeUp ? .active : .standby))
        default:
            return nil
        }
        let change = SelectionChange(time: time, from: selected, to: next, cause: cause, reason: reason)
        selected = next
        return change
    }
}
