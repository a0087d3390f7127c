// The small vocabulary shared by the health state machine, the flap damper, the tunnel pair selector and the
// connection monitor that wires them.

/// Whether a tunnel can carry traffic.
public enum HealthState: Hashable, Sendable, CustomStringConvertible {
    /// The tunnel can carry traffic.
    case up
    /// The tunnel must not carry traffic.
    case down

    /// `up` or `down`, for logs.
    public var description: String {
        switch self {
        case .up: "up"
        case .down: "down"
        }
    }
}

/// Why a probe failed.
public enum ProbeFailure: Hashable, Sendable, CustomStringConvertible {
    /// No reply came in time.
    case timeout
    /// The probe could not be sent, or its reply was wrong (the probe driver logs the details).
    case error

    /// `timeout` or `error`, for logs.
    public var description: String {
        switch self {
        case .timeout: "timeout"
        case .error: "error"
        }
    }
}

/// The outcome of one health probe of a tunnel.
public enum ProbeResult: Hashable, Sendable {
    /// The tunnel answered the probe.
    case success
    /// The probe failed.
    case failure(ProbeFailure)
}

/// The role of a tunnel in its connection.
public enum TunnelRole: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The preferred tunnel; the only one in single-tunnel mode.
    case active
    /// The tunnel that carries traffic while the active one is down (dual-tunnel mode only).
    case standby

    /// `active` or `standby`, for logs.
    public var description: String {
        switch self {
        case .active: "active"
        case .standby: "standby"
        }
    }
}

/// Which tunnel of a connection carries its traffic.
public enum TunnelSelection: Hashable, Sendable, CustomStringConvertible {
    /// The active tunnel.
    case active
    /// The standby tunnel.
    case standby
    /// Neither: every tunnel is down, and the connection leaves its ECMP groups.
    case none

    /// `active`, `standby` or `none`, for logs.
    public var description: String {
        switch self {
        case .active: "active"
        case .standby: "standby"
        case .none: "none"
        }
    }
}

/// How many tunnels a connection has.
public enum TunnelMode: Hashable, Sendable {
    /// One tunnel, in the ``TunnelRole/active`` role.
    case single
    /// An active and a standby tunnel.
    case dual
}
