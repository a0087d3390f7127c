// The daemon's log: one line per event on standard error, prefixed "tandem:", so that a supervisor (systemd, a
// test script) can follow it. Lines are written whole with one write each, from any thread.

#if canImport(Glibc)
import Glibc
#endif

/// Where the daemon says what it does.
public struct EventLog: Sendable {
    /// How much to say.
    public enum Level: Int, Comparable, Sendable, CaseIterable {
        case debug, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        /// Parses `debug`, `info`, `warning` or `error`.
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { "\($0)" == name }) else { return nil }
            self = level
        }
    }

    /// The least severe level written.
    public var level: Level

    public init(level: Level = .info) { self.level = level }

    public func debug(_ message: @autoclosure () -> String) { write(.debug, message) }
    public func info(_ message: @autoclosure () -> String) { write(.info, message) }
    public func warning(_ message: @autoclosure () -> String) { write(.warning, message) }
    public func error(_ message: @autoclosure () -> String) { write(.error, message) }

    private func write(_ severity: Level, _ message: () -> String) {
        guard severity >= level else { return }
        let prefix =
            switch severity {
            case .debug: "tandem: debug: "
            case .info: "tandem: "
            case .warning: "tandem: warning: "
            case .error: "tandem: error: "
            }
        var line = prefix + message() + "\n"
        // One write per line: lines from different threads never interleave.
        line.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}
