// The daemon's log: one line per event on standard error, prefixed "tandem:", so that a supervisor (systemd, a
// test script) can follow it. A thin front over a swift-log `Logger` whose handler is ``TandemLogHandler``: lines
// are written whole, from any thread, and never waited for: a line standard error cannot take at once (a reader
// that stopped reading, a closed pipe) is dropped and counted in ``EventLog/droppedLines``. Machine-readable events
// (tunnel transitions, ...) are one JSON object per line after "tandem: event: ".

import Logging
import TandemJSON

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

        /// The swift-log level.
        public var loggerLevel: Logger.Level {
            switch self {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            case .error: .error
            }
        }
    }

    /// The swift-log logger the lines go through.
    public var logger: Logger
    /// Where its handler writes the lines.
    public let output: LogOutput

    /// The least severe level written.
    public var level: Level {
        get {
            switch logger.logLevel {
            case .trace, .debug: .debug
            case .info, .notice: .info
            case .warning: .warning
            case .error, .critical: .error
            }
        }
        set { logger.logLevel = newValue.loggerLevel }
    }

    /// A log on standard error.
    public init(level: Level = .info) { self.init(level: level, output: .standardError) }

    /// A log that writes its lines to `output` (a ``LogOutput/Buffer`` in tests).
    public init(level: Level = .info, output: LogOutput) {
        logger = Logger(label: "tandem") { label in
            TandemLogHandler(label: label, level: level.loggerLevel, output: output)
        }
        self.output = output
    }

    /// A log over any logger (one made through `LoggingSystem`, say).
    ///
    /// - Parameters:
    ///   - logger: The logger.
    ///   - output: Where its handler writes, for ``droppedLines``: standard error for a ``TandemLogHandler``
    ///     made with the default output.
    public init(logger: Logger, output: LogOutput = .standardError) {
        self.logger = logger
        self.output = output
    }

    /// The lines dropped so far because the output could not take them at once (standard error full or closed):
    /// the daemon's metrics report it.
    public var droppedLines: Int { output.droppedLines }

    public func debug(_ message: @autoclosure () -> String) { logger.debug("\(message())") }
    public func info(_ message: @autoclosure () -> String) { logger.info("\(message())") }
    public func warning(_ message: @autoclosure () -> String) { logger.warning("\(message())") }
    public func error(_ message: @autoclosure () -> String) { logger.error("\(message())") }

    /// Writes a machine-readable event: one line `tandem: event: {"time":"…","event":NAME,…}` (at info level).
    ///
    /// - Parameters:
    ///   - name: What happened, e.g. `tunnel-down`.
    ///   - fields: The event's figures, in order, after `time` and `event` (do not use those two names).
    public func event(_ name: String, _ fields: [(String, JSONValue)]) {
        event(name, fields, at: WallClock.now())
    }

    /// ``event(_:_:)`` at a given wall-clock time (for tests).
    public func event(_ name: String, _ fields: [(String, JSONValue)], at time: WallClock.Instant) {
        logger.info(
            "\(Self.eventJSON(name, fields, at: time))", metadata: [TandemLogHandler.eventKey: "1"])
    }

    /// The JSON object of an event: `time` (RFC 3339, UTC, milliseconds), `event`, then `fields`.
    public static func eventJSON(_ name: String, _ fields: [(String, JSONValue)], at time: WallClock.Instant)
        -> String
    {
        JSONValue.object([("time", .string(time.rfc3339)), ("event", .string(name))] + fields).json
    }
}
