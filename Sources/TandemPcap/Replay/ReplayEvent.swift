// What-if events for a replay: at a capture time, a tunnel fails or recovers, a route is added or withdrawn, or
// a whole BGP update trace is applied. Read from a small text file, one event per line:
//
//   # time after the first packet, then the event
//   2.5s   tunnel a1 down
//   4s     tunnel a1 up
//   1s     route add 198.19.0.0/16 via to-cloud source static metric 10 weight 100
//   1.5s   route withdraw 198.19.0.0/16 via to-cloud source static
//   0s     trace ../shared/data/linx-updates-2014-v4.txt.gz via to-cloud
//
// Names are resolved later, against the configuration; here the file is only read and checked for form.

import TandemPacket
import TandemRouting

/// One what-if event.
public struct ReplayEvent: Hashable, Sendable, CustomStringConvertible {
    /// What happens.
    public enum Action: Hashable, Sendable {
        /// The tunnel's health checks fail (down-count failures at once) or succeed (up-count successes).
        case tunnel(name: String, up: Bool)
        /// A route is added (or replaced) through a connection.
        case addRoute(RoutePrefix, connection: String, source: RouteSource, metric: UInt32, weight: UInt8)
        /// A route is withdrawn.
        case withdrawRoute(RoutePrefix, connection: String, source: RouteSource)
        /// Every update of a trace file (`<time> <a|w> <prefix> <next hop>`) is applied as dynamic routes learned
        /// through the connection, in the trace's order.
        case trace(path: String, connection: String)
    }

    /// Nanoseconds after the first packet of the capture.
    public var offset: UInt64
    public var action: Action
    /// Where the event was written, for messages.
    public var line: Int

    public var description: String { "\(MonotonicInstant(nanoseconds: offset)) \(summary)" }

    /// The event without its time, as written in the file ("tunnel a1 down"): the report page's mark.
    public var summary: String {
        switch action {
        case .tunnel(let name, let up): "tunnel \(name) \(up ? "up" : "down")"
        case .addRoute(let prefix, let connection, let source, let metric, let weight):
            "route add \(prefix) via \(connection) source \(source) metric \(metric) weight \(weight)"
        case .withdrawRoute(let prefix, let connection, let source):
            "route withdraw \(prefix) via \(connection) source \(source)"
        case .trace(let path, let connection): "trace \(path) via \(connection)"
        }
    }

    /// Reads an events file's text. Errors name the file and line.
    public static func parse(_ text: String, file: String) throws(ReplayEventError) -> [ReplayEvent] {
        var events: [ReplayEvent] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard !words.isEmpty else { continue }
            func fail(_ message: String) -> ReplayEventError { ReplayEventError(file: file, line: line, message: message) }
            guard let offset = parseDuration(words[0]) else {
                throw fail("'\(words[0])' is not a time; write it like 2.5s, 250ms or 0s (after the first packet)")
            }
            guard words.count >= 2 else { throw fail("an event follows the time: tunnel, route or trace") }
            var options = Options(words: [])
            let action: Action
            switch words[1] {
            case "tunnel":
                guard words.count == 4, words[3] == "down" || words[3] == "up" else {
                    throw fail("write 'tunnel NAME down' or 'tunnel NAME up'")
                }
                action = .tunnel(name: words[2], up: words[3] == "up")
            case "route":
                guard words.count >= 6, words[2] == "add" || words[2] == "withdraw", words[4] == "via" else {
                    throw fail("write 'route add PREFIX via CONNECTION [source S] [metric M] [weight W]' or 'route withdraw PREFIX via CONNECTION [source S]'")
                }
                let prefix: RoutePrefix
                do { prefix = try RoutePrefix(words[3]) } catch { throw fail("'\(words[3])': \(error)") }
                options = Options(words: Array(words.dropFirst(6)))
                let source = try options.take("source", fail: fail) { RouteSource(name: $0) } ?? .static
                if words[2] == "add" {
                    let metric = try options.take("metric", fail: fail) { UInt32($0) } ?? 0
                    let weight = try options.take("weight", fail: fail) { UInt8($0).flatMap { $0 <= 100 ? $0 : nil } } ?? 100
                    action = .addRoute(prefix, connection: words[5], source: source, metric: metric, weight: weight)
                } else {
                    action = .withdrawRoute(prefix, connection: words[5], source: source)
                }
            case "trace":
                guard words.count == 5, words[3] == "via" else { throw fail("write 'trace FILE via CONNECTION'") }
                action = .trace(path: words[2], connection: words[4])
            default:
                throw fail("unknown event '\(words[1])'; events are tunnel, route and trace")
            }
            if let extra = options.remaining.first { throw fail("unexpected '\(extra)'") }
            events.append(ReplayEvent(offset: offset, action: action, line: line))
        }
        // Stable: events at the same time keep the file's order.
        return events.enumerated().sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }.map(\.element)
    }

    /// `key value` pairs after the fixed words of an event.
    private struct Options {
        var remaining: [String]
        init(words: [String]) { remaining = words }

        mutating func take<T>(
            _ key: String, fail: (String) -> ReplayEventError, _ parse: (String) -> T?
        ) throws(ReplayEventError) -> T? {
            guard let index = remaining.firstIndex(of: key) else { return nil }
            guard index + 1 < remaining.count, let value = parse(remaining[index + 1]) else {
                throw fail("'\(key)' needs a valid value")
            }
            remaining.removeSubrange(index...(index + 1))
            return value
        }
    }

    /// "2.5s", "250ms", "10us", "0" -> nanoseconds; `nil` for what is not a time, or one past what 64 bits of
    /// nanoseconds hold (584 years: "1e11s" would trap converting to `UInt64`).
    static func parseDuration(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9)]
        if text == "0" { return 0 }
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0, value.isFinite else { return nil }
            let nanoseconds = (value * scale).rounded()
            guard nanoseconds < 0x1p64 else { return nil }
            return UInt64(nanoseconds)
        }
        return nil
    }
}

/// A line of an events file that could not be read.
public struct ReplayEventError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): error: \(message)" }
}
