// The wall clock, for the times the event log prints (RFC 3339 in UTC).

#if canImport(Glibc)
import Glibc
#endif

/// The wall clock (CLOCK_REALTIME), for the times the event log prints.
public enum WallClock {
    /// A time since the Unix epoch.
    public struct Instant: Hashable, Sendable {
        public var seconds: Int64
        public var nanoseconds: Int64

        public init(seconds: Int64, nanoseconds: Int64 = 0) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        /// RFC 3339 in UTC with milliseconds: `2026-11-22T05:19:03.123Z`.
        public var rfc3339: String {
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            return Self.pad(parts.tm_year + 1900, 4) + "-" + Self.pad(parts.tm_mon + 1, 2) + "-"
                + Self.pad(parts.tm_mday, 2) + "T" + Self.timeOfDay(parts) + "."
                + Self.pad(Int32(nanoseconds / 1_000_000), 3) + "Z"
        }

        /// The time of day in the local time zone, `14:02:11`: what `systemctl status` prints its own times in.
        public var localTimeOfDay: String {
            var time = time_t(seconds)
            var parts = tm()
            localtime_r(&time, &parts)
            return Self.timeOfDay(parts)
        }

        private static func timeOfDay(_ parts: tm) -> String {
            pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
        }

        private static func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
    }

    /// Now.
    ///
    /// The corresponding C function is `clock_gettime` (CLOCK_REALTIME).
    public static func now() -> Instant {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Instant(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
}
