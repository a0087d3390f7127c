import Foundation
import Logging
import TandemDaemon
import TandemJSON
import TandemLinux
import Testing

/// The log's line format (through swift-log), and the JSON of machine-readable events.
@Suite("event log")
struct EventLogTests {
    @Test func lineFormat() {
        let buffer = LogOutput.Buffer()
        let log = EventLog(level: .debug, output: buffer.output)
        log.debug("d")
        log.info("ready: userspace mode")
        log.warning("w")
        log.error("e")
        #expect(
            buffer.lines == [
                "tandem: debug: d\n", "tandem: ready: userspace mode\n", "tandem: warning: w\n", "tandem: error: e\n",
            ])
    }

    @Test func levels() {
        let buffer = LogOutput.Buffer()
        var log = EventLog(level: .warning, output: buffer.output)
        log.debug("no")
        log.info("no")
        log.warning("yes")
        log.error("yes")
        #expect(buffer.lines == ["tandem: warning: yes\n", "tandem: error: yes\n"])
        #expect(log.level == .warning)
        log.level = .info
        log.info("now")
        #expect(buffer.lines.last == "tandem: now\n")
        #expect(EventLog.Level(name: "debug") == .debug && EventLog.Level(name: "error") == .error)
        #expect(EventLog.Level(name: "verbose") == nil)
    }

    /// A log on a pipe nobody reads (a supervisor that hangs): logging goes on without waiting, and the lines
    /// that did not fit are counted; a closed pipe (SIGPIPE ignored, as `tandem run` does) costs lines, not the
    /// process.
    @Test func linesThatCannotBeWrittenAreCountedNotWaitedFor() throws {
        signal(SIGPIPE, SIG_IGN)
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.writeEnd.close() }
        let log = EventLog(level: .info, output: LogOutput(NonBlockingLineWriter(descriptor: pipe.writeEnd)))
        for index in 0..<5000 { log.info("line \(index) of a log nobody reads") }
        let dropped = log.droppedLines
        #expect(dropped > 0 && dropped < 5000)
        try pipe.readEnd.close()
        log.event("tunnel-down", [("tunnel", .string("a1"))])
        #expect(log.droppedLines == dropped + 1)
        #expect(LogOutput.Buffer().output.droppedLines == 0)
    }

    /// Any swift-log logger with the handler writes the same lines (what `tandem run` bootstraps).
    @Test func handlerThroughSwiftLog() {
        let buffer = LogOutput.Buffer()
        var logger = Logger(label: "lib") { TandemLogHandler(label: $0, level: .trace, output: buffer.output) }
        logger.trace("t")
        logger.notice("n")
        logger.critical("c")
        logger[metadataKey: "queue"] = "3"
        logger.info("m", metadata: ["a": "1"])
        #expect(buffer.lines == ["tandem: debug: t\n", "tandem: n\n", "tandem: error: c\n", "tandem: m a=1 queue=3\n"])
    }

    static let time = WallClock.Instant(seconds: 1_795_000_000, nanoseconds: 123_999_999)

    @Test func rfc3339() {
        #expect(Self.time.rfc3339 == "2026-11-18T11:06:40.123Z")
        #expect(WallClock.Instant(seconds: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(WallClock.Instant(seconds: 951_782_400, nanoseconds: 5_000_000).rfc3339 == "2000-02-29T00:00:00.005Z")
        let now = WallClock.now().rfc3339
        #expect(now.count == 24 && now.hasSuffix("Z"), "\(now)")
    }

    @Test func eventLine() {
        let buffer = LogOutput.Buffer()
        let log = EventLog(level: .info, output: buffer.output)
        log.event(
            "tunnel-down",
            [
                ("connection", "c1"), ("tunnel", "a1"), ("reason", "3 probes lost"), ("lost", 3),
                ("rtt", .number(0.012)), ("loss", 0.25), ("up", false), ("last", nil),
            ], at: Self.time)
        #expect(
            buffer.lines == [
                #"tandem: event: {"time":"2026-11-18T11:06:40.123Z","event":"tunnel-down","connection":"c1","#
                    + #""tunnel":"a1","reason":"3 probes lost","lost":3,"rtt":0.012,"loss":0.25,"up":false,"#
                    + #""last":null}"# + "\n"
            ])
        // Events are info: a log at warning leaves them out.
        let quiet = LogOutput.Buffer()
        EventLog(level: .warning, output: quiet.output).event("x", [])
        #expect(quiet.lines.isEmpty)
    }

    @Test func eventParses() throws {
        let fields: [(String, JSONValue)] = [("tunnel", "a\"1\n"), ("rtt", .number(0.0015))]
        let line = EventLog.eventJSON("probe", fields, at: Self.time)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(parsed["time"] as? String == "2026-11-18T11:06:40.123Z")
        #expect(parsed["event"] as? String == "probe")
        #expect(parsed["tunnel"] as? String == "a\"1\n")
        #expect((parsed["rtt"] as? Double).map { abs($0 - 0.0015) < 1e-12 } == true)
    }
}
