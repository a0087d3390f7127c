// The swift-log handler of `tandem run`: one line per message on standard error, in the format tests, scripts and
// supervisors read ("tandem: MESSAGE", "tandem: warning: MESSAGE", ...), each line written whole and never waited
// for (TandemLinux's NonBlockingLineWriter: a line standard error cannot take now is dropped and counted).

import Logging
import Synchronization
import TandemLinux

/// Where finished log lines go: standard error by default, a buffer in tests.
public struct LogOutput: Sendable {
    /// Takes one line, its newline included.
    public let write: @Sendable (String) -> Void
    private let dropped: @Sendable () -> Int

    /// An output that counts no dropped lines.
    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.init(write, droppedLines: { 0 })
    }

    /// - Parameters:
    ///   - write: Takes one line, its newline included.
    ///   - droppedLines: How many lines `write` dropped so far.
    public init(_ write: @escaping @Sendable (String) -> Void, droppedLines: @escaping @Sendable () -> Int) {
        self.write = write
        dropped = droppedLines
    }

    /// An output through a writer that never blocks: a line the descriptor cannot take now is dropped.
    public init(_ writer: NonBlockingLineWriter) {
        self.init({ writer.write($0) }, droppedLines: { writer.droppedLines })
    }

    /// The lines dropped so far because they could not be written at once (see ``NonBlockingLineWriter``).
    public var droppedLines: Int { dropped() }

    /// Standard error, one line at a time, never waiting (a ``NonBlockingLineWriter``): a full pipe, a stopped
    /// terminal or a closed reader cost the lines that do not fit, counted in ``droppedLines``, never a stall of
    /// the thread that logs. Lines from different threads never interleave.
    ///
    /// The corresponding C functions are `send` (MSG_DONTWAIT) or `write`, by what standard error is.
    public static let standardError = LogOutput(NonBlockingLineWriter(descriptor: .standardError))

    /// Keeps the lines in memory (for tests).
    public final class Buffer: Sendable {
        private let storage = Mutex<[String]>([])
        public init() {}
        /// The lines so far, newlines included.
        public var lines: [String] { storage.withLock { $0 } }
        /// An output that appends here.
        public var output: LogOutput { LogOutput { line in self.storage.withLock { $0.append(line) } } }
    }
}

/// The `LogHandler` of the daemon: writes `tandem: MESSAGE` lines.
///
/// Levels map to the line prefixes: trace and debug to `tandem: debug: `, info and notice to `tandem: `, warning to
/// `tandem: warning: `, error and critical to `tandem: error: `. Metadata, if any, follow the message as
/// ` key=value` pairs sorted by key. A message whose metadata has ``eventKey`` is a machine-readable event (its
/// message is a JSON object): it gets the prefix `tandem: event: `.
public struct TandemLogHandler: LogHandler {
    /// The metadata key that marks an event line (see ``EventLog/event(_:_:)``); it is not printed.
    public static let eventKey = "tandem.event"

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let output: LogOutput

    /// - Parameters:
    ///   - label: The logger's label (not printed: every line says "tandem").
    ///   - level: The least severe level written.
    ///   - output: Where the lines go.
    public init(label: String, level: Logger.Level = .info, output: LogOutput = .standardError) {
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let given = event.metadata { all.merge(given) { _, new in new } }
        let isEvent = all.removeValue(forKey: Self.eventKey) != nil
        output.write(Self.line(level: event.level, message: "\(event.message)", metadata: all, isEvent: isEvent))
    }

    /// The line for one message, newline included.
    public static func line(
        level: Logger.Level, message: String, metadata: Logger.Metadata = [:], isEvent: Bool = false
    ) -> String {
        let prefix =
            if isEvent {
                "tandem: event: "
            } else {
                switch level {
                case .trace, .debug: "tandem: debug: "
                case .info, .notice: "tandem: "
                case .warning: "tandem: warning: "
                case .error, .critical: "tandem: error: "
                }
            }
        var line = prefix + message
        for key in metadata.keys.sorted() { line += " \(key)=\(metadata[key]!)" }
        return line + "\n"
    }
}
