// A tunnel that keeps bouncing is worse than one that stays down: every bounce moves traffic twice. Damping holds
// such a tunnel down until it has been quiet for a while.

/// When a flapping tunnel is held down, and for how long.
public struct DampingPolicy: Hashable, Sendable {
    /// Flaps tolerated within ``window`` (K); one more holds the tunnel down.
    public let maxFlaps: Int
    /// The sliding window in which flaps are counted.
    public let window: Duration
    /// How long a held tunnel stays down after its last flap.
    public let penalty: Duration

    /// Makes a policy. The configuration validates the values: `maxFlaps` at least 0 (0 holds on every flap),
    /// `window` and `penalty` positive.
    ///
    /// - Parameters:
    ///   - maxFlaps: Flaps tolerated within `window`.
    ///   - window: The sliding window in which flaps are counted.
    ///   - penalty: How long a held tunnel stays down after its last flap.
    public init(maxFlaps: Int, window: Duration, penalty: Duration) {
        precondition(maxFlaps >= 0, "damping maxFlaps must not be negative")
        precondition(window > .zero && penalty > .zero, "damping window and penalty must be positive")
        self.maxFlaps = maxFlaps
        self.window = window
        self.penalty = penalty
    }
}

/// A change of a tunnel's hold-down.
public struct DampingChange: Hashable, Sendable {
    /// What happened.
    public enum Kind: Hashable, Sendable {
        /// The tunnel is held down until the instant given (a new hold, or a restarted penalty).
        case heldDown(until: MonotonicInstant)
        /// The hold-down ended.
        case released
    }

    /// When it happened: the flap, or the end of the penalty.
    public let time: MonotonicInstant
    /// What happened.
    public let kind: Kind
    /// Why.
    public let reason: ChangeReason
}

/// Flap damping for one tunnel.
///
/// A *flap* is an up-to-down transition of the tunnel's health state: it is the transition that moves traffic
/// away, and counting only it makes one bounce (down, then up) one flap. A tunnel that starts down and comes up
/// has not flapped.
///
/// When a flap makes more than ``DampingPolicy/maxFlaps`` flaps within the last ``DampingPolicy/window`` (the
/// newest K+1 flaps span less than the window), the tunnel is *held down* for ``DampingPolicy/penalty``. Every
/// flap while held restarts the penalty, so a tunnel that keeps flapping stays held; it is released `penalty`
/// after its last flap. The flap history is not cleared by a hold: a released tunnel whose newest K+1 flaps still
/// fall within the window is held again by its next flap.
public struct FlapDamper: Sendable {
    /// The damping parameters.
    public let policy: DampingPolicy
    /// When the hold-down ends, while the tunnel is held down.
    public private(set) var heldUntil: MonotonicInstant?
    private var history: FlapHistory
    // The latest instant seen: an earlier one from a misbehaving driver is taken as this one.
    private var now = MonotonicInstant.zero

    /// Makes a damper with no flap history, not holding.
    public init(policy: DampingPolicy) {
        self.policy = policy
        self.history = FlapHistory(capacity: policy.maxFlaps + 1)
    }

    /// Whether the tunnel is held down: its effective state is down whatever its health says.
    public var isHeldDown: Bool { heldUntil != nil }

    /// When ``advance(to:)`` must next be called: the end of the hold-down, if any.
    public var nextDeadline: MonotonicInstant? { heldUntil }

    /// Observes a health transition of the tunnel; only up-to-down transitions (flaps) count.
    ///
    /// Call ``advance(to:)`` with the transition's time first, so that a hold that has expired is released.
    ///
    /// - Parameter transition: The tunnel's health transition.
    /// - Returns: The hold-down it starts or restarts, if any.
    public mutating func observe(_ transition: HealthTransition) -> DampingChange? {
        guard transition.from == .up, transition.to == .down else { return nil }
        now = max(now, transition.time)
        if let until = heldUntil, until <= now { heldUntil = nil }
        history.append(now)
        let reason: ChangeReason
        if heldUntil != nil {
            reason = .flappedWhileHeld(penalty: policy.penalty)
        } else if history.isFull, let oldest = history.oldest, now - oldest < policy.window {
            reason = .tooManyFlaps(limit: policy.maxFlaps, window: policy.window)
        } else {
            return nil
        }
        let until = now + policy.penalty
        heldUntil = until
        return DampingChange(time: now, kind: .heldDown(until: until), reason: reason)
    }

    /// Moves time on to `instant`, ending a hold-down whose penalty has passed.
    ///
    /// - Parameter instant: The current time; an instant earlier than one already seen counts as no time passed.
    /// - Returns: The release, stamped with the instant the penalty ended, if the hold ended.
    public mutating func advance(to instant: MonotonicInstant) -> DampingChange? {
        now = max(now, instant)
        guard let until = heldUntil, until <= now else { return nil }
        heldUntil = nil
        return DampingChange(time: until, kind: .released, reason: .penaltyServed(penalty: policy.penalty))
    }
}

/// The newest flap instants, at most `capacity` of them, in a ring allocated once.
struct FlapHistory: Sendable {
    private var times: [MonotonicInstant]
    // Where the next instant goes; when the ring is full, also where the oldest one is.
    private var next = 0
    private(set) var count = 0

    /// Makes an empty history that keeps the newest `capacity` instants.
    init(capacity: Int) {
        times = Array(repeating: .zero, count: capacity)
    }

    /// Whether the history holds `capacity` instants.
    var isFull: Bool { count == times.count }

    /// The oldest instant kept.
    var oldest: MonotonicInstant? {
        if count == 0 { return nil }
        return isFull ? times[next] : times[0]
    }

    /// Adds the newest instant, dropping the oldest one when full.
    mutating func append(_ instant: MonotonicInstant) {
        times[next] = instant
        next = next + 1 == times.count ? 0 : next + 1
        count = min(count + 1, times.count)
    }
}
