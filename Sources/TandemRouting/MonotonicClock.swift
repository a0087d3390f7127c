// Time for the control path: health checks, preempt delays, damping. Pure logic takes the time as an
// argument; drivers read it from a clock, which tests replace with a manual one.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A point on a monotonic time line, in nanoseconds from an arbitrary origin (for the system clock, boot).
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: UInt64

    /// Makes an instant from nanoseconds since the clock's origin.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The origin of the time line.
    public static let zero = MonotonicInstant(nanoseconds: 0)

    /// The instant `duration` later (or earlier, for a negative duration; clamped at the origin).
    public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        let delta = rhs.totalNanoseconds
        if delta >= 0 { return MonotonicInstant(nanoseconds: lhs.nanoseconds &+ UInt64(delta)) }
        let back = UInt64(-delta)
        return MonotonicInstant(nanoseconds: lhs.nanoseconds > back ? lhs.nanoseconds - back : 0)
    }

    /// The time from `rhs` to `lhs`.
    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration {
        .nanoseconds(Int64(bitPattern: lhs.nanoseconds &- rhs.nanoseconds))
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Seconds with millisecond precision, for logs.
    public var description: String {
        let millis = nanoseconds / 1_000_000
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating at the bounds of Int64).
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}

/// A source of monotonic time. The routing logic never reads a clock itself: the caller passes the time, read
/// from a clock like this one, so that tests drive it with ``ManualClock``.
public protocol MonotonicClock: Sendable {
    /// The current instant.
    func now() -> MonotonicInstant
}

/// The system's monotonic clock (`CLOCK_MONOTONIC`: steady, not changed by NTP steps, stopped in suspend).
public struct SystemMonotonicClock: MonotonicClock {
    /// Makes the clock.
    public init() {}

    /// The current instant. The corresponding C function is `clock_gettime(CLOCK_MONOTONIC)`.
    public func now() -> MonotonicInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return MonotonicInstant(nanoseconds: UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec))
    }
}

/// A clock that moves only when told to: for tests and for replaying captures at capture time.
public final class ManualClock: MonotonicClock {
    private let current: Mutex<MonotonicInstant>

    /// Makes a clock standing at `start`.
    public init(start: MonotonicInstant = .zero) { current = Mutex(start) }

    /// The current instant.
    public func now() -> MonotonicInstant { current.withLock { $0 } }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }

    /// Sets the clock to `instant` (which may be earlier, to test a misbehaving driver).
    public func set(_ instant: MonotonicInstant) { current.withLock { $0 = instant } }
}
