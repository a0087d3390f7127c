// What the connection monitor reports: one value per change, with every field a JSON log line needs, and a short
// line for people.

/// A change in a connection's tunnels: health, hold-down or the selected tunnel.
public struct MonitorEvent: Hashable, Sendable, CustomStringConvertible {
    /// What changed.
    public enum Kind: Hashable, Sendable, CustomStringConvertible {
        /// The tunnel's health state went up.
        case healthUp
        /// The tunnel's health state went down.
        case healthDown
        /// Flap damping holds the tunnel down until the instant given (a new hold, or a restarted penalty).
        case heldDown(until: MonotonicInstant)
        /// The tunnel's hold-down ended.
        case released
        /// The tunnel that carries the connection's traffic changed.
        case selectionChanged(from: TunnelSelection, to: TunnelSelection)
        /// The tunnel's interface went down (carrier lost, admin down, deleted).
        case linkDown
        /// The tunnel's interface came up again.
        case linkUp
        /// An operator drained the tunnel: down for selection, its probes go on.
        case drained
        /// An operator undrained the tunnel.
        case undrained

        /// The kind's name for structured logs: `healthUp`, `healthDown`, `heldDown`, `released`,
        /// `selectionChanged`, `linkDown`, `linkUp`, `drained`, `undrained`.
        public var name: String {
            switch self {
            case .healthUp: "healthUp"
            case .healthDown: "healthDown"
            case .heldDown: "heldDown"
            case .released: "released"
            case .selectionChanged: "selectionChanged"
            case .linkDown: "linkDown"
            case .linkUp: "linkUp"
            case .drained: "drained"
            case .undrained: "undrained"
            }
        }

        /// The kind as words, such as "held down until 30.060s" or "switch active -> standby".
        public var description: String {
            switch self {
            case .healthUp: "health up"
            case .healthDown: "health down"
            case .heldDown(let until): "held down until \(until)"
            case .released: "released"
            case .selectionChanged(let from, let to): "switch \(from) -> \(to)"
            case .linkDown: "link down"
            case .linkUp: "link up"
            case .drained: "drained"
            case .undrained: "undrained"
            }
        }
    }

    /// When it happened (for a timer, the instant the timer expired).
    public let time: MonotonicInstant
    /// The tunnel it is about; for a selection change, the tunnel whose state or preempt delay caused it.
    public let tunnel: TunnelRole
    /// What changed.
    public let kind: Kind
    /// Why; its description is the text for the log.
    public let reason: ChangeReason

    /// Makes an event.
    public init(time: MonotonicInstant, tunnel: TunnelRole, kind: Kind, reason: ChangeReason) {
        self.time = time
        self.tunnel = tunnel
        self.kind = kind
        self.reason = reason
    }

    /// One line, such as "0.060s [active] switch active -> standby: active tunnel down".
    public var description: String { "\(time) [\(tunnel)] \(kind): \(reason)" }
}
